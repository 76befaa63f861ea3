"""What a session file holds: typed records, their format version, and the migrations between versions.

One JSON object per line, each with a ``type``. The header (``session``) carries the format
version the file was created with. A file written by an older kimicode is never rewritten:
the records it holds are migrated as they are read (``MIGRATIONS``, in order, one step per
version), and before the first record a newer kimicode appends to it, a ``version`` record
says that what follows is in the newer format. So an old session resumes, and every line stays
as it was written.

Format history:
1. roles user, assistant, tool, note; a file attached to the conversation was a ``tool`` turn
   named ``file:PATH``.
2. ``tool`` is left to the tool loop (a tool's result for one call); a command's output the
   user pasted in is an ``output`` turn and an attached file a ``file`` turn named PATH.
3. the tool loop: an ``assistant`` turn may carry the ``tool_calls`` it made, a ``tool`` turn is
   one call's result (``call_id``, ``name`` the tool); ``hide``, ``unhide`` and ``fragment``
   records say which results the model set aside. Nothing written in format 2 changes meaning.
   ``hide`` and ``unhide`` may also name user and assistant turns (their ids are turn ids as a
   result's are): no new field, and a kimicode that shows only results hidden ignores those ids.
4. edits: a ``checkpoint`` record holds one applied batch of a set of changes (each file's pre-
   and post-image and their SHA-256), an ``undo`` record names a set that was undone. Nothing
   written in format 3 changes meaning; a kimicode of format 3 skips both (unknown types).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, ClassVar

from kimicode.chat.compaction import CompactionReport
from kimicode.chat.ledger import CompactionLedger
from kimicode.chat.state import StateRecord
from kimicode.edits.checkpoint import Checkpoint, Undone

FORMAT_VERSION = 4
ROLES = ("user", "assistant", "file", "output", "note", "tool")


@dataclass
class Turn:
    id: int
    role: str  # user | assistant | file (a repository file attached in full) | output (a command's) | note | tool
    text: str
    time: str = ""
    reasoning: str = ""  # the model's reasoning_content, sent back as-is to thinking models
    partial: bool = False  # the answer stopped early (Ctrl-C, a dropped stream)
    name: str = ""  # the file's path, the command's name, or the kind of note ("compaction", "error", ...)
    model: str = ""
    usage: dict[str, int] | None = None
    tool_calls: list[dict[str, str]] | None = None  # an answer's calls: {"id", "name", "arguments"}
    call_id: str = ""  # a tool turn: the call it answers (``name``: the tool)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"type": "turn"}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("id", "role", "text") or value not in (f.default, None):
                record[f.name] = value
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Turn:
        known = {f.name for f in fields(cls)}
        turn = cls(**{k: v for k, v in record.items() if k in known})
        if not isinstance(turn.id, int) or turn.role not in ROLES or not isinstance(turn.text, str):
            raise ValueError("not a valid turn")
        if turn.tool_calls is not None and not (isinstance(turn.tool_calls, list) and all(
                isinstance(c, dict) and all(isinstance(c.get(k), str) for k in ("id", "name", "arguments"))
                for c in turn.tool_calls)):
            raise ValueError("not a valid list of tool calls")
        return turn


@dataclass(frozen=True)
class SessionMeta:
    id: str
    root: str  # the repository (or directory) the conversation is about
    created: str
    model: str = ""
    version: int = FORMAT_VERSION

    def to_record(self) -> dict[str, Any]:
        return {"type": "session", **asdict(self)}


# -- everything else a session records, one class per record type -----------------------------------


@dataclass(frozen=True)
class StateSaved:
    """A full snapshot of the state record after it changed (compaction, pin)."""

    kind: ClassVar[str] = "state"
    record: StateRecord
    time: str = ""


@dataclass(frozen=True)
class Compacted:
    kind: ClassVar[str] = "compaction"
    report: CompactionReport


@dataclass(frozen=True)
class Ledgered:
    """What one compaction summarized, kept verbatim and retired (and why), beside its report."""

    kind: ClassVar[str] = "ledger"
    ledger: CompactionLedger


@dataclass(frozen=True)
class RestoreShown:
    """Compressed turns shown verbatim again (until the next compaction)."""

    kind: ClassVar[str] = "restore"
    first: int
    last: int
    time: str = ""


@dataclass(frozen=True)
class RestoreHidden:
    kind: ClassVar[str] = "unrestore"
    time: str = ""


@dataclass(frozen=True)
class Packed:
    """The query the repository was last packed for."""

    kind: ClassVar[str] = "pack"
    query: str | None = None
    time: str = ""
    lean: bool = False  # outlines and the tree only (/context lean): the model reads files through tools


@dataclass(frozen=True)
class PackGrown:
    """Files added to the repository shelf in full since it was packed."""

    kind: ClassVar[str] = "pack-add"
    paths: tuple[str, ...] = ()
    time: str = ""


@dataclass(frozen=True)
class FilesDropped:
    """Files the user took out of the context (/drop)."""

    kind: ClassVar[str] = "drop"
    paths: tuple[str, ...] = ()
    time: str = ""


@dataclass(frozen=True)
class FilesUndropped:
    kind: ClassVar[str] = "undrop"
    paths: tuple[str, ...] = ()
    time: str = ""


@dataclass(frozen=True)
class OutputsHidden:
    """Tool results the model hid (``hide``) behind a summary; restorable."""

    kind: ClassVar[str] = "hide"
    ids: tuple[int, ...] = ()
    summary: str = ""
    time: str = ""


@dataclass(frozen=True)
class OutputsShown:
    """Tool results shown whole again (``restore``), from ``round`` on."""

    kind: ClassVar[str] = "unhide"
    ids: tuple[int, ...] = ()
    round: int = 0  # the tool rounds recorded when it was restored: the K-round rule waits from there
    time: str = ""


@dataclass(frozen=True)
class OutputFragment:
    """Only these lines (1-based, inclusive) of a tool result are shown (``fragment``)."""

    kind: ClassVar[str] = "fragment"
    id: int = 0
    ranges: tuple[tuple[int, int], ...] = ()
    time: str = ""


@dataclass(frozen=True)
class FormatChanged:
    """The records after this one are in ``version``'s format (an old file resumed by a newer kimicode)."""

    kind: ClassVar[str] = "version"
    version: int


Record = (StateSaved | Compacted | Ledgered | RestoreShown | RestoreHidden | Packed | PackGrown | FilesDropped
          | FilesUndropped | OutputsHidden | OutputsShown | OutputFragment | FormatChanged | Checkpoint | Undone)
_TYPES: dict[str, Any] = {t.kind: t for t in (StateSaved, Compacted, Ledgered, RestoreShown, RestoreHidden, Packed,
                                               PackGrown, FilesDropped, FilesUndropped, OutputsHidden, OutputsShown,
                                               OutputFragment, FormatChanged, Checkpoint, Undone)}


def _paths(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("paths must be a list")
    return tuple(p for p in value if isinstance(p, str))


def _ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ValueError("ids must be a list")
    return tuple(int(v) for v in value)


def to_json(record: Record) -> dict[str, Any]:
    if isinstance(record, Checkpoint):
        return {"type": record.kind, **record.to_dict()}
    body: dict[str, Any] = {"type": record.kind}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, (StateRecord, CompactionReport, CompactionLedger)):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        body[f.name] = value
    return body


def from_json(data: dict[str, Any]) -> Record | None:
    """The typed record, None for a type this version does not know; ValueError (or KeyError,
    TypeError) for a damaged one."""
    kind = _TYPES.get(data["type"])
    if kind is None:
        return None
    if kind is StateSaved:
        return StateSaved(StateRecord.from_dict(data["record"]), str(data.get("time", "")))
    if kind is Compacted:
        return Compacted(CompactionReport.from_dict(data["report"]))
    if kind is Ledgered:
        return Ledgered(CompactionLedger.from_dict(data["ledger"]))
    if kind is RestoreShown:
        return RestoreShown(int(data["first"]), int(data["last"]), str(data.get("time", "")))
    if kind is Packed:
        query = data.get("query")
        return Packed(query if isinstance(query, str) else None, str(data.get("time", "")), data.get("lean") is True)
    if kind in (PackGrown, FilesDropped, FilesUndropped):
        return kind(_paths(data["paths"]), str(data.get("time", "")))
    if kind is FormatChanged:
        return FormatChanged(int(data["version"]))
    if kind is Checkpoint:
        return Checkpoint.from_dict(data)
    if kind is Undone:
        return Undone(str(data["set_id"]), str(data.get("time", "")))
    if kind is OutputsHidden:
        return OutputsHidden(_ids(data["ids"]), str(data.get("summary", "")), str(data.get("time", "")))
    if kind is OutputsShown:
        return OutputsShown(_ids(data["ids"]), int(data.get("round", 0)), str(data.get("time", "")))
    if kind is OutputFragment:
        ranges = tuple((int(a), int(b)) for a, b in data["ranges"])
        return OutputFragment(int(data["id"]), ranges, str(data.get("time", "")))
    return RestoreHidden(str(data.get("time", "")))


# -- migrations: a record as written in version N, made a record of version N + 1 -------------------

_FILE_TURN_V1 = "file:"


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("type") != "turn" or data.get("role") != "tool":
        return data
    name = str(data.get("name", ""))
    if name.startswith(_FILE_TURN_V1):
        return {**data, "role": "file", "name": name[len(_FILE_TURN_V1):]}
    return {**data, "role": "output"}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    return data  # format 3 only adds: tool calls, tool turns and their records


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    return data  # format 4 only adds: checkpoint and undo records


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def migrate(data: dict[str, Any], version: int) -> dict[str, Any]:
    """``data`` as written by format ``version``, brought to FORMAT_VERSION (a newer one: left as it is)."""
    for step in range(version, FORMAT_VERSION):
        data = MIGRATIONS[step](data)
    return data


@dataclass
class Replayed:
    """What the records of a session say about its state when it resumes."""

    record: StateRecord = field(default_factory=StateRecord)
    reports: list[CompactionReport] = field(default_factory=list)
    ledgers: list[CompactionLedger] = field(default_factory=list)
    restored: list[tuple[int, int]] = field(default_factory=list)
    pack_query: str | None = None
    pack_lean: bool | None = None  # None: never packed in this session (the settings decide)
    pack_added: list[str] = field(default_factory=list)
    pack_skip: set[str] = field(default_factory=set)  # dropped when the repository was last packed
    dropped: set[str] = field(default_factory=set)
    hidden: dict[int, str] = field(default_factory=dict)  # tool result -> the summary it is hidden behind
    shown: dict[int, int] = field(default_factory=dict)  # tool result -> the round it was restored at
    fragments: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)


def replay(records: list[Record]) -> Replayed:
    """Fold the records, oldest first, into the state a resumed session starts from."""
    state = Replayed()
    for record in records:
        if isinstance(record, StateSaved):
            state.record = record.record
        elif isinstance(record, Compacted):
            state.reports.append(record.report)
        elif isinstance(record, Ledgered):
            state.ledgers.append(record.ledger)
        elif isinstance(record, RestoreShown):
            state.restored.append((record.first, record.last))
        elif isinstance(record, RestoreHidden):
            state.restored = []
        elif isinstance(record, Packed):
            state.pack_query, state.pack_added, state.pack_skip = record.query, [], set(state.dropped)
            state.pack_lean = record.lean
        elif isinstance(record, PackGrown):
            state.pack_added += list(record.paths)
        elif isinstance(record, FilesDropped):
            state.dropped |= set(record.paths)
            state.pack_added = [p for p in state.pack_added if p not in record.paths]
        elif isinstance(record, FilesUndropped):
            state.dropped -= set(record.paths)
        else:
            fold_outputs(state, record)
    return state


def fold_outputs(state: Replayed, record: Record) -> None:
    """What a hide, unhide or fragment record changes (at replay, and as the conversation writes it)."""
    if isinstance(record, OutputsHidden):
        for n in record.ids:
            state.hidden[n] = record.summary
            state.fragments.pop(n, None)
    elif isinstance(record, OutputsShown):
        for n in record.ids:
            state.hidden.pop(n, None)
            state.fragments.pop(n, None)
            state.shown[n] = record.round
    elif isinstance(record, OutputFragment):
        state.hidden.pop(record.id, None)
        state.fragments[record.id] = record.ranges
