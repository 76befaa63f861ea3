"""The context tools (Sculptor, arXiv 2508.04664): the model sets aside what no longer matters.

``hide(ids, summary)`` replaces outputs (and, in a conversation, turns) by a one-line summary,
``restore(ids)`` shows them again, ``fragment(id, ranges)`` keeps only some lines of a long
output, ``search_history(query)`` finds text in everything said or read so far, hidden or not.
None of them changes how many messages a request has or their order, and every change can be
undone: the text stays where it was recorded (the session file, or the answer's own memory).
``recall_errors(text)`` asks the error memory.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Protocol

from kimicode.tools.base import Tool, ToolError, int_arg, int_list, schema, text_arg

MAX_SUMMARY = 600  # characters of a hide summary


class Sculpt(Protocol):
    """What the context tools act on: the outputs (and turns) of one answer or conversation."""

    def hide(self, ids: list[int], summary: str) -> str: ...
    def restore(self, ids: list[int]) -> str: ...
    def fragment(self, item: int, ranges: list[tuple[int, int]]) -> str: ...
    def search(self, query: str) -> str: ...


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def ranges_arg(arguments: dict[str, Any]) -> list[tuple[int, int]]:
    """``ranges`` as [[a, b], ...] or ["a-b", ...] (1-based, inclusive lines)."""
    value = arguments.get("ranges")
    if not isinstance(value, list) or not value:
        raise ToolError("ranges must be a list of line ranges like [[10, 40]] or [\"10-40\"]")
    out: list[tuple[int, int]] = []
    for item in value:
        if isinstance(item, list) and len(item) == 2 and all(isinstance(v, int) for v in item):
            first, last = item
        elif isinstance(item, str) and _RANGE.match(item):
            match = _RANGE.match(item)
            assert match is not None
            first = int(match.group(1))
            last = int(match.group(2) or first)
        else:
            raise ToolError(f"bad range {item!r}: use [first, last] or \"first-last\"")
        if first < 1 or last < first:
            raise ToolError(f"bad range {item!r}: lines count from 1 and a range ends after it starts")
        out.append((first, last))
    return out


def context_tools(target: Sculpt, recall: Callable[[str], str] | None = None) -> list[Tool]:
    ids = {"type": "array", "items": {"type": "integer"}, "description": "output ids, as in [output of ..., id N], or turn ids (search_history gives them)"}

    def hide(arguments: dict[str, Any]) -> str:
        summary = text_arg(arguments, "summary", required=False).strip()
        return target.hide(int_list(arguments, "ids"), summary[:MAX_SUMMARY])

    def fragment(arguments: dict[str, Any]) -> str:
        item = int_arg(arguments, "id")
        if item is None:
            raise ToolError("missing argument 'id'")
        return target.fragment(item, ranges_arg(arguments))

    def search(arguments: dict[str, Any]) -> str:
        query = text_arg(arguments, "query").strip()
        if not query:
            raise ToolError("the query is empty")
        return target.search(query)

    tools = [
        Tool("hide", "Hide outputs or conversation turns you no longer need behind a short summary of what matters in them "
             "(kept on record: restore shows them again).",
             schema(["ids"], ids=ids, summary={"type": "string", "description": "what to remember of them, briefly"}), hide),
        Tool("restore", "Show hidden outputs or turns again, whole.", schema(["ids"], ids=ids),
             lambda arguments: target.restore(int_list(arguments, "ids"))),
        Tool("fragment", "Keep only the lines of a long output that matter (the rest is hidden; restore shows it all again).",
             schema(["id", "ranges"], id={"type": "integer"},
                    ranges={"type": "array", "items": {"type": "string"}, "description": "line ranges like \"10-40\""}),
             fragment),
        Tool("search_history", "Find words in every output and turn so far, hidden ones too; gives ids and lines.",
             schema(["query"], query={"type": "string"}), search),
    ]
    if recall is not None:
        tools.append(Tool("recall_errors", "What the error memory knows about an error message: past causes and fixes.",
                          schema(["text"], text={"type": "string"}),
                          lambda arguments: recall(text_arg(arguments, "text")) or "nothing recorded for this error"))
    return tools
