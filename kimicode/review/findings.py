"""Findings: the model's JSON answer, validated; merged across parts; rendered.

The model is asked for ``{"findings": [{"file", "line", "severity", "message", "suggestion"}]}``.
Parsing is forgiving about the wrapping (a code fence, a sentence around the object, a bare
list, a ``<think>`` block some local models put in the content) and strict about the items:
an item without a file or message, or with a severity we cannot map, makes the whole answer
invalid, because silently dropping it could drop the one error that should stop the commit.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

SEVERITIES = ("error", "warning", "info")  # most severe first
RANK = {name: index for index, name in enumerate(SEVERITIES)}
# Words models use for the same three levels.
_SYNONYMS = {
    "critical": "error", "blocker": "error", "fatal": "error", "high": "error", "bug": "error", "err": "error",
    "major": "warning", "medium": "warning", "warn": "warning", "moderate": "warning",
    "minor": "info", "low": "info", "note": "info", "nit": "info", "style": "info", "suggestion": "info",
    "hint": "info", "information": "info", "informational": "info",
}
MAX_FINDINGS = 200  # per answer; a longer list is a model in a loop, not a review
MAX_TEXT = 2_000  # characters of a message or suggestion

_FENCE = re.compile(r"^```[\w-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)
_THINK = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # keep a model's text from driving the terminal


class InvalidFindings(ValueError):
    """The answer is not the JSON we asked for; ``str()`` says what is wrong, in one line."""


@dataclass(frozen=True)
class Finding:
    file: str
    line: int | None
    severity: str  # one of SEVERITIES
    message: str
    suggestion: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _json_text(answer: str) -> str:
    text = _THINK.sub("", answer).strip()
    fenced = _FENCE.match(text)
    if fenced:
        return fenced.group(1).strip()
    if text[:1] in ("{", "["):
        return text
    # A sentence before or after the object: take the outermost braces.
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        return text[start : end + 1]
    return text


def _clean(value: Any, limit: int = MAX_TEXT) -> str:
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _severity(value: Any, index: int) -> str:
    word = str(value or "").strip().lower()
    severity = word if word in RANK else _SYNONYMS.get(word)
    if severity is None:
        raise InvalidFindings(f"finding {index}: severity must be error, warning or info, not {value!r}")
    return severity


def _line(value: Any, index: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidFindings(f"finding {index}: line must be a number or null")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise InvalidFindings(f"finding {index}: line must be a whole number >= 0 or null, not {value!r}")
    return value or None


def _finding(item: Any, index: int) -> Finding:
    if not isinstance(item, dict):
        raise InvalidFindings(f"finding {index} is not an object")
    path = item.get("file") or item.get("path")
    if not isinstance(path, str) or not path.strip():
        raise InvalidFindings(f"finding {index} has no file")
    message = item.get("message")
    if not isinstance(message, str) or not message.strip():
        raise InvalidFindings(f"finding {index} has no message")
    suggestion = item.get("suggestion")
    return Finding(
        file=_clean(path, 500).removeprefix("./").removeprefix("b/"),
        line=_line(item.get("line"), index),
        severity=_severity(item.get("severity"), index),
        message=_clean(message),
        suggestion=_clean(suggestion) if isinstance(suggestion, str) else "",
    )


def parse_findings(answer: str) -> list[Finding]:
    """The findings in a model's answer; raises InvalidFindings."""
    if not answer.strip():
        raise InvalidFindings("the answer was empty")
    try:
        data = json.loads(_json_text(answer))
    except json.JSONDecodeError as exc:
        raise InvalidFindings(f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    items = data.get("findings") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InvalidFindings('the answer has no "findings" list')
    return [_finding(item, index) for index, item in enumerate(items[:MAX_FINDINGS], start=1)]


def merge(groups: Iterable[Iterable[Finding]]) -> list[Finding]:
    """One list from every part's findings: duplicates dropped, sorted by file, line, severity."""
    seen: set[tuple[str, int | None, str, str]] = set()
    merged: list[Finding] = []
    for group in groups:
        for finding in group:
            key = (finding.file, finding.line, finding.severity, " ".join(finding.message.lower().split()))
            if key not in seen:
                seen.add(key)
                merged.append(finding)
    return sorted(merged, key=lambda f: (f.file, f.line or 0, RANK[f.severity], f.message))


def blocking(findings: Iterable[Finding], block_on: str) -> list[Finding]:
    """Findings at or above ``block_on``."""
    return [f for f in findings if RANK[f.severity] <= RANK[block_on]]


def tally(findings: Iterable[Finding]) -> str:
    """"2 errors, 1 warning" (levels with none are left out)."""
    counts = {name: 0 for name in SEVERITIES}
    for finding in findings:
        counts[finding.severity] += 1
    words = {"error": "error", "warning": "warning", "info": "note"}
    parts = [f"{n} {words[name]}{'s' if n != 1 else ''}" for name, n in counts.items() if n]
    return ", ".join(parts) or "no findings"


def render_text(findings: list[Finding]) -> str:
    """Grouped by file, one line per finding, its suggestion indented below."""
    lines: list[str] = []
    current: str | None = None
    width = max((len(str(f.line or "")) for f in findings), default=1)
    for finding in findings:
        if finding.file != current:
            if current is not None:
                lines.append("")
            lines.append(finding.file)
            current = finding.file
        where = str(finding.line) if finding.line else "-"
        lines.append(f"  {where:>{width}}  {finding.severity:<7}  {finding.message}")
        if finding.suggestion:
            pad = " " * (width + 13)
            lines.append(f"{pad}suggestion: {finding.suggestion}")
    return "\n".join(lines)
