"""The repository tools: read_file, outline, search_repo, find_symbol, list_dir (all read-only).

Every path goes through ``RepoView`` (paths.py): only what a pack may send can be read, and
what is read is redacted. Output is data: ``frame_body`` escapes our frame tags, so a file
cannot forge a ``<file>`` block or end the tool output early.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from kimicode.repo.files import read_regular
from kimicode.repo.languages import language_for
from kimicode.repo.render import frame_body
from kimicode.tools.base import Tool, ToolError, int_arg, schema, text_arg
from kimicode.tools.paths import RepoView

MAX_HITS = 200  # search_repo / find_symbol lines, at most
LINE_CHARS = 300  # a matched line longer than this is cut
MAX_PATTERN = 500

_PATH = {"type": "string", "description": "a path relative to the repository root"}


def _numbered(lines: list[str], first: int) -> str:
    width = len(str(first + len(lines) - 1))
    return "\n".join(f"{n:>{width}}| {line}" for n, line in enumerate(lines, first))


def _cut(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + " [...]"


def _read_file(view: RepoView, arguments: dict[str, Any]) -> str:
    found = view.read(text_arg(arguments, "path"))
    lines = found.text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = max(int_arg(arguments, "start") or 1, 1)
    end = min(int_arg(arguments, "end") or len(lines), len(lines))
    if lines and start > len(lines):
        raise ToolError(f"{found.path} has {len(lines)} lines; start={start} is past its end")
    head = f"{found.path} (lines {start}-{end} of {len(lines)})"
    if found.redactions:
        head += f" [{found.redactions} secret(s) redacted]"
    return head + "\n" + frame_body(_numbered(lines[start - 1:end], start))


_NUMBERED = re.compile(r"^\s*(\d+)\| ", re.MULTILINE)


def _read_rest(arguments: dict[str, Any], kept: str) -> str:
    numbers = _NUMBERED.findall(kept)
    start = int(numbers[-1]) + 1 if numbers else int_arg(arguments, "start") or 1
    return f"call read_file with path={arguments.get('path')!r}, start={start} for the rest"


def _outline(view: RepoView, arguments: dict[str, Any]) -> str:
    from kimicode.repo.outline import outline

    found = view.read(text_arg(arguments, "path"))
    result = outline(found.path, found.text)
    return f"{found.path} (outline, {result.language or 'text'})\n" + frame_body(result.text.rstrip())


def _compile(pattern: str) -> re.Pattern[str]:
    if not pattern or len(pattern) > MAX_PATTERN:
        raise ToolError(f"the pattern must be 1 to {MAX_PATTERN} characters")
    try:
        return re.compile(pattern, re.MULTILINE)  # ^ and $ match each line, in the whole-file test too
    except re.error as exc:
        raise ToolError(f"bad regular expression: {exc}") from None


def _search(view: RepoView, paths: list[str], pattern: re.Pattern[str], limit: int = MAX_HITS) -> tuple[list[str], int]:
    """``path:line: text`` for each matching line (redacted), and how many matched in all."""
    hits: list[str] = []
    total = 0
    for path in paths:
        try:
            raw = read_regular(view.root / path, view.max_bytes).decode("utf-8", errors="replace")
        except OSError:  # NotRegularFile included
            continue
        if not pattern.search(raw):
            continue  # the cheap test first: most files do not match
        try:
            text = view.read(path).text  # redacted: a secret on a matching line is not shown
        except ToolError:
            continue
        for number, line in enumerate(text.split("\n"), 1):
            if pattern.search(line):
                total += 1
                if len(hits) < limit:
                    hits.append(f"{path}:{number}: {_cut(line.strip())}")
    return hits, total


def _search_repo(view: RepoView, arguments: dict[str, Any]) -> str:
    pattern = _compile(text_arg(arguments, "pattern"))
    glob = text_arg(arguments, "glob", required=False)
    paths = [p for p in view.under("") if not glob or fnmatch.fnmatch(p, glob) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], glob)]
    hits, total = _search(view, paths, pattern)
    if not hits:
        return f"no match for {pattern.pattern!r} in {len(paths)} files"
    more = f"\n[{total - len(hits)} more matches not shown: narrow the pattern or the glob]" if total > len(hits) else ""
    return f"{total} matches for {pattern.pattern!r}\n" + frame_body("\n".join(hits)) + more


def _find_symbol(view: RepoView, arguments: dict[str, Any]) -> str:
    from kimicode.repo.symbols import scan

    name = text_arg(arguments, "name").strip()
    if not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
        raise ToolError("name must be one identifier (a function, class, type or variable name)")
    word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
    places: list[str] = []
    for path in view.under(""):
        try:
            raw = read_regular(view.root / path, view.max_bytes).decode("utf-8", errors="replace")
        except OSError:
            continue
        if name not in raw or name not in scan(language_for(path), raw).defines:
            continue
        lines, _ = _search(view, [path], word, limit=MAX_HITS)
        # the definition line: the first one where the name follows a keyword or starts the statement
        defining = [h for h in lines if re.search(rf"\b(def|class|fn|func|function|type|struct|enum|interface|trait|impl|"
                                                  rf"const|let|var|module)\b[^:]*{re.escape(name)}|^\S+:\d+: {re.escape(name)}\b", h)]
        places.append((defining or lines)[0] if (defining or lines) else f"{path}: defines {name}")
    if not places:
        return f"no definition of {name!r} found (search_repo finds every use)"
    return f"{name} is defined in {len(places)} place(s)\n" + frame_body("\n".join(places[:MAX_HITS]))


def _list_dir(view: RepoView, arguments: dict[str, Any]) -> str:
    rel = view.relative(text_arg(arguments, "path", required=False, default="."))
    if rel in view.files:
        raise ToolError(f"{rel} is a file: use read_file or outline")
    paths = view.under(rel)
    if not paths:
        raise ToolError(f"{rel or '.'}: no such directory with files that may be read")
    cut = len(rel) + 1 if rel else 0
    dirs: dict[str, int] = {}
    files: list[str] = []
    for path in paths:
        rest = path[cut:]
        if "/" in rest:
            top = rest.split("/", 1)[0]
            dirs[top] = dirs.get(top, 0) + 1
        else:
            files.append(f"{rest}  ({view.files[path].size:,} bytes)")
    lines = [f"{name}/  ({count} files)" for name, count in sorted(dirs.items())] + files
    return f"{rel or '.'}/ ({len(paths)} files that may be read)\n" + frame_body("\n".join(lines))


def repo_tools(view: RepoView) -> list[Tool]:
    def bound(fn: Any) -> Any:
        return lambda arguments: fn(view, arguments)

    return [
        Tool("read_file", "Read a file of the repository (redacted), with line numbers; start/end pick lines (1-based, inclusive).",
             schema(["path"], path=_PATH, start={"type": "integer"}, end={"type": "integer"}), bound(_read_file),
             rest=_read_rest),
        Tool("outline", "The outline of a file: its definitions and signatures, without bodies.",
             schema(["path"], path=_PATH), bound(_outline)),
        Tool("search_repo", "Search the repository's files with a Python regular expression; gives path:line: text. "
             "glob limits the files (e.g. '*.py', 'src/*').",
             schema(["pattern"], pattern={"type": "string"}, glob={"type": "string"}), bound(_search_repo)),
        Tool("find_symbol", "Where a function, class, type or variable is defined.",
             schema(["name"], name={"type": "string"}), bound(_find_symbol)),
        Tool("list_dir", "The files and folders of a directory of the repository ('.' for the root).",
             schema([], path=_PATH), bound(_list_dir)),
    ]
