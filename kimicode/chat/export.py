"""A session as Markdown or JSON, for `kimicode sessions show/export`."""

from __future__ import annotations

from typing import Any

from kimicode.chat.compaction import CompactionReport
from kimicode.chat.ledger import CompactionLedger, markdown
from kimicode.chat.records import Compacted, Ledgered, StateSaved, Turn
from kimicode.chat.session import LoadedSession
from kimicode.chat.state import StateRecord, render
from kimicode.repo.render import code_fence

TITLES = {"user": "User", "assistant": "Assistant", "file": "Attached file", "output": "Tool output", "note": "Note",
          "tool": "Tool call"}
FENCED = ("file", "output", "tool")


def final_state(loaded: LoadedSession) -> StateRecord:
    saved = loaded.of(StateSaved)
    return saved[-1].record if saved else StateRecord()


def compactions(loaded: LoadedSession) -> list[CompactionReport]:
    return [r.report for r in loaded.of(Compacted)]


def ledgers(loaded: LoadedSession) -> list[CompactionLedger]:
    return [r.ledger for r in loaded.of(Ledgered)]


def ledger_markdown(loaded: LoadedSession) -> str:
    """Every compaction's ledger: what it summarized, kept verbatim and retired, and why."""
    found = ledgers(loaded)
    if not found:
        return ""
    return "## Compactions\n\n" + "\n".join(markdown(ledger) for ledger in found)


def _turn_md(turn: Turn) -> str:
    title = TITLES.get(turn.role, turn.role)
    if turn.role in FENCED and turn.name:
        title += f" ({turn.name})"
    flags = " (partial)" if turn.partial else ""
    head = f"## {turn.id}. {title}{flags}" + (f" <small>{turn.time}</small>" if turn.time else "")
    if turn.role == "note":
        return f"> **Note ({turn.name or 'note'}):** {turn.text}\n"
    body = turn.text.rstrip()
    if turn.tool_calls:
        body = (body + "\n\n" if body else "") + "\n".join(f"- calls `{c['name']}({c['arguments']})`" for c in turn.tool_calls)
    if turn.role in FENCED:
        fence = code_fence(body)
        body = f"{fence}\n{body}\n{fence}"
    return f"{head}\n\n{body}\n"


def to_markdown(loaded: LoadedSession, include_state: bool = True) -> str:
    meta = loaded.meta
    lines = [f"# kimicode session {meta.id}", ""]
    lines.append(f"- repository: `{meta.root or 'unknown'}`")
    if meta.model:
        lines.append(f"- model: {meta.model}")
    if meta.created:
        lines.append(f"- started: {meta.created}")
    lines.append(f"- turns: {len(loaded.turns)}")
    lines.append("")
    parts = ["\n".join(lines)]
    parts += [_turn_md(t) for t in loaded.turns]
    state = final_state(loaded)
    if include_state and not state.empty:
        parts.append("---\n\n" + render(state).replace("# Conversation state", "## State summary", 1))
    ledger = ledger_markdown(loaded)
    if include_state and ledger:
        parts.append(ledger)
    return "\n".join(parts).rstrip() + "\n"


def to_json(loaded: LoadedSession) -> dict[str, Any]:
    return {
        "session": {"id": loaded.meta.id, "root": loaded.meta.root, "created": loaded.meta.created, "model": loaded.meta.model},
        "turns": [t.to_record() for t in loaded.turns],
        "state": final_state(loaded).to_dict(),
        "compactions": [c.to_dict() for c in compactions(loaded)],
        "ledgers": [ledger.to_dict() for ledger in ledgers(loaded)],
        "warnings": loaded.warnings,
    }
