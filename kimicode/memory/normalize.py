"""Normalize error text: remove what changes between runs, keep what names the bug.

Two runs of the same bug differ in absolute paths (other machine, other temp dir),
line numbers (the file was edited), memory addresses, temp names, timestamps and the
values in messages. All of those become placeholders here; error types, the words of
the message and identifiers stay. Every function is pure and deterministic.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
# gcc quotes with typographic quotes in UTF-8 locales, clang with ASCII ones: one form.
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "`": "'"})

# Order matters: the specific shapes are replaced before the generic number rule eats them.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()]+", re.I), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<addr>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"), "<ip>"),
    # hashes and object ids: a long run of hex digits with at least one digit and one letter
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", re.I), "<hex>"),
    # temp names (tmpk3j_x9, pytest-123, tmp.XyZ12) vary every run
    (re.compile(r"\btmp[._-]?[A-Za-z0-9_]{3,}\b"), "<tmp>"),
    (re.compile(r"\bpytest-(?:of-[\w.-]+|\d+)\b"), "<tmp>"),
)
# A number not glued to a letter: `user_42` and `3.14` are values, `int64` and `utf8` are names.
_NUMBER = re.compile(r"(?<![A-Za-z<\d.])\d+(?:\.\d+)*")
# Absolute POSIX paths (two components at least), Windows paths, and relative paths with a
# directory and an extension. The last component is kept: it names the file, the rest is
# where this machine happens to keep it.
_PATH = re.compile(
    r"(?:(?<![\w.<>])~?/(?:[\w.@+-]+/)+|(?<![\w])[A-Za-z]:[\\/](?:[^\s'\"\\/:*?<>|]+[\\/])+|(?<![\w/.<>-])(?:\.{1,2}/)?(?:[\w@+-][\w.@+-]*/)+(?=[\w.-]*\.\w))"
    r"(?P<name>[\w.@+-]*)"
)
_QUOTED = re.compile(r"(['\"])([^'\"\n]*)\1")
# A quoted name ('user_id', "String.length()", 'NoneType') says what the bug is about; any
# other quoted text ('8080/tcp', "7,5", '03/01/2024') is a value of this run.
_NAME_LIKE = re.compile(r"[A-Za-z_$][\w$.:<>\[\]()-]{0,59}")
# ...and so is a C++ signature ('draw(Shape&, int)', 'Logger::init(std::string const&)').
_SIGNATURE_LIKE = re.compile(r"[A-Za-z_~][\w:~<>]*\([\w:<>,*& .]{0,80}\)(?: const)?")
_SPACES = re.compile(r"[ \t]+")
MAX_MESSAGE = 300


def clean_text(text: str) -> str:
    """Terminal colours and carriage returns out, quotes in one form: the text parsers see."""
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_QUOTES)


def _replace_path(match: re.Match[str]) -> str:
    name = match.group("name")
    return "<path>/" + normalize_name(name) if name else "<path>/"


def normalize_name(name: str) -> str:
    """A file or identifier name with run-specific parts (temp names, hashes) replaced."""
    for pattern, placeholder in _RULES[5:]:
        name = pattern.sub(placeholder, name)
    return name


def normalize_message(message: str) -> str:
    """The message shape: placeholders for paths, numbers, addresses, times and long values."""
    text = clean_text(message)
    # pytest's rewritten asserts show the compared values: every quoted part is data there
    values_only = text.startswith("assert ")

    def quoted(match: re.Match[str]) -> str:
        body = match.group(2)
        if not body or body.startswith("<path>/"):
            return match.group(0)
        if not values_only and (_NAME_LIKE.fullmatch(body) or _SIGNATURE_LIKE.fullmatch(body)):
            return match.group(0)
        return f"{match.group(1)}<str>{match.group(1)}"

    for pattern, placeholder in _RULES[:5]:
        text = pattern.sub(placeholder, text)
    text = _PATH.sub(_replace_path, text)
    text = _QUOTED.sub(quoted, text)
    for pattern, placeholder in _RULES[5:]:
        text = pattern.sub(placeholder, text)
    text = _NUMBER.sub("<n>", text)
    text = _SPACES.sub(" ", text).strip()
    return text[:MAX_MESSAGE]


# Where installed code lives: frames there belong to a library, the runtime or the toolchain,
# not to the project, and they say little about which bug this is.
_LIBRARY = re.compile(
    r"site-packages/|dist-packages/|/lib/python\d|/lib/pypy|/python\d+/lib/|^<frozen |^<string>|^<stdin>"
    r"|node_modules/|^node:|^internal/|^<anonymous>|^native$|^\[native code\]"
    r"|/usr/local/go/|/usr/lib/go|/go/src/runtime/|/go/pkg/mod/|/pkg/mod/|^runtime/|^testing/"
    r"|/\.cargo/registry/|/\.cargo/git/|^/rustc/|/\.rustup/|/rustlib/"
    r"|^/usr/include/|^/usr/lib/|^/usr/local/include/|^/usr/local/lib/|/opt/homebrew/",
    re.I,
)
_LIBRARY_FUNCS = re.compile(
    r"^(?:runtime\.|testing\.|reflect\.|sync\.|std::|core::|alloc::|<std::|<core::|<alloc::|rust_begin_unwind"
    r"|__rust|test::|java\.|javax\.|jdk\.|sun\.|com\.sun\.|kotlin\.|scala\.|org\.junit\.|junit\.|org\.springframework\."
    r"|org\.apache\.|org\.gradle\.|org\.testng\.|worker\.org\.gradle\.|processTicksAndRejections|Module\._compile"
    r"|node:)"
)


def is_library_frame(path: str, function: str = "") -> bool:
    path = path.replace("\\", "/")
    if path and _LIBRARY.search(path):
        return True
    return bool(function) and bool(_LIBRARY_FUNCS.match(function))


def frame_path(path: str, repo_root: str | None = None) -> str:
    """A frame's file as another machine would write it.

    Inside ``repo_root``: relative to it. Otherwise an absolute path keeps its last two
    components (``app/models.py``), which survive a clone into another folder.
    """
    path = path.replace("\\", "/")
    for prefix in ("file://", "webpack-internal:///", "webpack:///"):
        if path.startswith(prefix):
            path = path[len(prefix):]
    if repo_root:
        root = repo_root.replace("\\", "/").rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root):]
    while path.startswith("./"):
        path = path[2:]
    is_absolute = path.startswith("/") or path.startswith("~") or re.match(r"^[A-Za-z]:/", path) is not None
    if not is_absolute:
        return "/".join(normalize_name(p) for p in path.split("/"))
    parts = [p for p in PurePosixPath(path).parts if p not in ("/",)]
    return "/".join(normalize_name(p) for p in parts[-2:])


_GENERIC_PARAMS = re.compile(r"\[[^\]]*\]$")
_RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")
_GO_ARGS = re.compile(r"\((?:0x[0-9a-f]+|\{[^}]*\}|\.\.\.|, )*\)$")


def normalize_function(function: str) -> str:
    """Function names lose what varies: test parameters, Rust symbol hashes, Go argument words."""
    function = function.strip()
    if function.startswith(("async ", "new ")) and " " in function:
        function = function.split(" ", 1)[1]
    if function.endswith(".<anonymous>"):  # Node's name for module-level code
        function = "<anonymous>"
    function = _RUST_HASH.sub("", function)
    function = _GENERIC_PARAMS.sub("", function)
    function = _GO_ARGS.sub("", function)
    return normalize_name(function)


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
