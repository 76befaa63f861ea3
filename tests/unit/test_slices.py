"""Slices of large files: the definitions that matter in full, the rest marked and outlined."""

from __future__ import annotations

from pathlib import Path

from kimicode.repo.cache import PackCache
from kimicode.repo.contents import Contents
from kimicode.repo.files import list_files
from kimicode.repo.outline import outline
from kimicode.repo.query import parse_question
from kimicode.repo.scan import scan_files
from kimicode.repo.slices import MARK, Slicer, focus_for, make_slice
from kimicode.tokens import TokenCounter
from tests.repos import make_repo


def _filler(name: str, n: int = 12) -> str:
    body = "\n".join(f"        total += {i} * step  # bookkeeping line {i}" for i in range(n))
    return f"    def {name}(self, step):\n        total = 0\n{body}\n        return total\n\n"


SOURCE = (
    '"""Printers."""\nimport math\n\n\nclass LatexPrinter:\n    """Turns expressions into LaTeX."""\n\n    precedence = 3\n\n'
    + "".join(_filler(f"_print_Other{i}") for i in range(10))
    + "    def _print_SingularityFunction(self, expr, exp=None):\n"
    + "        shift = self._shift_text(expr)\n        return r'\\langle %s \\rangle' % shift\n\n"
    + "".join(_filler(f"_print_More{i}") for i in range(10))
    + "    def _shift_text(self, expr):\n        return str(expr.args[1])\n\n"
    + "".join(_filler(f"_print_Last{i}") for i in range(10))
)


def _slice(question: str, frame_lines: tuple[int, ...] = ()):  # type: ignore[no-untyped-def]
    spans = outline("printing/latex.py", SOURCE).spans
    return make_slice(SOURCE, spans, focus_for(parse_question(question), {}, frame_lines))


def test_slice_shows_the_matching_definition_its_callee_and_class_header() -> None:
    piece = _slice("_print_SingularityFunction() got an unexpected keyword argument 'exp'")
    assert piece is not None
    assert "_print_SingularityFunction" in piece.chosen
    text = piece.text
    assert "def _print_SingularityFunction(self, expr, exp=None):" in text
    assert "def _shift_text(self, expr):\n        return str(expr.args[1])" in text  # a callee, in full
    assert "class LatexPrinter:" in text and "import math" in text  # class header and file head
    assert "total += 3 * step" not in text  # unrelated bodies are left out
    lines = SOURCE.split("\n")
    for start, end in piece.shown:  # what is shown is the file's own lines, verbatim
        assert "\n".join(lines[start - 1:end]) in text
    gaps = [line for line in text.split("\n") if line.startswith(f"{MARK} lines ")]
    assert gaps and all("omitted" in g for g in gaps)
    assert f"{MARK}   " in text and "def _print_Other3(self, step)" in text  # omitted definitions are listed
    assert [piece.line_of[i] for i, line in enumerate(text.split("\n")) if line.startswith(MARK)] == [None] * sum(
        line.startswith(MARK) for line in text.split("\n"))


def test_a_traceback_line_picks_its_definition() -> None:
    line = SOURCE.split("\n").index("    def _print_More4(self, step):") + 3
    piece = _slice("it crashes somewhere", (line,))
    assert piece is not None and piece.chosen[0] == "_print_More4"


def test_no_slice_when_nothing_matches_or_most_of_the_file_would_show() -> None:
    assert _slice("database connection pooling") is None
    small = "import os\n\n\ndef load(path):\n" + "    x = os.path\n" * 20 + "\n\ndef save(path):\n    pass\n"
    focus = focus_for(parse_question("load fails"), {}, ())
    assert make_slice(small, outline("io.py", small).spans, focus) is None  # it would show most of the file


def test_slicer_redacts_and_reports_file_lines(tmp_path: Path) -> None:
    secret = 'AWS_SECRET = "AKIAIOSFODNN7EXAMPLE"'
    source = SOURCE.replace("    precedence = 3\n", f"    precedence = 3\n    {secret}\n")
    root = tmp_path / "repo"
    make_repo(root, {"printing/latex.py": source})
    cache = PackCache(tmp_path / "cache.sqlite")
    record = scan_files(root, list_files(root).files, cache).records[0]
    focus = focus_for(parse_question("_print_SingularityFunction fails"), {}, ())
    slicer = Slicer(Contents(root, cache, TokenCounter(), "xml"), {record.path: focus})
    block = slicer.block(record)
    assert block.startswith('<file path="printing/latex.py" mode="slice" shown="lines 1-')
    assert "AKIAIOSFODNN7EXAMPLE" not in block and "[REDACTED:" in block  # the class header is shown
    secret_line = source.split("\n").index(f"    {secret}") + 1
    assert [f.line for f in slicer.findings(record)] == [secret_line]
    assert slicer.tokens(record) == TokenCounter().count(block)
    assert Slicer(Contents(root, cache, TokenCounter(), "xml"), {}).get(record) is None  # not a likely file
    cache.close()
