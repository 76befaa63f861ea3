"""The tool loop: the model calls tools for up to N rounds, then must answer.

Each round is one request sent by the send policy (``Sender.within_budget``: near-window count,
overflow shrink-and-retry), so every round's request is checked against the window like any
other. The maker of the request (ask, a conversation) builds it with the rounds so far and
records each new round (``record``); the loop runs the calls of a round in parallel (in order,
on its own thread, when one needs the user's approval), budgets
every result so that the next request still fits (a result too long is cut, with a marker
saying how to get the rest), and tells the face what ran (``ToolFinished``). After
``ToolPolicy.rounds`` rounds the tools are still described (the history refers to them) but
``tool_choice`` is "none" and the model is told to answer.

Thinking models get each round's reasoning back as-is (Kimi requires it in tool loops).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from kimicode.engine.events import Emit, Notice, ToolFinished
from kimicode.engine.send import Sender, Shrink
from kimicode.engine.transcript import call_line
from kimicode.prompt import MESSAGE_OVERHEAD, Message, Request, ToolCall, call_tokens
from kimicode.tools.base import Outcome, Toolbox

if TYPE_CHECKING:
    from kimicode.llm import ChatResult

MIN_RESULT = 64  # tokens: a result cut below this says only how to get it
MARKER_ROOM = 48  # tokens kept for the cut marker
FINAL_NOTE = ("You have used all {rounds} tool rounds this answer may take: answer now from what you have found, "
              "and say what you could not check.")


@dataclass(frozen=True)
class ToolPolicy:
    rounds: int = 8  # N: tool rounds before the model must answer
    result_tokens: int = 8_000  # most one result may take
    keep_rounds: int = 4  # K: results older than this many rounds are hidden (restorable)
    parallel: int = 4  # calls of one round run at once


@dataclass
class LoopResult:
    request: Request  # the last request sent
    result: ChatResult
    rounds: int  # tool rounds run
    calls: list[ToolFinished] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)  # every request sent, in order
    limited: bool = False  # the model still wanted tools when the round limit stopped it

    @property
    def prompt_tokens(self) -> int:
        """Our count of every prompt sent for this answer: what an answer with tools costs."""
        return sum(r.tokens for r in self.requests)


def cut_result(text: str, max_tokens: int, count: Callable[[str], int], hint: Callable[[str], str]) -> tuple[str, bool]:
    """``text`` within ``max_tokens``: whole lines from the top, then a marker saying how to get the
    rest (``hint`` of the text kept: read_file names the next line)."""
    total = count(text)
    if total <= max_tokens:
        return text, False
    lines = text.split("\n")

    def marker(kept: int) -> str:
        return (f"\n[cut to fit this answer's budget: {kept} of {len(lines)} lines shown, about {max_tokens:,} of "
                f"{total:,} tokens; {hint(chr(10).join(lines[:kept]))}]")

    low, high = 0, len(lines)
    while low < high:  # the most lines whose text and marker fit
        mid = (low + high + 1) // 2
        if count("\n".join(lines[:mid]) + marker(mid)) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    if low == 0:  # one enormous first line: keep what fits of it
        head = lines[0][: max(max_tokens - MARKER_ROOM, 0) * 3]
        while head and count(head + marker(0)) > max_tokens:
            head = head[: len(head) * 3 // 4]
        return head + marker(0), True
    return "\n".join(lines[:low]) + marker(low), True


class ToolLoop:
    """Runs the rounds of one answer for one toolbox."""

    def __init__(self, sender: Sender, toolbox: Toolbox, policy: ToolPolicy, count: Callable[[str], int]) -> None:
        self.sender = sender
        self.toolbox = toolbox
        self.policy = policy
        self.count = count

    @property
    def emit(self) -> Emit:
        return self.sender.emit

    def run(self, build: Callable[[Shrink | None], Request],
            record: Callable[[Message, list[tuple[ToolCall, str]]], list[int]]) -> LoopResult:
        """Send, run the calls, ``record`` the round (it returns the outputs' ids), until an answer."""
        sender = self.sender
        done: list[ToolFinished] = []
        requests: list[Request] = []
        thinking = sender.client.spec.thinking
        for number in range(1, self.policy.rounds + 2):
            final = number > self.policy.rounds
            request, result = sender.within_budget(build, self._last if final else sender.stream)
            requests.append(request)
            if final or result.partial or not result.tool_calls:
                limited = final and bool(result.tool_calls)
                if limited:
                    self.emit(Notice(f"the model still asked for tools after {self.policy.rounds} rounds "
                                     "(the tool round limit): its calls were not run", "warning", "tools"))
                return LoopResult(request, result, number - 1, done, requests, limited)
            answer = Message("assistant", result.content, result.reasoning if thinking else "", tuple(result.tool_calls))
            texts, runs = self._run_calls(result.tool_calls, self._budget(request, answer))
            ids = record(answer, texts)
            for (call, text), (seconds, outcome, cut), output in zip(texts, runs, ids):
                tool = self.toolbox.tools.get(call.name)
                done.append(ToolFinished(call, output, call_line(call), self.count(text), seconds, outcome.error, cut, text,
                                         tool.source if tool is not None else "kimicode"))
                self.emit(done[-1])
        raise AssertionError("unreachable: the last round is final")

    def _last(self, request: Request) -> ChatResult:
        """The answer after the last round: tools described (the history names them), none to call."""
        note = Message("user", FINAL_NOTE.format(rounds=self.policy.rounds))
        return self.sender.stream(request, tool_choice="none", extra=(note,))

    def _budget(self, request: Request, answer: Message) -> int:
        """Tokens each result of this round may take: the next request (this one, the answer and the
        results) must fit the window, with room kept for the rounds after it."""
        calls = len(answer.tool_calls)
        count = self.count
        grown = count(answer.content) + (count(answer.reasoning) if answer.reasoning else 0)
        grown += call_tokens(answer.tool_calls, count) + MESSAGE_OVERHEAD * (1 + calls)
        room = request.limit - request.tokens - grown - MARKER_ROOM * calls
        return max(min(self.policy.result_tokens, room // (calls + 1)), MIN_RESULT)

    def _run_calls(self, calls: Sequence[ToolCall], budget: int
                   ) -> tuple[list[tuple[ToolCall, str]], list[tuple[float, Outcome, bool]]]:
        def one(call: ToolCall) -> tuple[float, Outcome]:
            started = time.perf_counter()
            outcome = self.toolbox.call(call.name, call.arguments)
            return time.perf_counter() - started, outcome

        if any(not self.toolbox.read_only(call.name) for call in calls):
            # approval talks to the user: from this thread, in order, so that Ctrl-C at a
            # terminal's question reaches it (a pool thread would sit in input() for ever)
            ran = [one(call) for call in calls]
        else:
            with ThreadPoolExecutor(max_workers=max(1, min(self.policy.parallel, len(calls)))) as pool:
                ran = list(pool.map(one, calls))
        texts: list[tuple[ToolCall, str]] = []
        runs: list[tuple[float, Outcome, bool]] = []
        for call, (seconds, outcome) in zip(calls, ran):
            text, cut = cut_result(outcome.text, budget, self.count, self._hint(call, outcome))
            texts.append((call, text))
            runs.append((seconds, outcome, cut))
        return texts, runs

    def _hint(self, call: ToolCall, outcome: Outcome) -> Callable[[str], str]:
        tool = self.toolbox.tools.get(call.name)
        rest = tool.rest if tool is not None and not outcome.error else None
        if rest is None:
            return lambda kept: "ask for a narrower part"
        arguments = self.toolbox.arguments(call.name, call.arguments)  # it ran: its arguments parse
        return lambda kept: rest(arguments, kept)
