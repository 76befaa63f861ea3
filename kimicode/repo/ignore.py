"""gitignore semantics outside git: ignore files read safely, patterns matched, folders walked.

In a git work tree git itself answers which files are ignored; these serve a plain
folder (the walk), .kimicodeignore and --include/--exclude, and the walk that stands in
for git when a FIFO named .gitignore would block it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    import pathspec

# Never useful to a model and huge when present, even where no .gitignore says so.
DEFAULT_IGNORES = (".git/", "node_modules/", "__pycache__/", ".venv/", ".tox/", ".mypy_cache/", ".pytest_cache/", "*.pyc")
MAX_IGNORE_BYTES = 1_000_000  # of one .gitignore / .kimicodeignore; git's own limit is 100 MB


def spec(lines: Iterable[str]) -> pathspec.PathSpec:
    import pathspec  # about 0.1 s to import: not on a warm pack's path

    return pathspec.GitIgnoreSpec.from_lines(list(lines))


class Matcher:
    """gitignore matching for every file of a repository, fast when patterns only exclude.

    pathspec tries each pattern's regex in turn; without "!" patterns the
    last-match-wins rule reduces to "any pattern matches", which one combined
    regex answers in a single search.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self.spec = spec(lines)
        # pathspec names groups inside each regex; unnamed, they can share one alternation
        regexes = [re.sub(r"\(\?P<\w+>", "(?:", p.regex.pattern)
                   for p in self.spec.patterns if p.include is not None and p.regex is not None]
        negated = any(p.include is False for p in self.spec.patterns)
        self._combined = re.compile("|".join(f"(?:{r})" for r in regexes)) if regexes and not negated else None
        self._empty = not regexes

    def match(self, path: str) -> bool:
        if self._empty:
            return False
        if self._combined is not None:
            return self._combined.search(path) is not None
        return self.spec.match_file(path)


def read_ignore_file(path: Path) -> list[str]:
    """The lines of an ignore file; nothing unless it is a regular file.

    A FIFO, socket or device named .gitignore would block the read, or never end: the
    file is opened without blocking and checked before reading, and reading stops at
    MAX_IGNORE_BYTES (the cut last line is dropped).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as fh:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return []
            data = fh.read(MAX_IGNORE_BYTES + 1)
        except OSError:
            return []
    if len(data) > MAX_IGNORE_BYTES:
        data = data[:MAX_IGNORE_BYTES].rsplit(b"\n", 1)[0]
    return data.decode("utf-8", errors="replace").splitlines()


def _ignored(path: str, specs: list[tuple[str, pathspec.PathSpec]]) -> bool:
    # as in git, the deepest .gitignore with a matching pattern decides (so "!x" there re-includes)
    for base, found in reversed(specs):
        verdict = found.check_file(path[len(base):]).include
        if verdict is not None:
            return verdict
    return False


def walk(root: Path) -> Iterator[str]:
    """Every path below ``root``, pruned by the .gitignore files met on the way (like git)."""
    # the default ignores prune the walk early (they are applied to its result anyway)
    stack: list[tuple[Path, str, list[tuple[str, pathspec.PathSpec]]]] = [(root, "", [("", spec(DEFAULT_IGNORES))])]
    while stack:
        folder, prefix, specs = stack.pop()
        local = read_ignore_file(folder / ".gitignore")
        if local:
            specs = specs + [(prefix, spec(local))]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if _ignored(rel + "/" if is_dir else rel, specs):
                continue
            if is_dir:
                stack.append((Path(entry.path), rel + "/", specs))
            else:
                yield rel


def blocking_ignore_file(root: Path) -> str | None:
    """A .gitignore below ``root`` that git would hang on opening (a FIFO, a device), or None.

    Reads directory entries only (each comes with its type), so it stays cheap for a
    hundred thousand files; .git and symbolic links to folders are not entered.
    """
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != ".git":
                            stack.append(entry.path)
                    elif entry.name == ".gitignore" and not (entry.is_file(follow_symlinks=False) or entry.is_symlink()):
                        return entry.path
        except OSError:
            continue
    return None


def ignored_path(root: Path, path: str) -> bool:
    """Whether the .gitignore files of a plain folder (``root`` down to the path's folder) ignore ``path``."""
    specs: list[tuple[str, pathspec.PathSpec]] = [("", spec(DEFAULT_IGNORES))]
    parts = path.split("/")
    for depth in range(len(parts)):
        base = "/".join(parts[:depth])
        lines = read_ignore_file(root / base / ".gitignore")
        if lines:
            specs.append((f"{base}/" if base else "", spec(lines)))
        if depth and _ignored(base + "/", specs):  # an ignored folder ignores all below it
            return True
    return _ignored(path, specs)
