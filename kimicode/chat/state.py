"""The state summary: a structured record of what compressed turns established.

Not a blob of prose: a goal plus items (constraints, decisions, facts, files, errors, open
questions, pins), each with an id, its source turns and where it came from. A compaction
never rewrites the record wholesale; the model answers with a patch (add / update /
retire by id, see prompts/summarize.md) that is validated and applied here. Items the
patch does not mention are kept, updates keep the earlier wording, retirements keep the
item with a reason. So a summary of a summary never loses an item silently.

Items with origin "floor" (found by code in kimicode/chat/floor.py) or "pin" (the user's)
form the ledger: carried verbatim by code, immune to the model's updates and retirements,
and checked after every compaction (`ledger_diff`).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Iterable

from kimicode.chat.floor import Found, normalise

PREFIX = {"pin": "P", "constraint": "C", "decision": "D", "fact": "F", "file": "S", "error": "E", "question": "Q", "digest": "T",
          "doing": "I", "next": "N", "blocker": "B", "done": "K", "env": "V"}
SECTIONS = (
    ("pin", "Pinned by the user (verbatim)"),
    ("constraint", "Constraints the user stated"),
    ("doing", "In progress"),
    ("next", "Next action"),
    ("blocker", "Blockers"),
    ("done", "Done"),
    ("env", "Environment (commands, services, credential names; values are never kept)"),
    ("decision", "Decisions made"),
    ("fact", "Facts learned"),
    ("file", "Files touched"),
    ("error", "Errors seen"),
    ("question", "Open questions"),
    ("digest", "Earlier turns (first sentences; the model's summary was unavailable)"),
)
MODEL_KINDS = ("constraint", "decision", "fact", "file", "error", "question", "doing", "next", "blocker", "done", "env")
CARRIED = ("floor", "pin")
# Carried frontier states end: the model may retire one (with a reason, listed in the ledger), never reword it.
ENDS = ("doing", "next", "blocker")
# Which items give way first when the record outgrows its shelf (carried items never do).
EVICTION_ORDER = {"digest": 0, "fact": 1, "question": 2, "done": 2, "file": 3, "error": 4, "blocker": 4, "env": 5,
                  "decision": 5, "constraint": 6, "doing": 6, "next": 6}
MAX_TEXT = 1_000  # characters per model-written item
MAX_GOAL = 500

Count = Callable[[str], int]


class InvalidSummary(Exception):
    """The model's answer is not a usable patch; the message says why, in one line."""


@dataclass
class StateItem:
    id: str
    kind: str
    text: str
    turns: list[int] = field(default_factory=list)  # source turn ids
    origin: str = "model"  # floor | pin | model | fallback | tool
    status: str = "active"  # active | retired
    reason: str = ""  # why it was retired
    fingerprint: str = ""  # errors: the signature's hash, to merge repeats
    seen: int = 1  # errors: how many times
    since: int = 0  # the compaction that added it (0: before any)
    previous: list[str] = field(default_factory=list)  # earlier wordings, oldest first
    key: str = ""  # environment facts: what a newer value of the same thing shares (a variable, a service)
    pinned: bool = False  # the user pinned this item: carried verbatim like the floor, never summarized
    source: str = ""  # a tool's finding: the call that found it (kimicode/chat/toolfacts.py)

    @property
    def carried(self) -> bool:
        return self.origin in CARRIED or self.pinned

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass
class StateRecord:
    goal: str = ""
    through: int = 0  # the last turn id folded into the record
    compactions: int = 0
    items: list[StateItem] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)  # per id prefix: ids are never reused

    def copy(self) -> StateRecord:
        return copy.deepcopy(self)

    def get(self, item_id: str) -> StateItem | None:
        return next((i for i in self.items if i.id == item_id), None)

    def active(self, kind: str | None = None) -> list[StateItem]:
        return [i for i in self.items if i.active and (kind is None or i.kind == kind)]

    def add(self, kind: str, text: str, turns: Iterable[int], origin: str, **extra: Any) -> StateItem:
        prefix = PREFIX[kind]
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        item = StateItem(f"{prefix}{self.counters[prefix]}", kind, text, sorted(set(turns)), origin, **extra)
        self.items.append(item)
        return item

    def ledger(self) -> dict[str, str]:
        """The items code carries verbatim: id -> text."""
        return {i.id: i.text for i in self.items if i.active and i.carried}

    @property
    def empty(self) -> bool:
        return not self.goal and not self.active()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateRecord:
        known = {f.name for f in fields(StateItem)}
        items = [StateItem(**{k: v for k, v in raw.items() if k in known}) for raw in data.get("items", []) if isinstance(raw, dict)]
        counters = {str(k): int(v) for k, v in (data.get("counters") or {}).items()}
        return cls(str(data.get("goal") or ""), int(data.get("through") or 0), int(data.get("compactions") or 0), items, counters)


# -- the deterministic floor -------------------------------------------------------


def _same(item: StateItem, found: Found) -> bool:
    if item.kind != found.kind:
        return False
    if found.kind == "error":
        return item.fingerprint == found.fingerprint
    if found.kind == "file":
        return item.text == found.text
    return normalise(item.text) == found.key


def add_floor(record: StateRecord, findings: Iterable[Found], number: int) -> list[str]:
    """Carry constraints, paths and errors found by code; returns the ids of new items."""
    added: list[str] = []
    for found in findings:
        match = next((i for i in record.active(found.kind) if _same(i, found)), None)
        if match is None:
            item = record.add(found.kind, found.text, [found.turn], "floor", fingerprint=found.fingerprint, since=number)
            added.append(item.id)
            continue
        if found.turn not in match.turns:
            match.turns = sorted({*match.turns, found.turn})
            match.seen += 1 if found.kind == "error" else 0
        if not match.carried:
            # The model had it first: from now on code carries it, in the source's own words.
            if match.text != found.text:
                match.previous.append(match.text)
                match.text = found.text
            match.origin = "floor"
    return added


# -- the model's patch -------------------------------------------------------------


@dataclass
class StatePatch:
    goal: str | None = None
    add: list[tuple[str, str, list[int]]] = field(default_factory=list)  # kind, text, turns
    update: list[tuple[str, str, list[int]]] = field(default_factory=list)  # id, text, turns
    retire: list[tuple[str, str]] = field(default_factory=list)  # id, reason
    dropped: list[str] = field(default_factory=list)  # entries rejected, and why

    @property
    def size(self) -> int:
        return len(self.add) + len(self.update) + len(self.retire)


def _json_object(text: str) -> dict[str, Any]:
    body = text.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", body, re.DOTALL)
    if fenced:
        body = fenced.group(1)
    start, end = body.find("{"), body.rfind("}")
    if start < 0:
        raise InvalidSummary("the answer holds no JSON object")
    try:
        value = json.loads(body[start : end + 1] if end > start else body[start:])
    except json.JSONDecodeError as exc:
        raise InvalidSummary(f"the answer is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise InvalidSummary("the answer is not a JSON object")
    return value


def _entries(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidSummary(f'"{key}" must be a list')
    return value


def _turns(raw: Any, known: set[int]) -> list[int]:
    if not isinstance(raw, list):
        return []
    return sorted({t for t in raw if isinstance(t, int) and not isinstance(t, bool) and t in known})


def _text(raw: Any, limit: int) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    return text if len(text) <= limit else None


def parse_patch(answer: str, record: StateRecord, known_turns: set[int]) -> StatePatch:
    """Validate the model's answer against the schema and the record it patches."""
    data = _json_object(answer)
    if not {"goal", "add", "update", "retire"} & data.keys():
        raise InvalidSummary("the JSON object has none of goal, add, update, retire")
    patch = StatePatch()
    goal = data.get("goal")
    if goal is not None:
        patch.goal = _text(goal, MAX_GOAL)
        if patch.goal is None:
            raise InvalidSummary(f'"goal" must be a string of at most {MAX_GOAL} characters, or null')
    for raw in _entries(data, "add"):
        kind = raw.get("kind") if isinstance(raw, dict) else None
        text = _text(raw.get("text"), MAX_TEXT) if isinstance(raw, dict) else None
        if kind not in MODEL_KINDS or text is None:
            patch.dropped.append(f"add: {json.dumps(raw)[:80]} (needs a known kind and a text)")
            continue
        patch.add.append((kind, text, _turns(raw.get("turns"), known_turns)))
    for key in ("update", "retire"):
        for raw in _entries(data, key):
            ref = raw.get("id") if isinstance(raw, dict) else None
            item = record.get(ref) if isinstance(ref, str) else None
            value = _text(raw.get("text" if key == "update" else "reason"), MAX_TEXT) if isinstance(raw, dict) else None
            if item is None or not item.active or value is None:
                patch.dropped.append(f"{key}: {json.dumps(raw)[:80]} (unknown id or missing {'text' if key == 'update' else 'reason'})")
            elif item.carried and not (key == "retire" and item.kind in ENDS and not item.pinned):
                patch.dropped.append(f"{key} {item.id}: ignored, the item is carried verbatim by code")
            elif key == "update":
                patch.update.append((item.id, value, _turns(raw.get("turns"), known_turns)))
            else:
                patch.retire.append((item.id, value))
    rejected = [d for d in patch.dropped if "carried verbatim" not in d]
    if len(rejected) > 2 and len(rejected) > patch.size:
        raise InvalidSummary(f"most entries are malformed ({len(rejected)} of {len(rejected) + patch.size})")
    return patch


def apply_patch(record: StateRecord, patch: StatePatch, number: int) -> StateRecord:
    """A new record with the patch applied; the input is left as it was."""
    new = record.copy()
    if patch.goal and patch.goal != new.goal:
        new.goal = patch.goal
    for item_id, text, turns in patch.update:
        item = new.get(item_id)
        if item is not None and item.text != text:
            item.previous.append(item.text)
            item.text = text
        if item is not None:
            item.turns = sorted({*item.turns, *turns})
    for item_id, reason in patch.retire:
        item = new.get(item_id)
        if item is not None:
            item.status, item.reason = "retired", f"{reason} (compaction {number})"
    for kind, text, turns in patch.add:
        same = next((i for i in new.active(kind) if normalise(i.text) == normalise(text)), None)
        if same is not None:
            same.turns = sorted({*same.turns, *turns})
        else:
            new.add(kind, text, turns, "model", since=number)
    return new


# -- what the model sees -----------------------------------------------------------


def _turn_list(turns: list[int]) -> str:
    if not turns:
        return ""
    if len(turns) == 1:
        return f"turn {turns[0]}"
    if len(turns) <= 4:
        return "turns " + ", ".join(map(str, turns))
    return f"turns {turns[0]}, {turns[1]}, ..., {turns[-1]} ({len(turns)} in all)"


def render_item(item: StateItem) -> str:
    notes = [_turn_list(item.turns)] if item.turns else []
    if item.kind == "error" and item.seen > 1:
        notes.append(f"seen {item.seen} times")
    if item.pinned:
        notes.append("pinned")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    if "\n" in item.text:
        # Multi-line pins (a pinned turn, a snippet) stay byte for byte as given.
        return f"- [{item.id}]{suffix}:\n{item.text}"
    return f"- [{item.id}] {item.text}{suffix}"


def header(record: StateRecord) -> str:
    if record.through:
        return f"# Conversation state (turns 1-{record.through} compressed; their full text stays on disk)"
    return "# Conversation state"


def render(record: StateRecord) -> str:
    """The state as sent to the model; empty when there is nothing to say.

    Deterministic: the same record always renders to the same bytes, which keeps the
    prompt prefix cacheable between compactions.
    """
    if record.empty:
        return ""
    parts = [header(record)]
    if record.goal:
        parts.append(f"Goal: {record.goal}")
    for kind, title in SECTIONS:
        items = record.active(kind)
        if items:
            parts.append(f"## {title}\n" + "\n".join(render_item(i) for i in items))
    return "\n\n".join(parts) + "\n"


def model_view(record: StateRecord) -> str:
    """The active record as JSON for the summarizer: what it may update or retire."""
    items = [
        {"id": i.id, "kind": i.kind, "text": i.text, "turns": i.turns, **({"carried": True} if i.carried else {})}
        for i in record.active() if i.kind != "digest"
    ]
    return json.dumps({"goal": record.goal or None, "items": items}, ensure_ascii=False, indent=1)


# -- size and the ledger -----------------------------------------------------------


def fit(record: StateRecord, cap: int, count: Count, number: int) -> list[str]:
    """Retire (never delete) the least useful uncarried items until the rendered record fits ``cap``."""
    total = count(render(record))
    if total <= cap:
        return []
    order = sorted(
        (i for i in record.active() if not i.carried),
        key=lambda i: (EVICTION_ORDER.get(i.kind, 0), i.since, min(i.turns, default=0)),
    )
    evicted: list[str] = []
    for item in order:
        if total <= cap:
            break
        item.status = "retired"
        item.reason = f"evicted at compaction {number}: the state shelf holds {cap:,} tokens (still on disk: /search)"
        evicted.append(item.id)
        total = count(render(record))
    return evicted


@dataclass(frozen=True)
class LedgerDiff:
    kept: int
    added: list[str]
    restored: list[str]  # carried items a step dropped and code put back (should stay empty): ledger.check
