"""Send each part of a review plan to the model and collect validated findings.

An answer that is not the JSON asked for gets one more chance: the conversation goes on
with the reason and a request for the JSON object only, this time with
``response_format={"type": "json_object"}`` (dropped again if the endpoint rejects it).
A part that still fails, or whose request fails (no network, a bad key, the provider down
after the client's bounded retries), is reported as not reviewed: the caller decides
whether that fails open. Sending goes through the engine's send policy: near the window the
provider's count is asked first, and if the provider says a request is too long the plan is
made again, once, with a smaller budget.

With a deadline (``review.deadline``: a commit must not wait for ever on a stuck provider),
every request ends by it, the parts not sent by then are reported as not reviewed, and a
progress line says how long the review has been waiting.
"""

from __future__ import annotations

import string
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from kimicode.engine.events import Event, Notice
from kimicode.engine.send import Calibration, CannotShrink, Sender, Shrink
from kimicode.llm import ChatClient, ChatResult, ContextOverflow, DeadlineExceeded, LLMError
from kimicode.prompt import BudgetPlan, Message, Request
from kimicode.review.findings import Finding, InvalidFindings, merge, parse_findings
from kimicode.review.request import Part, Plan, PlanError, prompt_sections

Notify = Callable[[str], None]
Estimate = Callable[[int], float | None]  # seconds a request of so many prompt tokens takes (a slow local model), or None
PROGRESS_EVERY = 15.0  # seconds between "still waiting" lines (sooner with a short deadline)


@dataclass(frozen=True)
class Deadline:
    """When the whole review must end (a time.monotonic() value) and the setting that says so."""

    at: float
    why: str  # e.g. "review.deadline = 120 s"

    def passed(self) -> bool:
        return time.monotonic() >= self.at


@dataclass
class Outcome:
    findings: list[Finding]
    failures: list[str]  # one line per part that could not be reviewed
    parts: int
    reviewed: int  # parts that were reviewed (their findings may be empty)
    model: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)
    timed_out: bool = False  # the deadline stopped the review before every part was done

    @property
    def complete(self) -> bool:
        return not self.failures


class _Interrupted(Exception):
    pass


@dataclass
class _PartResult:
    findings: list[Finding] | None = None  # None: the part was not reviewed
    failure: str | None = None
    unreachable: bool = False  # the request itself failed: the next parts would fail alike
    timed_out: bool = False  # the deadline passed during this part


def _answer(result: ChatResult) -> list[Finding]:
    if result.interrupted:
        raise _Interrupted()
    if result.partial:
        raise InvalidFindings(result.error or "the answer was cut short")
    return parse_findings(result.content)


def _rest(first: int, total: int) -> str:
    """The parts from ``first`` on, for a line saying they were not sent."""
    return f"part {total} of {total}" if first == total else f"parts {first} to {total} of {total}"


class _Reviewer:
    """Sends the parts of one plan; what it found so far survives a failure midway."""

    def __init__(self, sender: Sender, notify: Notify, deadline: Deadline | None, estimate: Estimate | None = None) -> None:
        self.sender = sender
        self.notify = notify
        self.deadline = deadline
        self.estimate = estimate
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model = sender.client.endpoint.model
        self.groups: list[list[Finding]] = []
        self.failures: list[str] = []
        self.timed_out = False

    def _send(self, request: Request, extra: list[Message] | None = None, json_mode: bool = False) -> ChatResult:
        result = self.sender.stream(request, extra=extra or (), json_mode=json_mode, temperature=0.0)
        self.requests += 1
        self.model = result.model or self.model
        if result.usage is not None:
            self.prompt_tokens += result.usage.prompt_tokens
            self.completion_tokens += result.usage.completion_tokens
        return result

    def plan(self, plan: Plan) -> None:
        """Every part in turn; raises ContextOverflow (the send policy re-plans) and _Interrupted."""
        self.groups, self.failures = [], []
        for number, part in enumerate(plan.parts, start=1):
            label = f"part {number} of {len(plan.parts)}: " if len(plan.parts) > 1 else ""
            if self.deadline is not None and self.deadline.passed():
                self.timed_out = True
                self.failures.append(f"{_rest(number, len(plan.parts))} not sent: {self.deadline.why} passed")
                break
            seconds = self.estimate(part.tokens) if self.estimate is not None else None
            if seconds is not None and number > 1 and self.deadline is not None and \
                    time.monotonic() + seconds > self.deadline.at:
                # a slow local model: a part that cannot end before the deadline is not begun (it would be cut)
                self.timed_out = True
                self.failures.append(f"{_rest(number, len(plan.parts))} not sent: at this model's speed "
                                     f"(~{seconds:.0f} s a part) they would not end within {self.deadline.why}")
                break
            if len(plan.parts) > 1:
                took = f", ~{seconds:.0f} s" if seconds is not None else ""
                self.notify(f"{label}~{part.tokens:,} prompt tokens{took}…")
            result = self.part(part, label)
            self.timed_out = self.timed_out or result.timed_out
            if result.findings is not None:
                self.groups.append(result.findings)
            if result.failure is not None:
                self.failures.append(label + result.failure)
            if result.unreachable and number < len(plan.parts):
                # no network, a bad key, or no time left: each further part would fail alike
                self.failures.append(f"{_rest(number + 1, len(plan.parts))} not sent")
                break

    def part(self, part: Part, label: str) -> _PartResult:
        """Findings, or why there are none. Raises ContextOverflow."""
        assert part.request is not None
        try:
            first = self._send(part.request)
        except ContextOverflow:
            raise
        except LLMError as exc:
            return _PartResult(failure=str(exc), unreachable=True, timed_out=isinstance(exc, DeadlineExceeded))
        if first.timed_out:  # asking again cannot help: the time is up
            return _PartResult(failure=first.error, unreachable=True, timed_out=True)
        try:
            return _PartResult(_answer(first))
        except InvalidFindings as exc:
            problem = str(exc)
        self.notify(f"{label}the model's answer was not valid findings JSON ({problem}); asking once more")
        retry = string.Template(prompt_sections()["retry"]).substitute(error=problem)
        # thinking models (Moonshot's k2.7-code, k3) need earlier reasoning sent back as-is
        again = [Message("assistant", first.content, first.reasoning), Message("user", retry)]
        try:
            try:
                second = self._send(part.request, again, json_mode=True)
            except ContextOverflow:
                raise
            except LLMError as exc:
                if exc.status not in (400, 422):
                    raise
                second = self._send(part.request, again)  # the endpoint does not take response_format
            if second.timed_out:
                return _PartResult(failure=second.error, unreachable=True, timed_out=True)
            return _PartResult(_answer(second))
        except ContextOverflow:
            return _PartResult(failure=f"the retry did not fit the model's window ({problem})")
        except LLMError as exc:
            return _PartResult(failure=str(exc), unreachable=True, timed_out=isinstance(exc, DeadlineExceeded))
        except InvalidFindings as exc:
            return _PartResult(failure=f"the model did not return valid findings JSON twice ({exc})")


class _Progress:
    """Says every so often, from a thread of its own, how long the review has been waiting."""

    def __init__(self, notify: Notify, started: float, deadline: Deadline | None) -> None:
        self.notify = notify
        self.started = started
        self.deadline = deadline
        self.every = PROGRESS_EVERY
        if deadline is not None:
            self.every = min(PROGRESS_EVERY, max((deadline.at - started) / 4, 1.0))
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kimicode-review-progress", daemon=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.every):
            waited = time.monotonic() - self.started
            limit = f"; it stops at {self.deadline.why}" if self.deadline is not None else ""
            self.notify(f"still waiting for the review: {waited:.0f} s{limit}")


def review(plan: Plan, replan: Callable[[int], Plan], client: ChatClient, budget: BudgetPlan, notify: Notify,
           calibration: Calibration | None = None, deadline: Deadline | None = None,
           estimate: Estimate | None = None) -> Outcome:
    """Review every part of ``plan``; raises KeyboardInterrupt when the user interrupts.

    ``estimate``: how long a part takes at a slow local model's measured speed; with a deadline, a
    part that would not end before it is not sent (the first always is)."""
    started = time.monotonic()
    notes: list[str] = []
    refused: list[str] = []  # why a smaller plan could not be made

    def show(event: Event) -> None:
        if isinstance(event, Notice):
            notify(event.text)
            if event.topic == "shrink":
                notes.append(event.text)

    def build(shrink: Shrink | None) -> Plan:
        if shrink is None:
            return plan
        try:
            smaller = replan(shrink.size("the review budget", plan.budget))
        except PlanError as error:
            refused.append(str(error))
            raise CannotShrink from None
        notes.extend(smaller.notes)
        return smaller

    if deadline is not None:
        client.finish_by(deadline.at, deadline.why)
    sender = Sender(client, budget, calibration=calibration, emit=show)
    reviewer = _Reviewer(sender, notify, deadline, estimate)
    final = plan
    with _Progress(notify, started, deadline):
        try:
            final, _ = sender.within_budget(build, reviewer.plan,
                                            requests=lambda built: [p.request for p in built.parts if p.request])
        except ContextOverflow as exc:
            reviewer.failures.append(f"{exc} (and {refused[0]})" if refused else str(exc))
        except _Interrupted:
            raise KeyboardInterrupt from None
    notes.extend(f"not saved: {what}" for what in sender.unsaved)
    return Outcome(
        findings=merge(reviewer.groups), failures=reviewer.failures, parts=len(final.parts), reviewed=len(reviewer.groups),
        model=reviewer.model, requests=reviewer.requests, prompt_tokens=reviewer.prompt_tokens,
        completion_tokens=reviewer.completion_tokens, elapsed=time.monotonic() - started, notes=notes,
        timed_out=reviewer.timed_out,
    )
