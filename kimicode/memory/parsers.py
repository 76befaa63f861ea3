"""Find errors in tool output: one small line-based parser per language or tool.

Each parser reads the cleaned lines (kimicode.memory.normalize.clean_text) and returns
the errors it recognises with their raw frames, innermost frame first, and the span of
lines they came from. Nothing is normalized here: that is fingerprint.py's job, so the
parsers stay simple and the rules that decide what is "the same error" live in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass(frozen=True)
class RawFrame:
    path: str
    line: int | None
    function: str


@dataclass(frozen=True)
class RawError:
    language: str
    error_type: str
    message: str
    frames: tuple[RawFrame, ...]  # innermost first
    start: int  # first line (index into the lines)
    end: int  # one past the last line
    key: str = ""  # lets one parser's result replace another's (pytest test names)


def _int(value: str | None) -> int | None:
    return int(value) if value else None


# -- Python tracebacks ---------------------------------------------------------------------

_PY_START = re.compile(r"(?P<indent>\s*)(?:.*\s)?Traceback \(most recent call last\):\s*$")
_PY_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+?))?\s*$')
_PY_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")
_PY_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def parse_python(lines: Sequence[str]) -> list[RawError]:
    errors: list[RawError] = []
    i = 0
    while i < len(lines):
        start = _PY_START.match(lines[i])
        if not start:
            i += 1
            continue
        indent = len(start.group("indent"))
        frames: list[RawFrame] = []
        j = i + 1
        found: RawError | None = None
        while j < len(lines) and j - i < 400:
            line = lines[j]
            frame = _PY_FRAME.match(line)
            if frame:
                frames.append(RawFrame(frame["path"], _int(frame["line"]), frame["func"] or ""))
            elif line.strip() and len(line) - len(line.lstrip()) <= indent:
                exc = _PY_EXC.match(line[indent:].rstrip())
                if exc and frames:
                    found = RawError("python", exc["type"], exc["msg"] or "", tuple(reversed(frames)), i, j + 1)
                break
            j += 1
        if found:
            # a cause shown before the exception it led to: keep only the final one
            after = next((lines[k] for k in range(j + 1, min(j + 4, len(lines))) if lines[k].strip()), "")
            if not after.strip().startswith(_PY_CHAINED):
                errors.append(found)
        i = j + 1 if found else i + 1
    return errors


# -- pytest ----------------------------------------------------------------------------------

_PYTEST_SUMMARY = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<nodeid>\S+?\.py(?:::\S+)?)(?: - (?P<rest>.*))?$")
_PYTEST_HEADER = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_PYTEST_END = re.compile(r"^(?:={3,}|-{3,} Captured )")
_PYTEST_E = re.compile(r"^E {1,}(?P<text>.*)$")
_PYTEST_LOC = re.compile(r"^(?P<path>[^\s:][^:]*?):(?P<line>\d+): (?:in (?P<func>\S+)|(?P<type>[\w.]+))$")
_PY_DEF = re.compile(r"^\s*(?:async )?def (?P<name>\w+)\(")
_TYPE_AND_MESSAGE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Failed|Failure|Warning|Interrupt))(?::\s?(?P<msg>.*))?$")
_TITLE_PREFIX = re.compile(r"^(?:ERROR at (?:setup|teardown) of |ERROR collecting )")


def _test_name(text: str) -> str:
    name = text.split("::")[-1].split(".")[-1]
    return re.sub(r"\[.*\]$", "", name)


def _pytest_section(lines: Sequence[str], start: int, end: int, title: str) -> RawError | None:
    first_e = next((m["text"] for m in map(_PYTEST_E.match, lines[start:end]) if m), None)
    frames: list[RawFrame] = []
    chunk_start = start
    loc_type = ""
    for k in range(start, end):
        loc = _PYTEST_LOC.match(lines[k])
        if not loc:
            continue
        # --tb=short names the function; --tb=long shows its source, which starts with `def`
        func = loc["func"] or next((m["name"] for m in map(_PY_DEF.match, lines[chunk_start:k]) if m), "")
        if not func and not frames:
            func = _test_name(title)
        frames.append(RawFrame(loc["path"], _int(loc["line"]), func))
        loc_type = loc["type"] or loc_type
        chunk_start = k + 1
    if first_e is None and not frames:
        return None
    error_type, message = loc_type or "Failed", first_e or ""
    typed = _TYPE_AND_MESSAGE.match(first_e or "")
    if typed:
        error_type, message = typed["type"], typed["msg"] or ""
    return RawError("python", error_type, message, tuple(reversed(frames)), start - 1, end, key=_test_name(title))


def parse_pytest(lines: Sequence[str]) -> list[RawError]:
    errors: list[RawError] = []
    headers = [(k, m["title"]) for k, m in ((k, _PYTEST_HEADER.match(line)) for k, line in enumerate(lines)) if m]
    for n, (k, title) in enumerate(headers):
        end = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
        stop = next((e for e in range(k + 1, end) if _PYTEST_END.match(lines[e])), end)
        error = _pytest_section(lines, k + 1, stop, _TITLE_PREFIX.sub("", title))
        if error:
            errors.append(error)
    seen = {e.key for e in errors}
    for k, line in enumerate(lines):
        summary = _PYTEST_SUMMARY.match(line)
        if not summary or _test_name(summary["nodeid"]) in seen:
            continue
        rest = summary["rest"] or ""
        typed = _TYPE_AND_MESSAGE.match(rest)
        if typed:
            error_type, message = typed["type"], typed["msg"] or ""
        else:
            error_type, message = ("AssertionError" if rest.startswith("assert") else "Failed"), rest
        path, _, test = summary["nodeid"].partition("::")
        errors.append(RawError("python", error_type, message, (RawFrame(path, None, _test_name(test) if test else ""),),
                               k, k + 1, key=_test_name(summary["nodeid"])))
    return errors


# -- JavaScript / Node -----------------------------------------------------------------------

_JS_ERROR = re.compile(
    r"^\s*(?:Uncaught (?:\(in promise\) )?)?(?P<type>[A-Z][\w$]*(?:Error|Exception)|Error)(?: \[(?P<code>[A-Z0-9_]+)\])?"
    r"(?::\s*(?P<msg>.*))?$"
)
_JS_FRAME = re.compile(
    r"^\s+at (?:(?P<func>.+?) \((?P<loc>[^()]+?)(?::(?P<line>\d+)(?::\d+)?)?\)|(?P<loc2>[^\s()]+?)(?::(?P<line2>\d+)(?::\d+)?)?)\s*$"
)


def parse_javascript(lines: Sequence[str]) -> list[RawError]:
    errors: list[RawError] = []
    i = 0
    while i < len(lines):
        if not _JS_FRAME.match(lines[i]) or (i > 0 and _JS_FRAME.match(lines[i - 1])):
            i += 1
            continue
        # the error line is just above the first frame (a multi-line message: a few lines up)
        head = next((k for k in range(i - 1, max(i - 6, -1), -1) if _JS_ERROR.match(lines[k])), None)
        frames: list[RawFrame] = []
        j = i
        while j < len(lines) and (frame := _JS_FRAME.match(lines[j])):
            loc = frame["loc"] or frame["loc2"] or ""
            frames.append(RawFrame(loc, _int(frame["line"] or frame["line2"]), frame["func"] or ""))
            j += 1
        if head is not None:
            error = _JS_ERROR.match(lines[head])
            assert error is not None
            error_type = error["type"] + (f" [{error['code']}]" if error["code"] else "")
            errors.append(RawError("javascript", error_type, error["msg"] or "", tuple(frames), head, j))
        i = j
    return errors


# -- Java (and other JVM languages) ------------------------------------------------------------

_JAVA_EXC = re.compile(
    r'^(?P<cause>Exception in thread "[^"]*" |Caused by: )?(?P<type>(?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*)(?::\s*(?P<msg>.*))?$'
)
_JAVA_FRAME = re.compile(r"^\s+at (?:[\w.$-]+(?:@[\w.-]+)?/)*(?P<func>[\w$.<>]+)\((?P<loc>[^)]*)\)\s*$")
_JAVA_MORE = re.compile(r"^\s+\.\.\. \d+ (?:more|common frames omitted)\s*$")


def _java_frame(func: str, loc: str) -> RawFrame:
    parts = func.split(".")
    file, _, line = loc.partition(":")
    package = "/".join(p for p in parts[:-2] if p)
    path = f"{package}/{file}" if package and file.endswith((".java", ".kt", ".scala", ".groovy")) else file
    return RawFrame(path, _int(line) if line.isdigit() else None, func)


def parse_java(lines: Sequence[str]) -> list[RawError]:
    errors: list[RawError] = []
    i = 0
    while i < len(lines):
        top = _JAVA_EXC.match(lines[i])
        if not top or top["cause"] == "Caused by: " or i + 1 >= len(lines) or not _JAVA_FRAME.match(lines[i + 1]):
            i += 1
            continue
        blocks: list[tuple[re.Match[str], list[RawFrame]]] = [(top, [])]
        j = i + 1
        while j < len(lines):
            frame = _JAVA_FRAME.match(lines[j])
            cause = _JAVA_EXC.match(lines[j].strip()) if lines[j].startswith("Caused by: ") else None
            if frame:
                blocks[-1][1].append(_java_frame(frame["func"], frame["loc"]))
            elif cause:
                blocks.append((cause, []))
            elif not _JAVA_MORE.match(lines[j]):
                break
            j += 1
        # the deepest cause names the bug; its frames first, then the outer ones
        root, _ = blocks[-1]
        frames = [f for _, block in reversed(blocks) for f in block]
        errors.append(RawError("java", root["type"], root["msg"] or "", tuple(dict.fromkeys(frames)), i, j))
        i = j
    return errors


# -- Go -------------------------------------------------------------------------------------------

_GO_PANIC = re.compile(r"^(?:panic|fatal error): (?P<msg>.+?)(?: \[recovered\])?$")
_GO_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]+\]:\s*$")
_GO_LOC = re.compile(r"^\t(?P<path>\S+\.(?:go|s)):(?P<line>\d+)(?: \+0x[0-9a-f]+)?\s*$")
_GO_TEST_FAIL = re.compile(r"^\s*--- FAIL: (?P<test>\w+)")
_GO_TEST_LINE = re.compile(r"^\s+(?P<path>[\w./-]+_test\.go):(?P<line>\d+): (?P<msg>.+)$")


def _go_function(line: str) -> str:
    line = line.strip()
    if line.startswith("created by "):
        line = line[len("created by "):].split(" in goroutine")[0]
    if line.endswith(")"):  # drop the argument words, which may hold parentheses and braces
        depth = 0
        for k in range(len(line) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(line[k], 0)
            if depth == 0:
                return line[:k]
    return line


def parse_go(lines: Sequence[str]) -> list[RawError]:
    errors: list[RawError] = []
    i = 0
    while i < len(lines):
        panic = _GO_PANIC.match(lines[i])
        goroutine = next((k for k in range(i + 1, min(i + 6, len(lines))) if _GO_GOROUTINE.match(lines[k])), None)
        if not panic or goroutine is None:
            i += 1
            continue
        frames: list[RawFrame] = []
        j = goroutine + 1
        while j + 1 < len(lines) and (loc := _GO_LOC.match(lines[j + 1])) and not lines[j].startswith("\t"):
            frames.append(RawFrame(loc["path"], _int(loc["line"]), _go_function(lines[j])))
            j += 2
        msg = panic["msg"]
        kind = "fatal error" if lines[i].startswith("fatal") else "panic"
        if msg.startswith("runtime error: "):
            kind, msg = "runtime error", msg[len("runtime error: "):]
        errors.append(RawError("go", kind, msg, tuple(frames), i, j))
        i = max(j, i + 1)
    for k, line in enumerate(lines):
        failed = _GO_TEST_FAIL.match(line)
        detail = _GO_TEST_LINE.match(lines[k + 1]) if failed and k + 1 < len(lines) else None
        if failed and detail:
            frame = RawFrame(detail["path"], _int(detail["line"]), failed["test"])
            errors.append(RawError("go", "test failure", detail["msg"], (frame,), k, k + 2))
    return errors


# -- Rust -------------------------------------------------------------------------------------------

_RUST_PANIC = re.compile(r"^thread '(?P<thread>[^']*)'(?: \(\d+\))? panicked at (?P<path>[^\s:']+):(?P<line>\d+):\d+:\s*$")
_RUST_PANIC_OLD = re.compile(r"^thread '(?P<thread>[^']*)' panicked at '(?P<msg>.*)', (?P<path>[^\s:]+):(?P<line>\d+):\d+\s*$")
_RUST_BT_FUNC = re.compile(r"^\s*\d+: (?P<func>\S.*?)\s*$")
_RUST_BT_LOC = re.compile(r"^\s+at (?P<path>\S+?):(?P<line>\d+)(?::\d+)?\s*$")
_RUSTC_ERROR = re.compile(r"^error(?:\[(?P<code>E\d{4})\])?: (?P<msg>.+)$")
_RUSTC_LOC = re.compile(r"^\s*--> (?P<path>\S+?):(?P<line>\d+):\d+\s*$")


def _rust_backtrace(lines: Sequence[str], start: int) -> tuple[list[RawFrame], int]:
    frames: list[RawFrame] = []
    j = start
    while j < len(lines) and (func := _RUST_BT_FUNC.match(lines[j])):
        loc = _RUST_BT_LOC.match(lines[j + 1]) if j + 1 < len(lines) else None
        frames.append(RawFrame(loc["path"] if loc else "", _int(loc["line"]) if loc else None, func["func"]))
        j += 2 if loc else 1
    return frames, j


def parse_rust(lines: Sequence[str]) -> list[RawError]:
    errors: list[RawError] = []
    for i, line in enumerate(lines):
        new, old = _RUST_PANIC.match(line), _RUST_PANIC_OLD.match(line)
        if new or old:
            m = new or old
            assert m is not None
            msg = old["msg"] if old else (lines[i + 1].strip() if i + 1 < len(lines) else "")
            end = i + (1 if old else 2)
            frames = [RawFrame(m["path"], _int(m["line"]), "")]
            bt = next((k for k in range(end, min(end + 4, len(lines))) if lines[k].strip() == "stack backtrace:"), None)
            if bt is not None:
                more, end = _rust_backtrace(lines, bt + 1)
                frames += more
            errors.append(RawError("rust", "panic", msg, tuple(frames), i, end))
            continue
        compile_error = _RUSTC_ERROR.match(line)
        loc = next((_RUSTC_LOC.match(lines[k]) for k in range(i + 1, min(i + 4, len(lines))) if _RUSTC_LOC.match(lines[k])), None)
        if compile_error and loc:
            kind = f"error[{compile_error['code']}]" if compile_error["code"] else "error"
            where = (RawFrame(loc["path"], _int(loc["line"]), ""),)
            end = next((k for k in range(i + 1, min(i + 40, len(lines))) if not lines[k].strip()), min(i + 40, len(lines)))
            errors.append(RawError("rust", kind, compile_error["msg"], where, i, end))
    return errors


# -- C and C++ compilers and the linker ------------------------------------------------------------

_CC_DIAG = re.compile(
    r"^(?P<path>[^\s:][^:]*?\.(?P<ext>c|h|cc|cpp|cxx|c\+\+|hpp|hh|hxx|m|mm|cu|ino)):(?P<line>\d+):(?:\d+:)? "
    r"(?P<sev>fatal error|error): (?P<msg>.+?)(?: \[(?P<flag>-W[^\]]+)\])?\s*$"
)
_CC_FUNC = re.compile(r"^(?P<path>[^\s:][^:]*?): +In (?:static |member |static member )?function '(?P<func>[^']+)':\s*$")
_LD_UNDEF = re.compile(
    r"^(?:\S*ld(?:\.\w+)?: )?(?P<path>[^\s:]+?)(?::\([^)]*\))?: (?:\([^)]*\): )?undefined reference to '(?P<sym>[^']+)'\s*$"
)
_CPP_EXT = ("cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "mm", "cu")


def _c_function(signature: str) -> str:
    name = signature.split("(")[0].strip()
    return name.split()[-1] if name else ""


def parse_c(lines: Sequence[str]) -> list[RawError]:
    errors: list[RawError] = []
    function: dict[str, str] = {}  # file -> the function gcc said it is in
    for i, line in enumerate(lines):
        context = _CC_FUNC.match(line)
        if context:
            function[context["path"]] = _c_function(context["func"])
            continue
        diag = _CC_DIAG.match(line)
        if diag:
            language = "cpp" if diag["ext"] in _CPP_EXT else "c"
            kind = diag["sev"] + (f" [{diag['flag']}]" if diag["flag"] else "")
            frame = RawFrame(diag["path"], _int(diag["line"]), function.get(diag["path"], ""))
            # the source line and caret that follow belong to this diagnostic
            end = i + 1
            while end < len(lines) and end < i + 4 and (lines[end].startswith((" ", "\t")) or "|" in lines[end][:8]):
                end += 1
            errors.append(RawError(language, kind, diag["msg"], (frame,), i, end))
            continue
        undefined = _LD_UNDEF.match(line)
        if undefined:
            language = "cpp" if "::" in undefined["sym"] or "(" in undefined["sym"] else "c"
            frame = RawFrame(undefined["path"], None, "")
            errors.append(RawError(language, "undefined reference", f"undefined reference to '{undefined['sym']}'", (frame,), i, i + 1))
    return errors


# -- anything else that names an error -------------------------------------------------------------

# "SomeError: message" with the colon: a name alone ("how is RequestError raised?") is no error report
_GENERIC = re.compile(r"\b(?P<type>[A-Z][A-Za-z0-9_]*(?:Error|Exception)): +(?P<msg>\S[^\n]*)")
PYTHON_BUILTINS = frozenset(
    "ArithmeticError AssertionError AttributeError BlockingIOError BrokenPipeError BufferError ConnectionError "
    "ConnectionRefusedError ConnectionResetError EOFError FileExistsError FileNotFoundError FloatingPointError "
    "ImportError IndentationError IndexError InterruptedError IsADirectoryError KeyError LookupError MemoryError "
    "ModuleNotFoundError NameError NotADirectoryError NotImplementedError OSError OverflowError PermissionError "
    "ProcessLookupError RecursionError ReferenceError RuntimeError StopIteration SyntaxError SystemError TabError "
    "TimeoutError TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError ValueError "
    "ZeroDivisionError".split()
)


def parse_generic(lines: Sequence[str]) -> list[RawError]:
    """A bare ``SomeError: message`` (pasted into a question, a log line): no frames, language guessed."""
    for i, line in enumerate(lines):
        match = _GENERIC.search(line)
        if match:
            language = "python" if match["type"] in PYTHON_BUILTINS else ""
            return [RawError(language, match["type"], (match["msg"] or "").strip(), (), i, i + 1)]
    return []


PARSERS: tuple[Callable[[Sequence[str]], list[RawError]], ...] = (
    parse_python, parse_pytest, parse_javascript, parse_java, parse_go, parse_rust, parse_c,
)


def find_errors(lines: Sequence[str]) -> list[RawError]:
    """Every error any parser recognises, in text order; a span claimed twice keeps the first claim."""
    found = sorted((e for parse in PARSERS for e in parse(lines)), key=lambda e: (e.start, -(e.end - e.start)))
    kept: list[RawError] = []
    for error in found:
        if any(k.start <= error.start < k.end for k in kept):
            continue
        kept.append(error)
    return kept or parse_generic(lines)
