"""Error fingerprints: what an error is, independent of the run that produced it.

``error_shapes(text)`` finds the errors in tool output (Python tracebacks, pytest, Node,
Java, Go, Rust, gcc/clang, the linker) and normalizes each one: error type, message
shape, the project's own frames. The signature hashes exactly those, so the same bug
seen on another machine, after an edit, or with other values has the same signature.

``Fingerprint`` is the stored record: the shape plus what was learned about it (root
cause, fix, files) and when it was seen. Everything here is pure and deterministic; it
imports neither chromadb nor anything that talks to the network.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

from kimicode.memory.normalize import (
    basename,
    clean_text,
    frame_path,
    is_library_frame,
    normalize_function,
    normalize_message,
)
from kimicode.memory.parsers import RawError, find_errors

# Only the innermost project frame counts in the signature: where the error is raised names
# the bug; the callers above it vary with the entry point (a CLI run, a test, a request).
SIGNATURE_FRAMES = 1
MAX_FRAMES = 8
MAX_EXCERPT_LINES = 60
MAX_EXCERPT_CHARS = 6000
MAX_TEXT = 20_000  # fix, root cause: what a record may hold


@dataclass(frozen=True)
class ErrorShape:
    """One error found in text, normalized."""

    language: str
    error_type: str
    message: str  # normalized
    frames: tuple[str, ...]  # project frames, innermost first: "path in function" or "path"
    excerpt: str  # the raw lines it came from (not yet redacted)
    signature: str


def _frame_label(path: str, function: str) -> str:
    return f"{path} in {function}" if function else path


def signature_of(language: str, error_type: str, message: str, frames: Sequence[str]) -> str:
    """16 hex digits naming the bug: language, type, message shape, innermost project frames.

    Frames count by file name and function only: the folders above a file differ
    between a traceback from a clone and one from a CI runner.
    """
    short = []
    for frame in frames[:SIGNATURE_FRAMES]:
        path, _, function = frame.partition(" in ")
        short.append(f"{basename(path)}:{function}")
    key = "\n".join([language, error_type, message, *short])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _shape(error: RawError, lines: Sequence[str], repo_root: str | None) -> ErrorShape:
    frames: list[str] = []
    for frame in error.frames:
        if not frame.path and not frame.function:
            continue
        if is_library_frame(frame.path, frame.function):
            continue
        function = frame.function
        if error.language == "java":  # com.example.App.run -> App.run: the package is in the path
            function = ".".join(function.split(".")[-2:])
        label = _frame_label(frame_path(frame.path, repo_root) if frame.path else "", normalize_function(function))
        if label and label not in frames:
            frames.append(label)
    message = normalize_message(error.message)
    excerpt_lines = list(lines[error.start:error.end])
    if len(excerpt_lines) > MAX_EXCERPT_LINES:
        half = MAX_EXCERPT_LINES // 2
        excerpt_lines = excerpt_lines[:half] + [f"[... {len(excerpt_lines) - 2 * half} lines ...]"] + excerpt_lines[-half:]
    excerpt = "\n".join(excerpt_lines).strip("\n")[:MAX_EXCERPT_CHARS]
    kept = tuple(frames[:MAX_FRAMES])
    return ErrorShape(error.language, error.error_type, message, kept, excerpt,
                      signature_of(error.language, error.error_type, message, kept))


def error_shapes(text: str, repo_root: str | None = None) -> list[ErrorShape]:
    """Every error in ``text``, in order; the same bug twice (one signature) is listed once."""
    lines = clean_text(text).split("\n")
    shapes: dict[str, ErrorShape] = {}
    for error in find_errors(lines):
        shape = _shape(error, lines, repo_root)
        shapes.setdefault(shape.signature, shape)
    return list(shapes.values())


_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def document_text(language: str, error_type: str, message: str, frames: Sequence[str]) -> str:
    """The text a fingerprint is embedded and searched by: one labelled field per line."""
    lines = [f"language: {language}", f"type: {error_type}", f"message: {message}"]
    lines += [f"frame: {f}" for f in frames]
    return "\n".join(lines)


def shape_document(shape: ErrorShape) -> str:
    return document_text(shape.language, shape.error_type, shape.message, shape.frames)


@dataclass(frozen=True)
class Fingerprint:
    """One remembered error: its shape, what caused it, how it was fixed, when it was seen."""

    signature: str
    error_type: str
    message: str
    frames: tuple[str, ...]
    language: str
    excerpt: str = ""  # raw, secrets redacted
    root_cause: str = ""
    fix: str = ""
    files: tuple[str, ...] = ()
    commit: str = ""
    first_seen: str = ""  # ISO 8601, UTC
    last_seen: str = ""
    times_seen: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)  # fields of newer versions, kept on import

    @property
    def id(self) -> str:
        return self.signature

    @property
    def document(self) -> str:
        return document_text(self.language, self.error_type, self.message, self.frames)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data["frames"], data["files"] = list(self.frames), list(self.files)
        return {**extra, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        """A record from export/import or the index; unknown keys are kept, bad values rejected."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        for name in ("error_type", "message", "language"):
            if not isinstance(data.get(name, ""), str):
                raise ValueError(f"{name} must be a string")
        if not str(data.get("error_type", "")).strip() and not str(data.get("message", "")).strip():
            raise ValueError("a fingerprint needs an error type or a message")
        frames = tuple(str(f) for f in data.get("frames") or ())
        language, error_type, message = str(data.get("language", "")), str(data.get("error_type", "")), str(data.get("message", ""))
        signature = str(data.get("signature") or signature_of(language, error_type, message, frames))
        if not re.fullmatch(r"[0-9a-f]{16}", signature):
            raise ValueError(f"bad signature {signature!r}")
        times = data.get("times_seen", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times_seen must be a whole number >= 1")
        return cls(
            signature=signature, error_type=error_type, message=message, frames=frames, language=language,
            excerpt=str(data.get("excerpt", "")), root_cause=str(data.get("root_cause", ""))[:MAX_TEXT],
            fix=str(data.get("fix", ""))[:MAX_TEXT], files=tuple(str(f) for f in data.get("files") or ()),
            commit=str(data.get("commit", "")), first_seen=str(data.get("first_seen", "")),
            last_seen=str(data.get("last_seen", "")), times_seen=times,
            extra={k: v for k, v in data.items() if k not in known},
        )

    def merged(self, newer: Fingerprint, add_counts: bool = True) -> Fingerprint:
        """This record seen again as ``newer`` (same signature): one record, never a duplicate.

        Seen counts add up for a new sighting; ``add_counts=False`` keeps the larger count
        (an import of records this store may already hold must not count them twice);
        the first sighting stays the earliest, the last the latest. A fix or root cause is
        replaced only by a non-empty one, and the newer wins: it was confirmed against the
        code as it is now. Files are the union; the excerpt is the latest one.
        """
        newest = newer if newer.last_seen >= self.last_seen else self
        firsts = [s for s in (self.first_seen, newer.first_seen) if s]
        return replace(
            self,
            excerpt=newest.excerpt or self.excerpt or newer.excerpt,
            root_cause=_better(self.root_cause, self.last_seen, newer.root_cause, newer.last_seen),
            fix=_better(self.fix, self.last_seen, newer.fix, newer.last_seen),
            files=tuple(dict.fromkeys((*self.files, *newer.files))),
            commit=(newer.commit if newer.fix.strip() and newer.commit else self.commit or newer.commit),
            first_seen=min(firsts) if firsts else "",
            last_seen=max(self.last_seen, newer.last_seen),
            times_seen=self.times_seen + newer.times_seen if add_counts else max(self.times_seen, newer.times_seen),
            extra={**self.extra, **newer.extra},
        )


def _better(old: str, old_seen: str, new: str, new_seen: str) -> str:
    if not new.strip():
        return old
    if not old.strip():
        return new
    return new if new_seen >= old_seen else old


def fingerprint_of(shape: ErrorShape, *, seen: str, excerpt: str | None = None, root_cause: str = "", fix: str = "",
                   files: Sequence[str] = (), commit: str = "") -> Fingerprint:
    """A new record for ``shape`` seen at ``seen``; ``excerpt`` is the already-redacted text.

    ``files`` are the files of the fix; the frames' files are searchable without being listed.
    """
    return Fingerprint(
        signature=shape.signature, error_type=shape.error_type, message=shape.message, frames=shape.frames,
        language=shape.language, excerpt=shape.excerpt if excerpt is None else excerpt,
        root_cause=root_cause.strip()[:MAX_TEXT], fix=fix.strip()[:MAX_TEXT], files=tuple(dict.fromkeys(files)),
        commit=commit, first_seen=seen, last_seen=seen, times_seen=1,
    )


def safe_excerpt(excerpt: str, home: str | None = None) -> str:
    """The excerpt as it may be stored and shared: secrets redacted, the home folder as ``~``."""
    from kimicode.secrets import redact

    text = redact(excerpt, "error excerpt").text
    if home and len(home) > 1:
        text = text.replace(home.rstrip("/") + "/", "~/")
    return text


def short_type(error_type: str) -> str:
    """``json.decoder.JSONDecodeError`` -> ``JSONDecodeError``."""
    return error_type.rsplit(".", 1)[-1] if "." in error_type and " " not in error_type else error_type


def words(text: str) -> list[str]:
    return _WORDS.findall(text)
