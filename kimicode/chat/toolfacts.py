"""What the tool calls of folded turns found, kept by code as state items with their source.

A summarizer asked to "keep the facts tools found" paraphrases or drops them; a compaction that
folds away ``read_file(path='calc/ops.py')`` and its result should still let the model know it
read that file and what was there without reading it again. So for every call whose result is
folded, code adds a ``fact`` item naming the call (tool and arguments), the gist of its result
(its first line and its size) and the result's turn. A newer call with the same arguments
replaces the older item's text (the earlier wording kept in ``previous``). The items are
ordinary model-kind facts: the summarizer may update or retire them, and they are the first
to give way when the record outgrows its shelf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from kimicode.chat.floor import TextTurn
from kimicode.chat.state import StateRecord
from kimicode.engine.transcript import call_line
from kimicode.prompt import ToolCall

ORIGIN = "tool"
SCULPTING = ("hide", "restore", "fragment")  # the context tools change what is shown, they find nothing
MAX_GIST = 160  # characters of a result's first line


@dataclass(frozen=True)
class ToolFact:
    source: str  # the call: ``read_file(path='calc/ops.py')``
    text: str
    turn: int  # the result's turn


def gist(result: str) -> str:
    """The result's first non-empty line, clipped, and how many lines it had."""
    lines = result.strip().split("\n")
    first = " ".join(next((line for line in lines if line.strip()), "").split())
    if len(first) > MAX_GIST:
        first = first[:MAX_GIST] + "..."
    return f"{first} ({len(lines)} lines)" if len(lines) > 1 else first or "(empty)"


def tool_facts(turns: Sequence[TextTurn]) -> list[ToolFact]:
    """One fact per tool result in ``turns`` whose call is known (the answer that made it is folded too)."""
    calls: dict[str, ToolCall] = {}
    facts: list[ToolFact] = []
    for turn in turns:
        made: Iterable[dict[str, Any]] = getattr(turn, "tool_calls", None) or ()
        for call in made:
            calls[call["id"]] = ToolCall(call["id"], call["name"], call["arguments"])
        call_id = getattr(turn, "call_id", "")
        found = calls.get(call_id) if turn.role == "tool" and call_id else None
        if found is None or found.name in SCULPTING:
            continue
        source = call_line(found)
        facts.append(ToolFact(source, f"{source}: {gist(turn.text)}", turn.id))
    return facts


def carry_tool_facts(record: StateRecord, facts: Iterable[ToolFact], number: int) -> list[str]:
    """Add (or refresh) one ``fact`` item per call; returns the ids of the new items."""
    from kimicode.secrets import redact

    added: list[str] = []
    for fact in facts:
        source = redact(fact.source, "tool call").text
        text = redact(fact.text, "tool call").text
        same = next((i for i in record.active("fact") if i.origin == ORIGIN and i.source == source), None)
        if same is None:
            added.append(record.add("fact", text, [fact.turn], ORIGIN, since=number, source=source).id)
            continue
        if same.text != text:
            same.previous.append(same.text)
            same.text = text
        same.turns = sorted({*same.turns, fact.turn})
    return added
