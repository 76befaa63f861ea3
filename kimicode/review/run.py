"""Send each part of a review plan to the model and collect validated findings.

An answer that is not the JSON asked for gets one more chance: the conversation goes on
with the reason and a request for the JSON object only, this time with
``response_format={"type": "json_object"}`` (dropped again if the endpoint rejects it).
A part that still fails, or whose request fails (no network, a bad key, the provider down
after the client's bounded retries), is reported as not reviewed: the caller decides
whether that fails open. If the provider says a request is too long for the window, the
plan is rebuilt once with a smaller budget.

With a deadline (``review.deadline``: a commit must not wait for ever on a stuck provider),
every request ends by it, the parts not sent by then are reported as not reviewed, and a
progress line says how long the review has been waiting.
"""

from __future__ import annotations

import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kimicode.llm import ChatClient, ChatResult, ContextOverflow, DeadlineExceeded, Endpoint, LLMError
from kimicode.models import ModelSpec
from kimicode.prompt import Message
from kimicode.review.findings import Finding, InvalidFindings, merge, parse_findings
from kimicode.review.request import Plan, PlanError, prompt_sections

Notify = Callable[[str], None]
OVERFLOW_SHRINK = 0.6  # of the budget, for the one re-plan after the provider says "too long"
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
    samples: list[tuple[int, int]] = field(default_factory=list)  # (our estimate, provider's count)
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
    counted: int | None = None  # the provider's prompt tokens for the first request
    unreachable: bool = False  # the request itself failed: the next parts would fail alike
    timed_out: bool = False  # the deadline passed during this part


def _answer(result: ChatResult) -> list[Finding]:
    if result.interrupted:
        raise _Interrupted()
    if result.partial:
        raise InvalidFindings(result.error or "the answer was cut short")
    return parse_findings(result.content)


def _assistant(result: ChatResult) -> Message:
    # Thinking models (Moonshot's k2.7-code, k3) need earlier reasoning sent back as-is.
    return Message("assistant", result.content, result.reasoning)


class _Reviewer:
    def __init__(self, client: ChatClient, notify: Notify) -> None:
        self.client = client
        self.notify = notify
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model = client.endpoint.model

    def _send(self, messages: list[Message], json_mode: bool = False) -> ChatResult:
        result = self.client.stream_chat(messages, temperature=0.0, on_retry=lambda why: self.notify(why),
                                         response_format={"type": "json_object"} if json_mode else None)
        self.requests += 1
        self.model = result.model or self.model
        if result.usage is not None:
            self.prompt_tokens += result.usage.prompt_tokens
            self.completion_tokens += result.usage.completion_tokens
        return result

    def part(self, messages: list[Message], label: str) -> _PartResult:
        """Findings, or why there are none. Raises ContextOverflow."""
        try:
            first = self._send(messages)
        except ContextOverflow:
            raise
        except LLMError as exc:
            return _PartResult(failure=str(exc), unreachable=True, timed_out=isinstance(exc, DeadlineExceeded))
        counted = first.usage.prompt_tokens if first.usage else None
        if first.timed_out:  # asking again cannot help: the time is up
            return _PartResult(failure=first.error, counted=counted, unreachable=True, timed_out=True)
        try:
            return _PartResult(_answer(first), counted=counted)
        except InvalidFindings as exc:
            problem = str(exc)
        self.notify(f"{label}the model's answer was not valid findings JSON ({problem}); asking once more")
        retry = string.Template(prompt_sections()["retry"]).substitute(error=problem)
        again = messages + [_assistant(first), Message("user", retry)]
        try:
            try:
                second = self._send(again, json_mode=True)
            except ContextOverflow:
                raise
            except LLMError as exc:
                if exc.status not in (400, 422):
                    raise
                second = self._send(again)  # the endpoint does not take response_format
            if second.timed_out:
                return _PartResult(failure=second.error, counted=counted, unreachable=True, timed_out=True)
            return _PartResult(_answer(second), counted=counted)
        except ContextOverflow:
            return _PartResult(failure=f"the retry did not fit the model's window ({problem})", counted=counted)
        except LLMError as exc:
            return _PartResult(failure=str(exc), counted=counted, unreachable=True, timed_out=isinstance(exc, DeadlineExceeded))
        except InvalidFindings as exc:
            return _PartResult(failure=f"the model did not return valid findings JSON twice ({exc})", counted=counted)


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


def review(plan: Plan, replan: Callable[[int], Plan], endpoint: Endpoint, spec: ModelSpec, notify: Notify,
           deadline: Deadline | None = None) -> Outcome:
    """Review every part of ``plan``; raises KeyboardInterrupt when the user interrupts."""
    started = time.monotonic()
    notes: list[str] = []
    timed_out = False
    client = ChatClient(endpoint, spec)
    if deadline is not None:
        client.finish_by(deadline.at, deadline.why)
    with client, _Progress(notify, started, deadline):
        reviewer = _Reviewer(client, notify)
        shrunk = False
        while True:
            groups: list[list[Finding]] = []
            failures: list[str] = []
            samples: list[tuple[int, int]] = []
            try:
                for number, part in enumerate(plan.parts, start=1):
                    label = f"part {number} of {len(plan.parts)}: " if len(plan.parts) > 1 else ""
                    if deadline is not None and deadline.passed():
                        timed_out = True
                        failures.append(f"{_rest(number, len(plan.parts))} not sent: {deadline.why} passed")
                        break
                    result = reviewer.part(part.messages, label)
                    timed_out = timed_out or result.timed_out
                    if result.findings is not None:
                        groups.append(result.findings)
                    if result.failure is not None:
                        failures.append(label + result.failure)
                    if result.counted:
                        samples.append((part.tokens, result.counted))
                    if result.unreachable and number < len(plan.parts):
                        # no network, a bad key, or no time left: each further part would fail alike
                        failures.append(f"{_rest(number + 1, len(plan.parts))} not sent")
                        break
                break
            except ContextOverflow as exc:
                if shrunk:
                    failures.append(str(exc))
                    break
                shrunk = True
                smaller = int(plan.budget * OVERFLOW_SHRINK)
                note = f"the provider says the request is too long; re-planning with {smaller:,} tokens instead of {plan.budget:,}"
                notify(note)
                notes.append(note)
                try:
                    plan = replan(smaller)
                except PlanError as error:
                    failures.append(f"{exc} (and {error})")
                    break
                notes.extend(plan.notes)
            except _Interrupted:
                raise KeyboardInterrupt from None
    return Outcome(
        findings=merge(groups), failures=failures, parts=len(plan.parts), reviewed=len(groups), model=reviewer.model,
        requests=reviewer.requests, prompt_tokens=reviewer.prompt_tokens,
        completion_tokens=reviewer.completion_tokens, elapsed=time.monotonic() - started,
        samples=samples, notes=notes, timed_out=timed_out,
    )


def _rest(first: int, total: int) -> str:
    """The parts from ``first`` on, for a line saying they were not sent."""
    return f"part {total} of {total}" if first == total else f"parts {first} to {total} of {total}"
