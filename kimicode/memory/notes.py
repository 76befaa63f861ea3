"""Notes: what the project, the user and past tasks taught us, beside the error fingerprints.

A ``Note`` is one remembered statement of a kind (knowledge, preference, decision, task) in
a scope (user, repository, task). The scope says who sees it: a user note follows its user
into every repository and never leaves their machine; a repository note is shared by every
clone of the repository (and by a team on a Chroma server); a task note is seen only while
working on that task (a branch). An update keeps the earlier wordings in ``history``, so
what was replaced stays visible and can be restored.

Everything here is pure: records, validation, ids, and the defaults that tie kinds to scopes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

KINDS = ("knowledge", "preference", "decision", "task")
ALL_KINDS = (*KINDS, "error")  # error memories are fingerprints (fingerprint.py, store.py)
SCOPES = ("user", "repository", "task")
DEFAULT_SCOPE = {"knowledge": "repository", "preference": "user", "decision": "repository", "task": "repository"}
MAX_TEXT = 2_000  # characters of a note: a memory is a statement, not a document
MAX_HISTORY = 20  # earlier wordings kept per note


class NoteError(ValueError):
    """A note that cannot be stored as given; one line saying why."""


@dataclass(frozen=True)
class Revision:
    """An earlier wording of a note, and why it gave way."""

    text: str
    until: str  # ISO 8601 UTC: when it was replaced
    why: str = ""


@dataclass(frozen=True)
class Place:
    """Where a note belongs and where recall looks: the repository and the task at hand."""

    repo: str = ""  # the repository's identity key ("root:<sha>", ...); "" outside a repository
    task: str = ""  # the task key (a branch); "" when there is no task at hand

    def admits(self, note: Note) -> bool:
        """Whether ``note`` may be shown here: the rule every recall and every shelf obeys."""
        if note.scope == "user":
            return True  # user notes live in the user's own store only: whoever reads it is their owner
        if note.repo != self.repo or not self.repo:
            return False
        return note.scope == "repository" or (note.task == self.task and bool(self.task))


@dataclass(frozen=True)
class Note:
    id: str
    kind: str
    scope: str
    text: str
    repo: str = ""  # the repository it belongs to (repository and task scope); where it was said (user scope)
    task: str = ""  # the task it belongs to (task scope), or that it is about (kind task)
    files: tuple[str, ...] = ()
    source: str = ""  # remember | session | compaction | cli | import
    created: str = ""  # ISO 8601 UTC
    updated: str = ""
    confirmed: int = 1  # times it was stated (again)
    history: tuple[Revision, ...] = ()
    expansion: str = ""  # requests it applies to, written by a model when stored (expand.py); embedded, never shown
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)  # fields of newer versions, kept on import

    @property
    def document(self) -> str:
        """The text it is embedded and searched by: its own, and the requests it applies to."""
        return f"{self.text}\n{self.expansion}" if self.expansion else self.text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data["files"] = list(self.files)
        data["history"] = [asdict(r) for r in self.history]
        return {**extra, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Note:
        """A note from an export or the index; unknown keys are kept, bad values rejected (NoteError)."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        kind, scope = data.get("kind"), data.get("scope")
        if kind not in KINDS:
            raise NoteError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if scope not in SCOPES:
            raise NoteError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise NoteError("a note needs a text")
        for name in ("repo", "task", "source", "created", "updated", "id", "expansion"):
            if not isinstance(data.get(name, ""), str):
                raise NoteError(f"{name} must be a string")
        confirmed = data.get("confirmed", 1)
        if isinstance(confirmed, bool) or not isinstance(confirmed, int) or confirmed < 1:
            raise NoteError("confirmed must be a whole number >= 1")
        history = []
        for raw in data.get("history") or ():
            if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str):
                raise NoteError("history entries need a text")
            history.append(Revision(raw["text"], str(raw.get("until", "")), str(raw.get("why", ""))))
        note = cls(
            id=str(data.get("id") or ""), kind=kind, scope=scope, text=clean_text(text), repo=str(data.get("repo", "")),
            task=str(data.get("task", "")), files=tuple(str(f) for f in data.get("files") or ()),
            source=str(data.get("source", "")), created=str(data.get("created", "")), updated=str(data.get("updated", "")),
            confirmed=confirmed, history=tuple(history[-MAX_HISTORY:]), expansion=str(data.get("expansion", "")),
            extra={k: v for k, v in data.items() if k not in known},
        )
        if not note.id:
            note = replace(note, id=note_id(note.kind, note.scope, note.repo, note.task, note.text))
        if not re.fullmatch(r"[0-9a-f]{16}", note.id):
            raise NoteError(f"bad note id {note.id!r}")
        check_place(note.scope, note.repo, note.task)
        return note

    def revised(self, text: str, when: str, why: str) -> Note:
        """This note with a new wording; the old one goes into the history (newest last)."""
        text = clean_text(text)
        if text == self.text:
            return replace(self, updated=max(self.updated, when), confirmed=self.confirmed + 1)
        history = (*self.history, Revision(self.text, when, why))[-MAX_HISTORY:]
        return replace(self, text=text, updated=when, history=history, confirmed=1, expansion="")

    def restored(self, when: str) -> Note:
        """Undo the last revision: the previous wording is back, the replaced one is dropped."""
        if not self.history:
            return self
        last = self.history[-1]
        return replace(self, text=last.text, updated=when, history=self.history[:-1], expansion="")


def clean_text(text: str) -> str:
    """One paragraph, trimmed to MAX_TEXT characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3].rstrip() + "..."


def normal_form(text: str) -> str:
    """What makes two statements the same: case, punctuation and spacing aside."""
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def note_id(kind: str, scope: str, repo: str, task: str, text: str) -> str:
    """16 hex digits: the same statement in the same place has the same id on every machine."""
    owner = "" if scope == "user" else repo
    key = "\n".join([kind, scope, owner, task if scope == "task" else "", normal_form(text)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def check_place(scope: str, repo: str, task: str) -> None:
    if scope in ("repository", "task") and not repo:
        raise NoteError(f"a {scope} note needs a repository (run it inside one)")
    if scope == "task" and not task:
        raise NoteError("a task note needs a task: work on a branch, or name the task with --task")


def new_note(kind: str, text: str, place: Place, *, scope: str | None = None, when: str, source: str,
             files: tuple[str, ...] = (), task: str | None = None) -> Note:
    """A note stated now in ``place``; the scope defaults by kind (DEFAULT_SCOPE)."""
    if kind not in KINDS:
        raise NoteError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    scope = scope or DEFAULT_SCOPE[kind]
    if scope not in SCOPES:
        raise NoteError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    text = clean_text(text)
    if not text:
        raise NoteError("nothing to remember: the text is empty")
    task = place.task if task is None else task
    task = task if scope == "task" or kind == "task" else ""
    check_place(scope, place.repo, task)
    return Note(id=note_id(kind, scope, place.repo, task, text), kind=kind, scope=scope, text=text, repo=place.repo,
                task=task, files=files, source=source, created=when, updated=when)
