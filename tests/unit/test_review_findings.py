"""The model's findings: parsing and validation, merging, blocking, rendering."""

from __future__ import annotations

import json

import pytest

from kimicode.review.findings import (
    MAX_FINDINGS,
    Finding,
    InvalidFindings,
    blocking,
    merge,
    parse_findings,
    render_text,
    tally,
)

ONE = {"file": "src/app.py", "line": 12, "severity": "error", "message": "Divides by zero.", "suggestion": "Guard it."}


def test_plain_object() -> None:
    assert parse_findings(json.dumps({"findings": [ONE]})) == [Finding("src/app.py", 12, "error", "Divides by zero.", "Guard it.")]


@pytest.mark.parametrize("wrap", [
    "```json\n{}\n```",
    "```\n{}\n```",
    "Here is my review:\n{}\nThanks.",
    "<think>the diff divides by zero</think>\n{}",
])
def test_wrappers_are_tolerated(wrap: str) -> None:
    answer = wrap.replace("{}", json.dumps({"findings": [ONE]}))
    assert parse_findings(answer)[0].line == 12


def test_a_bare_list_and_an_empty_list() -> None:
    assert len(parse_findings(json.dumps([ONE]))) == 1
    assert parse_findings('{"findings": []}') == []


def test_severity_synonyms_and_case() -> None:
    items = [dict(ONE, severity=s) for s in ("CRITICAL", "Medium", "nit", "Warning")]
    assert [f.severity for f in parse_findings(json.dumps({"findings": items}))] == ["error", "warning", "info", "warning"]


def test_lines_are_normalised() -> None:
    items = [dict(ONE, line=v) for v in ("7", 8.0, None, 0, "")]
    assert [f.line for f in parse_findings(json.dumps({"findings": items}))] == [7, 8, None, None, None]


def test_paths_lose_diff_prefixes_and_text_is_cleaned() -> None:
    item = dict(ONE, file="b/src/app.py", message="bad\x1b[31m colour", suggestion=None)
    found = parse_findings(json.dumps({"findings": [item]}))[0]
    assert found.file == "src/app.py"
    assert "\x1b" not in found.message
    assert found.suggestion == ""


@pytest.mark.parametrize("answer, why", [
    ("", "empty"),
    ("I found no problems.", "not valid JSON"),
    ('{"findings": [', "not valid JSON"),
    ('{"results": []}', 'no "findings" list'),
    (json.dumps({"findings": [dict(ONE, severity="catastrophic")]}), "severity"),
    (json.dumps({"findings": [dict(ONE, message="")]}), "no message"),
    (json.dumps({"findings": [dict(ONE, file=None)]}), "no file"),
    (json.dumps({"findings": [dict(ONE, line=-3)]}), "line"),
    (json.dumps({"findings": [dict(ONE, line=True)]}), "line"),
    (json.dumps({"findings": ["src/app.py:12 bad"]}), "not an object"),
])
def test_invalid_answers_say_why(answer: str, why: str) -> None:
    with pytest.raises(InvalidFindings, match=why):
        parse_findings(answer)


def test_a_runaway_list_is_cut() -> None:
    items = [dict(ONE, line=i) for i in range(1, MAX_FINDINGS + 50)]
    assert len(parse_findings(json.dumps({"findings": items}))) == MAX_FINDINGS


def test_merge_drops_duplicates_and_sorts() -> None:
    a = Finding("b.py", 3, "warning", "Leaks a file handle.")
    b = Finding("a.py", 9, "info", "Could be simpler.")
    c = Finding("a.py", 2, "error", "Wrong operator.")
    same_as_a = Finding("b.py", 3, "warning", "leaks a  file handle.")
    assert merge([[a, b], [c, same_as_a]]) == [c, b, a]


def test_blocking_honours_the_level() -> None:
    found = [Finding("a", 1, "error", "e"), Finding("a", 2, "warning", "w"), Finding("a", 3, "info", "i")]
    assert [f.severity for f in blocking(found, "error")] == ["error"]
    assert [f.severity for f in blocking(found, "warning")] == ["error", "warning"]
    assert len(blocking(found, "info")) == 3
    assert tally(found) == "1 error, 1 warning, 1 note"
    assert tally([]) == "no findings"


def test_render_groups_by_file() -> None:
    text = render_text([
        Finding("a.py", 2, "error", "Wrong operator.", "Use ==."),
        Finding("a.py", 10, "info", "Could be simpler."),
        Finding("b.py", None, "warning", "No tests."),
    ])
    lines = text.split("\n")
    assert lines[0] == "a.py"
    assert lines[1].split() == ["2", "error", "Wrong", "operator."]
    assert lines[2].strip() == "suggestion: Use ==."
    assert lines[4] == ""
    assert lines[5] == "b.py"
    assert lines[6].split()[:2] == ["-", "warning"]
