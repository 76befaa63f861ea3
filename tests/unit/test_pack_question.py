"""A pack for a question: within every budget, the likely file whole when it fits, sliced when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from kimicode.repo.pack import PackOptions, pack_repository
from kimicode.tokens import TokenCounter
from tests.repos import make_repo


def _module(n: int) -> str:
    return "import os\n\n\n" + "".join(
        f"def task_{i}(path):\n    '''Task {i}.'''\n" + "".join(f"    value_{j} = os.path.join(path, '{j}')\n" for j in range(20))
        + "    return value_1\n\n\n" for i in range(n)
    ) + "def rotate_logs(path):\n    raise OSError('log rotation failed: disk quota exceeded')\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    files = {"svc/jobs.py": _module(50), "svc/main.py": "from svc import jobs\n\ndef main():\n    jobs.task_1('.')\n",
             "README.md": "# svc\n\nRuns jobs.\n"}
    files.update({f"svc/util{i}.py": f"def helper_{i}(x):\n    return x * {i}\n" for i in range(30)})
    make_repo(root, files)
    return root


QUESTION = "OSError: log rotation failed: disk quota exceeded"


@pytest.mark.parametrize("budget", [700, 1_500, 4_000, 30_000])
def test_a_question_pack_never_exceeds_its_budget(repo: Path, tmp_path: Path, budget: int) -> None:
    result = pack_repository(repo, PackOptions(budget=budget, query=QUESTION), tmp_path / "cache")
    assert TokenCounter().count(result.text) <= budget
    assert result.report.total_tokens <= budget


def test_the_likely_file_is_whole_when_it_fits_and_sliced_when_not(repo: Path, tmp_path: Path) -> None:
    roomy = pack_repository(repo, PackOptions(budget=30_000, query=QUESTION), tmp_path / "cache").report
    assert roomy.ranking[0] == "svc/jobs.py" and "svc/jobs.py" in dict(roomy.full)
    tight = pack_repository(repo, PackOptions(budget=4_000, query=QUESTION), tmp_path / "cache")
    assert "svc/jobs.py" in dict(tight.report.slices)
    assert "raise OSError('log rotation failed: disk quota exceeded')" in tight.text
    explained = {path: (rank, reasons) for path, rank, _, reasons, _ in tight.report.explain}
    assert explained["svc/jobs.py"][0] == 1 and any(r.startswith("words ") for r in explained["svc/jobs.py"][1])


def test_without_a_question_the_order_is_structural(repo: Path, tmp_path: Path) -> None:
    report = pack_repository(repo, PackOptions(budget=30_000), tmp_path / "cache").report
    assert report.slices == []
    assert report.ranking.index("svc/main.py") < report.ranking.index("svc/util7.py")  # an entry point first
    assert ("svc/main.py", 1, 0.0, ["entry point", "recently changed"], []) in report.explain


def test_the_likely_file_is_whole_when_it_nearly_fills_the_budget(tmp_path: Path) -> None:
    # the tree of the other files is worth less than the file the question is about
    root = tmp_path / "svc"
    files = {"svc/jobs.py": _module(50), "svc/main.py": "from svc import jobs\n\ndef main():\n    jobs.task_1('.')\n"}
    files.update({f"docs/page{i}.md": "Some words about nothing in particular.\n" * 40 for i in range(20)})
    make_repo(root, files)
    whole = TokenCounter().count((root / "svc/jobs.py").read_text())
    budget = int(whole * 1.05) + 100  # the file, its frame, the header and a little for the tree
    result = pack_repository(root, PackOptions(budget=budget, query=QUESTION), tmp_path / "cache")
    assert "svc/jobs.py" in dict(result.report.full)
    assert result.report.total_tokens <= budget


def test_a_sliced_pack_is_the_same_text_from_the_cache(repo: Path, tmp_path: Path) -> None:
    first = pack_repository(repo, PackOptions(budget=4_000, query=QUESTION), tmp_path / "cache")
    again = pack_repository(repo, PackOptions(budget=4_000, query=QUESTION), tmp_path / "cache")
    sliced = next(b for b in first.pack.blocks if b.mode == "slice")
    assert sliced.shown.startswith("lines ") and f'shown="{sliced.shown}"' in first.text
    assert again.report.from_cache and again.text == first.text


def _helper(i: int) -> str:
    """A small file the question matches whose token count its byte size misjudges: runs of spaces
    make fewer tokens than their bytes suggest, digits more."""
    if i % 2:
        padding = "".join(f"#{' ' * 120}disk\n" for _ in range(40))
    else:
        padding = "TABLE = [" + ", ".join(str(7919 * k % 100003) for k in range(400)) + "]\n"
    return f"def rotate_{i}(path):\n    '''log rotation {i} when the disk quota is exceeded'''\n    return path\n\n" + padding


@pytest.mark.parametrize("budget", [4_000, 8_000, 16_000])
def test_a_question_pack_does_not_depend_on_what_the_cache_holds(tmp_path: Path, budget: int) -> None:
    # The texts an earlier pack made are in the per-file cache; they used to be counted exactly
    # where a cold pack estimated, so the same question gave another pack after other questions.
    root = tmp_path / "svc"
    files = {"svc/jobs.py": _module(50), "svc/main.py": "from svc import jobs\n\ndef main():\n    jobs.task_1('.')\n"}
    files.update({f"svc/util{i}.py": _helper(i) for i in range(40)})
    make_repo(root, files)
    cold = pack_repository(root, PackOptions(budget=budget, query=QUESTION), tmp_path / "cold")
    pack_repository(root, PackOptions(budget=400_000, query="which helpers build the table"), tmp_path / "warm")
    warm = pack_repository(root, PackOptions(budget=budget, query=QUESTION), tmp_path / "warm")
    assert not warm.report.from_cache
    assert warm.text == cold.text
