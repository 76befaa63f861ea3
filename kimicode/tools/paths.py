"""The repository as the tools see it: exactly the files a pack may send, and nothing outside it.

Every path the model names is checked here before anything is read: absolute paths, ``~`` and
``..`` are refused outright; what is left must resolve (symlinks followed) inside the root,
and a file must be one the pack's rules would send (listing rules: .gitignore,
.kimicodeignore, include/exclude, size, binary, secret file names; content rules: binary,
generated, minified; a secret in the name). Each refusal is one line the model reads.
"""

from __future__ import annotations

import os
import posixpath
import threading
from dataclasses import dataclass
from pathlib import Path

from kimicode.repo.files import (
    Listing,
    ListingError,
    NotRegularFile,
    RepoFile,
    content_reason,
    list_files,
    new_file_reason,
    read_regular,
    secret_in_name,
)
from kimicode.repo.scan import decode
from kimicode.secrets import redact, secret_file_kind
from kimicode.tools.base import ToolError


@dataclass(frozen=True)
class ReadFile:
    path: str
    text: str  # redacted
    redactions: int


class RepoView:
    """The packable files under ``root``, listed once (``refresh`` lists them again)."""

    def __init__(self, root: Path, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
                 max_bytes: int = 1_000_000) -> None:
        self.root = root.resolve()
        self.include = include
        self.exclude = exclude
        self.max_bytes = max_bytes
        self._listing: Listing | None = None
        self._lock = threading.Lock()  # the calls of one round run in parallel: one of them lists
        self._files: dict[str, RepoFile] = {}
        self._skipped: dict[str, str] = {}

    def refresh(self) -> None:
        self._listing = None

    @property
    def listing(self) -> Listing:
        with self._lock:
            if self._listing is None:
                try:
                    listing = list_files(self.root, self.include, self.exclude, self.max_bytes)
                except ListingError as exc:
                    raise ToolError(str(exc)) from None
                self._files = {f.path: f for f in listing.files}
                self._skipped = {s.path: s.reason for s in listing.skipped}
                self._listing = listing
            return self._listing

    @property
    def files(self) -> dict[str, RepoFile]:
        self.listing  # noqa: B018 - lists on first use
        return self._files

    def relative(self, path: str) -> str:
        """``path`` as a POSIX path relative to the root ("" for the root); ToolError when it may leave it."""
        raw = path.strip().replace("\\", "/")
        if raw.startswith(("/", "~")) or (len(raw) > 1 and raw[1] == ":"):
            raise ToolError(f"{path!r} is an absolute path: give a path relative to the repository root")
        if ".." in raw.split("/"):
            raise ToolError(f"{path!r} leaves the repository ('..' is refused): give a path inside it")
        rel = posixpath.normpath(raw) if raw else "."
        rel = "" if rel == "." else rel
        real = Path(os.path.realpath(self.root / rel))
        if real != self.root and self.root not in real.parents:
            raise ToolError(f"{path!r} leads outside the repository (through a symbolic link): refused")
        return rel

    def file(self, path: str) -> str:
        """The relative path of a file the pack may send; ToolError saying why not otherwise."""
        rel = self.relative(path)
        kind = secret_file_kind(rel) or secret_file_kind(Path(os.path.realpath(self.root / rel)).as_posix())
        if kind:
            raise ToolError(f"{rel} is refused: it looks like a secret file ({kind})")
        if rel in self.files:
            if secret_in_name(rel):
                raise ToolError(f"{rel} is refused: its name holds a secret")
            return rel
        reason = self._skipped.get(rel)
        if reason:
            raise ToolError(f"{rel} is refused: {reason}")
        where = self.root / rel
        if where.is_dir():
            raise ToolError(f"{rel} is a directory: use list_dir")
        if where.is_symlink() or (where.exists() and not where.is_file()):
            raise ToolError(f"{rel} is refused: not a regular file")
        if where.exists():
            raise ToolError(f"{rel} is refused: ignored (.gitignore, .kimicodeignore or the configured excludes)")
        raise ToolError(f"{rel or path!r}: no such file in the repository")

    def writable(self, path: str) -> str:
        """The relative path of a file the edit tools may change or create: an existing file only if
        it may be read (``file``), a new one only where the listing would take it (not ignored,
        not a secret name, not under a file or a link); ToolError saying why not otherwise."""
        rel = self.relative(path)
        if not rel:
            raise ToolError("give the path of a file, not the repository root")
        if ".git" in rel.split("/"):
            raise ToolError(f"{rel} is refused: git's own files are never edited")
        where = self.root / rel
        if where.exists() or where.is_symlink():
            return self.file(rel)
        kind = secret_file_kind(rel)
        if kind:
            raise ToolError(f"{rel} is refused: it looks like a secret file ({kind})")
        if secret_in_name(rel):
            raise ToolError(f"{rel} is refused: its name would hold a secret")
        for parent in where.parents:
            if parent == self.root:
                break
            if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                raise ToolError(f"{rel} is refused: {parent.relative_to(self.root).as_posix()} is not a folder")
        reason = new_file_reason(self.root, rel, self.include, self.exclude, self.max_bytes)
        if reason:
            raise ToolError(f"{rel} is refused: {reason}")
        return rel

    def read(self, path: str) -> ReadFile:
        """A sendable file's text, redacted (line numbers kept)."""
        rel = self.file(path)
        try:
            data = read_regular(self.root / rel, self.max_bytes + 1)  # a FIFO swapped in since the listing: refused at once
        except NotRegularFile:
            raise ToolError(f"{rel} is refused: not a regular file") from None
        except OSError as exc:
            raise ToolError(f"{rel}: cannot read it ({exc.strerror})") from None
        if len(data) > self.max_bytes:
            raise ToolError(f"{rel} is refused: too large")
        reason = content_reason(data)
        if reason:
            raise ToolError(f"{rel} is refused: {reason}")
        result = redact(decode(data)[0], rel)
        return ReadFile(rel, result.text, len(result.findings))

    def under(self, directory: str) -> list[str]:
        """Sendable files under ``directory`` ("" for all), sorted."""
        prefix = f"{directory}/" if directory else ""
        return sorted(p for p in self.files if p.startswith(prefix))
