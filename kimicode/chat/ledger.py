"""The ledger of a compaction: what was summarized, what was kept verbatim, what was retired and why.

A compaction report (kimicode/chat/compaction.py) gives the figures; the ledger gives the items.
It is a diff of the state record before and after one compaction, written to the session file
beside the report (a ``ledger`` record), shown by /compactions in the TUI and by
`kimicode sessions show`. Every item a compaction retires is listed with its reason: nothing
leaves the record silently. The deterministic check (``check``) runs before the ledger is drawn
up: every carried item of the record the compaction started from (pins, the floor, the frontier)
must be in the result, verbatim, or code puts it back and says so.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from kimicode.chat.state import ENDS, StateItem, StateRecord, render

CLIP = 160  # characters of an item's text in the ledger (the record holds it in full)


@dataclass(frozen=True)
class CheckResult:
    checked: int  # carried items that had to be in the result
    restored: list[str] = field(default_factory=list)  # missing or reworded: put back by code
    absent: list[str] = field(default_factory=list)  # still not in the rendered record after that (a defect)

    @property
    def ok(self) -> bool:
        return not self.restored and not self.absent


def _ended(item: StateItem | None) -> bool:
    """A frontier state the model retired with a reason (a next action taken, a blocker gone)."""
    return item is not None and not item.active and item.kind in ENDS and not item.pinned and item.origin != "pin" \
        and bool(item.reason)


def check(expected: StateRecord, result: StateRecord) -> CheckResult:
    """Every active carried item of ``expected`` in ``result`` verbatim; missing ones are put back in place."""
    carried = [i for i in expected.items if i.active and i.carried]
    restored: list[str] = []
    for item in carried:
        current = result.get(item.id)
        if current is not None and (_ended(current) or (current.active and current.text == item.text)):
            continue
        if current is not None:
            result.items[result.items.index(current)] = copy.deepcopy(item)
        else:
            result.items.append(copy.deepcopy(item))
        restored.append(item.id)
    rendered = render(result)
    absent = [i.id for i in carried if i.text not in rendered and not _ended(result.get(i.id))]
    return CheckResult(len(carried), restored, absent)


@dataclass
class LedgerItem:
    id: str
    kind: str
    text: str
    note: str = ""  # retired: why; updated: the earlier wording; added: where it came from


@dataclass
class CompactionLedger:
    number: int
    method: str  # model | fallback | truncate | hide | abandoned
    summarized: list[int] = field(default_factory=list)  # the turns that left the request
    left_out: list[int] = field(default_factory=list)  # of those, turns the model did not see (too large)
    kept: list[str] = field(default_factory=list)  # carried items, verbatim in the record after
    added: list[LedgerItem] = field(default_factory=list)
    updated: list[LedgerItem] = field(default_factory=list)
    retired: list[LedgerItem] = field(default_factory=list)
    checked: int = 0  # carried items the check pass looked for
    restored: list[str] = field(default_factory=list)  # put back by the check pass
    probe: str = ""  # what the probe request found (or why it did not run)
    abandoned: str = ""  # why the compaction was abandoned (the record stayed as it was)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompactionLedger:
        known = set(cls.__dataclass_fields__)
        items = {"added", "updated", "retired"}
        values: dict[str, Any] = {k: ([LedgerItem(**i) for i in v if isinstance(i, dict)] if k in items else v)
                  for k, v in data.items() if k in known}
        return cls(**values)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CLIP else text[: CLIP - 3] + "..."


def draw_up(number: int, method: str, before: StateRecord, after: StateRecord, summarized: Sequence[int],
            left_out: Sequence[int] = (), result: CheckResult | None = None, probe: str = "") -> CompactionLedger:
    """The ledger of one compaction from the record before and after it."""
    ledger = CompactionLedger(number, method, list(summarized), list(left_out), probe=probe)
    ledger.kept = [i.id for i in after.items if i.active and i.carried]
    for item in after.items:
        old = before.get(item.id)
        if old is None:
            origin = "code" if item.origin == "floor" else item.origin
            ledger.added.append(LedgerItem(item.id, item.kind, _clip(item.text), f"{origin}, turns {item.turns}"
                                           if item.turns else origin))
        elif old.active and item.active and old.text != item.text:
            ledger.updated.append(LedgerItem(item.id, item.kind, _clip(item.text), f"was: {_clip(old.text)}"))
        if not item.active and (old is None or old.active):
            ledger.retired.append(LedgerItem(item.id, item.kind, _clip(item.text), item.reason or "no reason given"))
    if result is not None:
        ledger.checked, ledger.restored = result.checked, list(result.restored)
    return ledger


def _span(turns: list[int]) -> str:
    if not turns:
        return "no turns"
    return f"turns {turns[0]}-{turns[-1]} ({len(turns)})" if len(turns) > 1 else f"turn {turns[0]}"


def markdown(ledger: CompactionLedger) -> str:
    """One compaction's ledger for /compactions and `kimicode sessions show`."""
    head = f"### Compaction {ledger.number} ({ledger.method}): summarized {_span(ledger.summarized)}"
    lines = [head, ""]
    if ledger.abandoned:
        lines.append(f"- abandoned: {ledger.abandoned}")
    if ledger.left_out:
        lines.append(f"- not shown to the model (too large; code kept their floor): {_span(ledger.left_out)}")
    lines.append(f"- kept verbatim by code: {len(ledger.kept)} items" + (f" ({', '.join(ledger.kept)})" if ledger.kept else ""))
    lines.append(f"- check pass: {ledger.checked} carried items looked for, "
                 + (f"put back by code: {', '.join(ledger.restored)}" if ledger.restored else "all present"))
    if ledger.probe:
        lines.append(f"- probe: {ledger.probe}")
    for title, items in (("added", ledger.added), ("updated", ledger.updated), ("retired", ledger.retired)):
        if items:
            lines.append(f"- {title} ({len(items)}):")
            lines += [f"  - [{i.id}] {i.kind}: {i.text} — {i.note}" for i in items]
    return "\n".join(lines) + "\n"
