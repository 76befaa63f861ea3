"""The deterministic floor: what code carries verbatim out of compressed turns, whatever a model says.

Three kinds of line are too costly to lose and too easy for a summarizer to paraphrase
away: the user's constraints ("never touch the migrations"), file paths, and error
messages. They are found here with plain patterns, quoted exactly, and deduplicated by a
key (the normalised sentence, the path, the error's fingerprint). The same module also
writes the extractive fallback used when the model's summary is missing or invalid.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Protocol

MAX_SENTENCE = 400  # characters; a longer "constraint" is a paragraph, not a rule
MAX_ERROR_LINE = 300
PER_TURN = {"constraint": 10, "file": 40, "error": 8}  # a pasted log must not flood the ledger
DIGEST_CHARS = 160

_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'`(\[])")
_CONSTRAINT_START = re.compile(
    r"^(please\s+)?(never|always|don'?t|do not|avoid|make sure|ensure|only|keep|stick to|no more than|at most|at least|use only)\b",
    re.IGNORECASE,
)
_CONSTRAINT_ANY = re.compile(
    r"\b(must|mustn'?t|must not|shall not|should never|should always|is not allowed|are not allowed|"
    r"is required|are required|is forbidden|under no circumstances|never|"
    r"we (?:always |only )?use|we don'?t use|I (?:always )?prefer|I'd rather|prefer \w+ (?:over|to))\b",
    re.IGNORECASE,
)
_CONSTRAINT_LABEL = re.compile(r"^(constraint|rule|requirement)s?\s*:", re.IGNORECASE)

_EXTENSIONS = (
    "py pyi js jsx mjs cjs ts tsx go rs java kt kts scala c h cc cpp cxx hpp hh cs rb php swift m mm "
    "sh bash zsh fish ps1 sql md rst txt toml yaml yml json jsonc ini cfg conf env lock xml html htm css "
    "scss less vue svelte proto graphql gradle cmake mk dockerfile tf hcl lua pl r jl dart ex exs erl hs "
    "ml clj ipynb csv tsv"
).split()
_PATH = re.compile(
    r"(?<![\w@/.:-])"  # not inside a URL, an e-mail or a longer word
    r"((?:~|\.{1,2})?/?(?:[\w.-]+/)*[\w-][\w.-]*\.(?:" + "|".join(_EXTENSIONS) + r"))"
    r"(?::\d+(?::\d+)?)?"  # path:line[:col] keeps only the path
    r"(?![\w/-])",
    re.IGNORECASE,
)
_DIR_PATH = re.compile(r"(?<![\w@/.:-])((?:[\w.-]+/){2,}[\w.-]+)(?![\w/])")  # a/b/c without extension
_NOT_PATH = re.compile(r"^(e\.g|i\.e|etc|vs|v?\d+(\.\d+)+)\b", re.IGNORECASE)

_ERROR_LINE = re.compile(
    r"^\s*("
    r"(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Fault|Failure)\b(?::|\s*$|\s+\S)"  # ValueError: ..., pkg.FooError: ...
    r"|error(?:\[\w+\])?:\s+\S"  # rustc, gcc, clang, tsc "error TS..."
    r"|error\s+TS\d+"
    r"|fatal:\s"
    r"|panic:\s"
    r"|npm ERR!\s"
    r"|E\s{2,}\w"  # pytest's E lines
    r"|FAILED\s+\S"
    r"|Segmentation fault"
    r"|Uncaught\s"
    r"|Traceback \(most recent call last\)"
    r"|.*\bError:\s+\S"  # "src/a.ts(3,5): Error: ..." and friends
    r")"
)
_ERROR_SKIP = re.compile(r"^\s*Traceback \(most recent call last\)")

_DECISION = re.compile(
    r"\b(decided|decision|we'?ll (?:use|go with|keep)|we will (?:use|go with|keep)|let'?s (?:use|go with|keep)|"
    r"agreed|going with|chose|settled on|the plan is)\b",
    re.IGNORECASE,
)


class TextTurn(Protocol):
    id: int
    role: str
    text: str


@dataclass(frozen=True)
class Found:
    kind: str  # constraint | file | error
    text: str  # verbatim
    turn: int
    key: str  # what makes two findings the same item
    fingerprint: str = ""  # errors only


def _outside_fences(text: str) -> Iterable[str]:
    """Lines of prose: code and logs inside ``` fences state no constraints."""
    inside = False
    for line in text.splitlines():
        if _FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            yield line


def sentences(text: str) -> Iterable[str]:
    for line in _outside_fences(text):
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).strip()  # list markers are not part of the rule
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            if sentence:
                yield sentence


def is_constraint(sentence: str) -> bool:
    if len(sentence) > MAX_SENTENCE or len(sentence) < 8 or sentence.endswith("?"):
        return False
    return bool(_CONSTRAINT_LABEL.match(sentence) or _CONSTRAINT_START.match(sentence) or _CONSTRAINT_ANY.search(sentence))


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w/.:-]+", " ", text.lower()).split())


def paths_in(text: str) -> list[str]:
    found: list[str] = []
    for pattern in (_PATH, _DIR_PATH):
        for match in pattern.finditer(text):
            path = match.group(1).rstrip(".")
            if _NOT_PATH.match(path) or "://" in path or path.count(".") > 6:
                continue
            if pattern is _DIR_PATH and not re.search(r"[A-Za-z]", path.replace("/", "")):
                continue  # 1/2/3 is a fraction or a date, not a path
            if path not in found and not any(other.endswith("/" + path) for other in found):
                found.append(path)
    return found


_FP_RULES = (
    (re.compile(r"0x[0-9a-fA-F]+"), "<addr>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:[\w.~-]*[/\\])+[\w.-]+"), "<path>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\b[0-9a-f]{8,}\b"), "<hex>"),
    (re.compile(r"\b\d+(\.\d+)?\b"), "<n>"),
)


def error_signature(line: str) -> str:
    """The error with what varies between runs (paths, numbers, addresses, quoted values) masked."""
    text = line.strip()
    for pattern, mask in _FP_RULES:
        text = pattern.sub(mask, text)
    return " ".join(text.split())


def error_fingerprint(line: str) -> str:
    return hashlib.sha1(error_signature(line).encode()).hexdigest()[:10]


def _clip(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_ERROR_LINE else line[: MAX_ERROR_LINE - 3] + "..."


def errors_in(text: str) -> list[str]:
    return [_clip(line) for line in text.splitlines() if _ERROR_LINE.match(line) and not _ERROR_SKIP.match(line)]


def error_lines(text: str) -> list[tuple[str, str]]:
    """(verbatim line, fingerprint) of each distinct error in ``text``.

    The memory's parsers (kimicode.memory.fingerprint) know tracebacks and test reports and
    give the signature the error index uses, so the state and `kimicode memory` name a bug
    alike; the patterns above catch what they do not parse (compiler lines, say).
    """
    from kimicode.memory.fingerprint import error_shapes

    found: list[tuple[str, str]] = []
    seen_lines: set[str] = set()
    for shape in error_shapes(text):
        lines = [line for line in shape.excerpt.splitlines() if line.strip()]
        line = next((x for x in reversed(lines) if shape.error_type.split(".")[-1] in x), lines[-1] if lines else "")
        if line and shape.signature not in {f for _, f in found}:
            found.append((_clip(line), shape.signature))
            seen_lines.add(_clip(line))
    for line in errors_in(text):
        fingerprint = error_fingerprint(line)
        if line not in seen_lines and fingerprint not in {f for _, f in found}:
            found.append((line, fingerprint))
            seen_lines.add(line)
    return found


def extract(turns: Iterable[TextTurn]) -> list[Found]:
    """Constraints (from the user), paths (from everyone) and errors (from the user and tools)."""
    found: list[Found] = []
    for turn in turns:
        if turn.role == "note":
            continue
        per: dict[str, int] = {}

        def add(item: Found, per: dict[str, int] = per) -> None:  # bound now: called within this turn only
            if per.get(item.kind, 0) < PER_TURN[item.kind]:
                per[item.kind] = per.get(item.kind, 0) + 1
                found.append(item)

        if turn.role == "user":
            for sentence in sentences(turn.text):
                if is_constraint(sentence):
                    add(Found("constraint", sentence, turn.id, normalise(sentence)))
        if turn.role in ("user", "output", "file", "tool"):
            for line, fingerprint in error_lines(turn.text):
                add(Found("error", line, turn.id, fingerprint, fingerprint))
        for path in paths_in(turn.text):
            add(Found("file", path, turn.id, path))
    return found


def digest(turn: TextTurn) -> str:
    """The extractive fallback for one turn: its first sentence, shortened."""
    first = next(iter(sentences(turn.text)), "") or " ".join(turn.text.split())
    if len(first) > DIGEST_CHARS:
        first = first[: DIGEST_CHARS - 3].rstrip() + "..."
    return first


def decisions(turns: Iterable[TextTurn]) -> list[tuple[int, str]]:
    """Sentences that record a decision, for the fallback when the model cannot summarize."""
    found: list[tuple[int, str]] = []
    for turn in turns:
        if turn.role not in ("user", "assistant"):
            continue
        for sentence in sentences(turn.text):
            if _DECISION.search(sentence) and len(sentence) <= MAX_SENTENCE:
                found.append((turn.id, sentence))
    return found
