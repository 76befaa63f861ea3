"""The tool rounds of one answer as a request shows them, and the context tools' changes to them.

Each round is the answer that called tools and one result per call. A result is shown whole
(as budgeted when it ran), hidden behind a summary (by the model's ``hide``, or automatically
once it is ``keep_rounds`` rounds old), or cut to the lines the model kept (``fragment``).
Every result stays here whole, so each change can be undone; hiding changes a message's text,
never the number or order of messages (the provider's cached prefix up to it survives).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Callable

from kimicode.prompt import MESSAGE_OVERHEAD, Message, ToolCall, TurnView, call_tokens
from kimicode.tools.base import ToolError

SEARCH_HITS = 40
ARGS_SHOWN = 120  # characters of a call's arguments in a hidden output's line


def call_line(call: ToolCall) -> str:
    """``read_file(path='a.py')``: one line naming a call, for stubs and faces."""
    try:
        arguments = json.loads(call.arguments or "{}")
        shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items()) if isinstance(arguments, dict) else call.arguments
    except ValueError:
        shown = call.arguments
    if len(shown) > ARGS_SHOWN:
        shown = shown[:ARGS_SHOWN] + "..."
    return f"{call.name}({shown})"


def shown_output(number: int, line: str, text: str, hidden: str | None = None,
                 kept: tuple[tuple[int, int], ...] = ()) -> str:
    """A tool result as a request shows it: whole, hidden behind its summary, or the kept lines."""
    head = f"[output of {line}, id {number}]"  # the system prompt's frame for data
    if hidden is not None:
        why = f": {hidden}" if hidden else " (automatically, as older rounds are)"
        return f"{head} hidden{why}. restore([{number}]) shows it again."
    if kept:
        lines = text.split("\n")
        parts = [f"lines {a}-{b}:\n" + "\n".join(lines[a - 1:b]) for a, b in kept]
        return f"{head} only the kept lines ({len(lines)} in all; restore([{number}]) shows all)\n" + "\n".join(parts)
    return f"{head}\n{text}"


def kept_lines(text: str, number: int, ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The ranges of ``fragment`` that fall inside the result (ToolError when none does)."""
    total = len(text.split("\n"))
    kept = tuple((a, min(b, total)) for a, b in sorted(ranges) if a <= total)
    if not kept:
        raise ToolError(f"output {number} has {total} lines: no range falls inside it")
    return kept


def matching_lines(number: int, text: str, words: list[str], hidden: bool, label: str = "") -> list[str]:
    """``search_history``'s hits in one result (or turn: ``label``): every line holding all the words."""
    state = " (hidden)" if hidden else ""
    return [f"{label or f'output {number}'}{state} line {n}: {line.strip()[:200]}" for n, line in enumerate(text.split("\n"), 1)
            if all(w in line.lower() for w in words)]


def search_report(hits: list[str], searched: str, query: str) -> str:
    """``searched``: what was looked through, counted ("3 outputs", "5 outputs and 4 turns")."""
    if not hits:
        return f"nothing in {searched} holds {query!r}"
    more = f"\n[{len(hits) - SEARCH_HITS} more]" if len(hits) > SEARCH_HITS else ""
    return "\n".join(hits[:SEARCH_HITS]) + more


@dataclass
class Output:
    id: int
    round: int
    call: ToolCall
    text: str  # as shown when it ran (budgeted, framed)
    hidden: str | None = None  # the summary it is hidden behind ("": hidden automatically)
    kept: tuple[tuple[int, int], ...] = ()  # fragment: the lines kept
    pinned_until: int = 0  # restored: auto-hiding leaves it alone until this round

    def shown(self) -> str:
        return shown_output(self.id, call_line(self.call), self.text, self.hidden, self.kept)


@dataclass
class Round:
    answer: Message  # content, reasoning and the tool calls
    outputs: list[Output] = field(default_factory=list)
    reply: str = ""  # what the user's side said after an answer without calls (ask --edit: the failed tests)


class Transcript:
    """The rounds of one answer; implements the context tools (kimicode.tools.context.Sculpt)."""

    def __init__(self, count: Callable[[str], int], keep_rounds: int = 4) -> None:
        self.count = count
        self.keep_rounds = keep_rounds
        self.rounds: list[Round] = []
        self._outputs: dict[int, Output] = {}
        self.lock = threading.Lock()  # context tools of one round run in parallel

    def __len__(self) -> int:
        return len(self.rounds)

    @property
    def next_id(self) -> int:
        return len(self._outputs) + 1

    def add_round(self, answer: Message, results: list[tuple[ToolCall, str]]) -> list[Output]:
        number = len(self.rounds) + 1
        outputs = [Output(self.next_id + i, number, call, text) for i, (call, text) in enumerate(results)]
        self.rounds.append(Round(answer, outputs))
        self._outputs.update((o.id, o) for o in outputs)
        for output in self._outputs.values():  # the K-round rule: old outputs step aside, restorable
            if output.hidden is None and output.round <= number - self.keep_rounds and output.pinned_until < number:
                output.hidden = ""
        return outputs

    def add_reply(self, answer: Message, text: str) -> None:
        """An answer that called no tools, and the user's side's reply to it (the next request ends with it)."""
        self.rounds.append(Round(answer, [], text))

    def views(self) -> list[TurnView]:
        views: list[TurnView] = []
        count = self.count
        for round_ in self.rounds:
            answer = round_.answer
            tokens = count(answer.content) + (count(answer.reasoning) if answer.reasoning else 0)
            views.append(TurnView(0, "assistant", answer.content, answer.reasoning,
                                  tokens + MESSAGE_OVERHEAD + call_tokens(answer.tool_calls, count),
                                  tool_calls=answer.tool_calls))
            for output in round_.outputs:
                text = output.shown()
                views.append(TurnView(output.id, "tool", text, "", count(text) + MESSAGE_OVERHEAD, call_id=output.call.id))
            if round_.reply:
                views.append(TurnView(0, "user", round_.reply, "", count(round_.reply) + MESSAGE_OVERHEAD))
        return views

    def hide_oldest(self) -> bool:
        """Hide the oldest output still shown (to fit the window); False when none is left."""
        for output in sorted(self._outputs.values(), key=lambda o: o.id):
            if output.hidden is None:
                output.hidden = ""
                return True
        return False

    # -- the context tools ------------------------------------------------------------------

    def _get(self, ids: list[int]) -> list[Output]:
        missing = [i for i in ids if i not in self._outputs]
        if missing:
            known = f"1-{len(self._outputs)}" if self._outputs else "none yet"
            raise ToolError(f"no output {', '.join(map(str, missing))} (outputs: {known})")
        return [self._outputs[i] for i in ids]

    def hide(self, ids: list[int], summary: str) -> str:
        with self.lock:
            for output in self._get(ids):
                output.hidden, output.kept = summary, ()
        return f"hidden: {', '.join(map(str, ids))}"

    def restore(self, ids: list[int]) -> str:
        with self.lock:
            for output in self._get(ids):
                output.hidden, output.kept = None, ()
                output.pinned_until = len(self.rounds) + self.keep_rounds
        return f"restored: {', '.join(map(str, ids))} (shown whole from the next request on)"

    def fragment(self, item: int, ranges: list[tuple[int, int]]) -> str:
        output = self._get([item])[0]
        kept = kept_lines(output.text, item, ranges)
        with self.lock:
            output.kept, output.hidden = kept, None
        return f"output {item}: kept lines {', '.join(f'{a}-{b}' for a, b in kept)} of {len(output.text.split(chr(10)))}"

    def search(self, query: str) -> str:
        words = query.lower().split()
        hits = [hit for output in sorted(self._outputs.values(), key=lambda o: o.id)
                for hit in matching_lines(output.id, output.text, words, output.hidden is not None)]
        return search_report(hits, f"{len(self._outputs)} outputs", query)

