"""Chat sessions on disk: one append-only JSONL file per conversation, grouped per repository.

A session file is a sequence of records, one JSON object per line (their types, format
versions and migrations: kimicode/chat/records.py):

- ``session``: the header (id, repository root, model, format version), always first;
- ``turn``: one user message, assistant answer, attached file, command output or note;
- ``state``: a full snapshot of the state record after it changed (compaction, pin);
- ``compaction``: the report of one compaction (when, why, token figures);
- ``restore`` / ``unrestore``: compressed turns shown verbatim again, or hidden again;
- ``pack``: the query the repository was last packed for; ``pack-add``: files added to it since;
- ``drop`` / ``undrop``: files the user took out of the context (/drop), or back (/add);
- ``version``: the records after it are in a newer format (an old session resumed).

Every record is written with one ``write`` and fsynced before the call returns, so a
process killed at any moment loses at most the record being written. Such a half-written
last line is skipped with a warning on load; the next append starts on a fresh line.
Files are never rewritten in place: `write_atomic` (temp file + rename) is the only way
to replace one. An exclusive lock keeps two processes from appending to the same session.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import secrets as _random
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from kimicode.chat.records import FORMAT_VERSION, FormatChanged, Record, SessionMeta, Turn, from_json, migrate

SUFFIX = ".jsonl"
R = TypeVar("R")

try:  # advisory locks: POSIX only; elsewhere sessions simply are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class SessionError(Exception):
    """A session cannot be opened or found; the message is one line for the user."""


class SessionLocked(SessionError):
    pass


def now() -> str:
    return _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds")


@dataclass
class LoadedSession:
    meta: SessionMeta
    path: Path
    turns: list[Turn] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)  # everything but turns, in order, migrated
    warnings: list[str] = field(default_factory=list)
    version: int = FORMAT_VERSION  # the format the file's last records were written in

    def of(self, kind: type[R]) -> list[R]:
        return [r for r in self.records if isinstance(r, kind)]

    @property
    def next_turn_id(self) -> int:
        return max((t.id for t in self.turns), default=0) + 1


@dataclass(frozen=True)
class SessionInfo:
    id: str
    path: Path
    root: str
    created: str
    updated: float  # mtime of the file
    turns: int
    title: str  # the first user message, shortened
    model: str


def new_session_id() -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{_random.token_hex(2)}"


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the file itself is synced
    finally:
        os.close(fd)


class SessionFile:
    """An open session file: append-only, one fsync per record, locked while open."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def _open(cls, path: Path, create: bool) -> SessionFile:
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        try:
            fd = os.open(path, flags, 0o600)  # turns may quote private code: owner only
        except FileExistsError:
            raise SessionError(f"session file {path} already exists") from None
        except OSError as exc:
            raise SessionError(f"cannot open session file {path}: {exc.strerror}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise SessionLocked(f"session {path.stem} is open in another kimicode process") from None
        return cls(path, fd)

    @classmethod
    def create(cls, path: Path, meta: SessionMeta) -> SessionFile:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = cls._open(path, create=True)
        handle.append(meta.to_record())
        _fsync_dir(path.parent)  # the new directory entry survives a crash too
        return handle

    @classmethod
    def reopen(cls, path: Path) -> SessionFile:
        handle = cls._open(path, create=False)
        # A process killed mid-write leaves a last line without its newline: end it, so the
        # next record starts on a line of its own instead of being glued to the fragment.
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    handle._write(b"\n")
        return handle

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise SessionError(f"session file {self.path} is closed")
        start = os.lseek(self._fd, 0, os.SEEK_END)
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError:
            # A full disk can take part of a record: cut it off, so that the next record (the
            # caller's retry) starts on a line of its own instead of being glued to a fragment.
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass
            raise

    def append(self, record: dict[str, Any]) -> None:
        self._write(_line(record))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None

    def __enter__(self) -> SessionFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _records(path: Path, warnings: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict) or not isinstance(record.get("type"), str):
                raise ValueError("not a record")
        except ValueError:
            last = number == len(lines) or (number == len(lines) - 1 and not lines[-1])
            where = "its last line was half-written (the process was stopped while writing)" if last else f"line {number} is damaged"
            warnings.append(f"session {path.stem}: {where}; skipped it")
            continue
        yield number, record


def load_session(path: Path) -> LoadedSession:
    """Read a session file, migrating records of older formats; damaged lines are skipped with a
    warning, never a crash."""
    warnings: list[str] = []
    meta: SessionMeta | None = None
    turns: list[Turn] = []
    others: list[Record] = []
    seen: set[int] = set()
    version = 1  # a file without a header: the oldest format
    try:
        for number, raw in _records(path, warnings):
            if raw["type"] == "session" and meta is None:
                known = {f.name for f in fields(SessionMeta)}
                try:
                    # a header without a version was written before versions were recorded: format 1
                    meta = SessionMeta(**{"version": 1, **{k: v for k, v in raw.items() if k in known}})
                    version = int(meta.version)
                except (TypeError, ValueError):
                    warnings.append(f"session {path.stem}: line {number}: header is incomplete")
                continue
            record = migrate(raw, version)
            if record["type"] == "turn":
                try:
                    turn = Turn.from_record(record)
                except (TypeError, ValueError):
                    warnings.append(f"session {path.stem}: line {number}: not a valid turn; skipped it")
                    continue
                if turn.id in seen:
                    warnings.append(f"session {path.stem}: line {number}: turn {turn.id} appears twice; kept the first")
                    continue
                seen.add(turn.id)
                turns.append(turn)
                continue
            try:
                typed = from_json(record)
            except (KeyError, TypeError, ValueError, AttributeError):
                # a damaged record: the session goes on without it
                warnings.append(f"session {path.stem}: a {record['type']} record could not be read; skipped it")
                continue
            if isinstance(typed, FormatChanged):
                version = typed.version
            elif typed is not None:  # None: a record type this version does not know (a newer kimicode wrote it)
                others.append(typed)
    except OSError as exc:
        raise SessionError(f"cannot read session file {path}: {exc.strerror}") from None
    if meta is None:
        warnings.append(f"session {path.stem}: no header line; the repository is unknown")
        meta = SessionMeta(id=path.stem, root="", created="")
    return LoadedSession(meta, path, turns, others, warnings, version)


def write_atomic(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace a session file as a whole: temp file, fsync, rename. Never a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for record in records:
                fh.write(_line(record))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def repo_key(root: Path) -> str:
    """The folder name for one repository's sessions: readable name + hash of the full path."""
    resolved = str(root.expanduser().resolve())
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(resolved).name or "root")[:40]
    return f"{name}-{hashlib.sha256(resolved.encode()).hexdigest()[:10]}"


def _summary(path: Path) -> SessionInfo | None:
    """Header, turn count and title without parsing every turn (listing must stay fast)."""
    meta: dict[str, Any] = {}
    turns = 0
    title = ""
    try:
        with path.open("rb") as fh:
            for raw in fh:
                if b'"type":"turn"' not in raw and not meta:
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and record.get("type") == "session":
                        meta = record
                    continue
                if b'"type":"turn"' in raw:
                    turns += 1
                    if not title and b'"role":"user"' in raw:
                        try:
                            title = " ".join(str(json.loads(raw).get("text", "")).split())[:80]
                        except ValueError:
                            pass
        updated = path.stat().st_mtime
    except OSError:
        return None
    return SessionInfo(
        id=str(meta.get("id") or path.stem), path=path, root=str(meta.get("root", "")),
        created=str(meta.get("created", "")), updated=updated, turns=turns, title=title, model=str(meta.get("model", "")),
    )


class SessionStore:
    """All sessions under ``data_dir/sessions``, one folder per repository."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "sessions"

    def repo_dir(self, repo_root: Path) -> Path:
        return self.root / repo_key(repo_root)

    def create(self, repo_root: Path, model: str = "") -> tuple[SessionFile, SessionMeta]:
        from kimicode.locations import private_dir

        meta = SessionMeta(id=new_session_id(), root=str(repo_root.expanduser().resolve()), created=now(), model=model)
        private_dir(self.repo_dir(repo_root), self.root.parent)
        path = self.repo_dir(repo_root) / f"{meta.id}{SUFFIX}"
        return SessionFile.create(path, meta), meta

    def _files(self, repo_root: Path | None) -> list[Path]:
        if repo_root is not None:
            folders = [self.repo_dir(repo_root)]
        else:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        return [p for folder in folders if folder.is_dir() for p in folder.glob(f"*{SUFFIX}")]

    def list(self, repo_root: Path | None = None) -> list[SessionInfo]:
        """Sessions of one repository (or of all, with None), the most recently written first."""
        found = [info for info in map(_summary, self._files(repo_root)) if info is not None]
        return sorted(found, key=lambda info: (info.updated, info.id), reverse=True)

    def latest(self, repo_root: Path) -> Path | None:
        """The session of this repository written to last (a resumed old one counts as recent)."""
        def key(path: Path) -> tuple[int, str]:
            try:
                return path.stat().st_mtime_ns, path.stem
            except OSError:
                return 0, path.stem

        paths = sorted(self._files(repo_root), key=key)
        return paths[-1] if paths else None

    def find(self, session_id: str) -> Path:
        """A session by id, or by a prefix of its id that only one session has, in any repository."""
        wanted = session_id.strip()
        if not wanted or "/" in wanted or wanted.startswith("."):
            raise SessionError(f"no session {session_id!r}")
        matches = [p for p in self._files(None) if p.stem.startswith(wanted)]
        exact = [p for p in matches if p.stem == wanted]
        if exact:
            return exact[0]
        if not matches:
            raise SessionError(f"no session {session_id!r}: `kimicode sessions list --all` shows them all")
        if len(matches) > 1:
            shown = ", ".join(sorted(p.stem for p in matches)[:5])
            raise SessionError(f"{session_id!r} matches {len(matches)} sessions ({shown}): give more of the id")
        return matches[0]

    def resolve(self, repo_root: Path, session_id: str | None) -> Path:
        """What `--resume [ID]` means: that session, or the last one of this repository."""
        if session_id:
            return self.find(session_id)
        path = self.latest(repo_root)
        if path is None:
            raise SessionError(f"no session for {repo_root} yet: `kimicode sessions list --all` shows the others")
        return path

