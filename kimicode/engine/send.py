"""The one send policy: every request to the model -- ask, chat, review -- goes through here.

What it owns, so that no caller keeps its own copy:

- near the window (``NEAR_WINDOW``) our estimate is not good enough: the provider's own count
  is asked first (Moonshot's free estimate endpoint; other servers have none, and are not asked
  again), learned from, and the request shrunk before sending if it would not fit;
- a "context too long" answer shrinks the request and retries once: to the window the provider
  named, when it named one (and that window is remembered for later commands,
  kimicode.discovery), else by ``OVERFLOW_SHRINK``;
- every answer's usage calibrates our token estimate for the model (kimicode.calibration);
- a model whose chat template drops system messages (``ModelSpec.system_role``) gets the system
  text at the head of the first user message;
- every answer is capped (``max_tokens``): by the request's reply shelf, never more than the plan's
  reply, which ``plan_for`` ties to the model's limits; a call that needs a shorter answer (a
  summary, a fix record) sends with ``plan.for_reply(wish)``. The answer streams out as events.

What shrinks is the caller's business: ``build(shrink)`` rebuilds the request smaller (a smaller
repository, a compacted history, a re-planned review) and says what it gave up through
``shrink.size``; a caller with nothing left to give raises ``CannotShrink``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from kimicode.engine.events import ContentDelta, Emit, Notice, ReasoningDelta, ToolCalled, UsageReported, ignore
from kimicode.prompt import (
    NEAR_WINDOW_MARGIN,
    OVERFLOW_SHRINK,
    SHARES,
    BudgetPlan,
    Message,
    Request,
    Shares,
    fold_system,
)

if TYPE_CHECKING:  # the client loads with its first request: `ask --dry-run` never needs it
    from kimicode.llm import ChatClient, ChatResult
    from kimicode.models import ModelSpec

T = TypeVar("T")
R = TypeVar("R")


class CannotShrink(Exception):
    """The request is as small as it gets: the provider's "too long" stands."""


@dataclass
class Shrink:
    """How much a request must give up, and what its builder gave up (for the notice)."""

    reason: str  # near-window | overflow | window (the provider named its window)
    over: int = 0  # near-window: tokens over the window by the provider's count
    given: list[str] = field(default_factory=list)

    def size(self, what: str, tokens: int) -> int:
        """The new size of a shelf now holding ``tokens``; ``what`` names it to the user."""
        if self.reason == "overflow":
            new = int(tokens * OVERFLOW_SHRINK)
        else:
            new = max(int((tokens - self.over) * NEAR_WINDOW_MARGIN), 0)
        self.given.append(f"{what} from {tokens:,} to {new:,} tokens")
        return new

    def describe(self) -> str:
        return " and ".join(self.given) or "the request"


def plan_for(spec: ModelSpec, reply_tokens: int, pack_budget: int, shares: Shares = SHARES) -> BudgetPlan:
    """The one place a model's limits become a budget plan: ``spec`` as kimicode.discovery resolved it
    (the window the server reports or a refusal taught), the reply at most the model's cap, the prompt
    at most what a slow local model reads within its time target (``spec.prompt_cap``)."""
    plan = BudgetPlan.for_model(spec.context_window, spec.max_output, reply_tokens, pack_budget, shares)
    return replace(plan, prompt_cap=spec.prompt_cap) if spec.prompt_cap is not None else plan


@dataclass(frozen=True)
class Calibration:
    """Where the provider's counts are learned for one model."""

    data_dir: Path
    model: str
    factor: float  # the factor our counter already applies: the figures it gave are scaled by it

    def record(self, estimated: int, actual: int, window: int | None = None) -> None:
        from kimicode import calibration

        calibration.record(self.data_dir, self.model, round(estimated / self.factor), actual, window=window)


def _itself(built: Any) -> Sequence[Request]:
    return [built]


class Sender:
    """Sends requests for one client and budget plan; one per command, or per conversation."""

    def __init__(self, client: ChatClient, plan: BudgetPlan, *, calibration: Calibration | None = None,
                 emit: Emit = ignore) -> None:
        self.client = client
        self.plan = plan
        self.calibration = calibration
        self.emit = emit
        self.unsaved: list[str] = []  # what could not be written (calibration): the caller says it once
        self._counts = True  # False once the endpoint showed it cannot count tokens for us

    # -- one request ------------------------------------------------------------------------

    def stream(self, request: Request, *, extra: Sequence[Message] = (), json_mode: bool = False,
               temperature: float | None = None, tool_choice: str | None = None) -> ChatResult:
        """Stream one answer to ``request`` (followed by ``extra`` messages, e.g. a retry's), offering its tools."""
        emit = self.emit
        messages = [*request.messages, *extra]
        if not self.client.spec.system_role:  # its template would drop the system shelf without a word
            messages = fold_system(messages)
        result = self.client.stream_chat(
            messages,
            on_content=lambda text: emit(ContentDelta(text)),
            on_reasoning=lambda text: emit(ReasoningDelta(text)),
            on_retry=lambda why: emit(Notice(why, "warning", "retry")),
            max_tokens=self.reply_cap(request),  # a runaway answer stops there
            temperature=temperature,
            response_format={"type": "json_object"} if json_mode else None,
            tools=request.tools or None,
            tool_choice=tool_choice if request.tools else None,
            prompt_tokens=request.tokens,  # a slow model's first token waits for the prompt to be read
        )
        for call in result.tool_calls:
            emit(ToolCalled(call))
        usage = result.usage
        if usage is not None:
            emit(UsageReported(result.model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens,
                               request.tokens))
            if usage.prompt_tokens and not extra:
                self.learn(request.tokens, usage.prompt_tokens)
        self._pace(result, request.tokens)
        return result

    def _pace(self, result: ChatResult, estimated: int) -> None:
        """Remember how fast the model answered: a model on this machine is sized by it. A server that
        reports no usage (llama-cpp-python's streams) is timed on our prompt estimate and the pieces it streamed."""
        if self.calibration is None or result.first_token is None or result.generating is None:
            return
        from kimicode.discovery import learn_speed

        usage = result.usage
        prompt, written = (usage.prompt_tokens, usage.completion_tokens) if usage is not None else (estimated, result.pieces)
        try:
            learn_speed(self.calibration.data_dir, self.client.endpoint.base_url, self.client.endpoint.model,
                        prompt, result.first_token, written, result.generating)
        except OSError:
            pass  # a cache of a measurement: the next answer measures it again

    def reply_cap(self, request: Request) -> int:
        """``max_tokens`` for ``request``: its reply shelf, never more than the plan reserves."""
        return min(request.reply, self.plan.reply) if request.reply else self.plan.reply

    def learn(self, estimated: int, actual: int) -> None:
        """Calibrate our estimate with the provider's count; a failed write is noted, never fatal."""
        if self.calibration is None:
            return
        try:
            self.calibration.record(estimated, actual, self.plan.window)
        except OSError as exc:
            self.unsaved.append(f"the token calibration ({exc.strerror or type(exc).__name__} in "
                                f"{exc.filename or 'the data dir'})")

    # -- within the window ------------------------------------------------------------------

    def within_budget(self, build: Callable[[Shrink | None], T], send: Callable[[T], R],
                      requests: Callable[[T], Sequence[Request]] = _itself) -> tuple[T, R]:
        """``build(None)``, checked near the window, then ``send``; after "too long", once more smaller.

        ``requests`` lists what a built value will send (a review plan sends several).
        """
        from kimicode.llm import ContextOverflow

        built = self._fit(build(None), build, requests)
        try:
            return built, send(built)
        except ContextOverflow as overflow:
            shrink = self._after_overflow(overflow, requests(built))
            try:
                smaller = build(shrink)
            except CannotShrink:
                raise overflow from None
            said = "the request is too long"
            if shrink.reason == "window":
                said = f"the model's window is {self.plan.window:,} tokens"
            self.emit(Notice(f"the provider says {said}; shrinking {shrink.describe()} and retrying once", "warning",
                             "shrink"))
            return smaller, send(smaller)

    def _after_overflow(self, overflow: Exception, sent: Sequence[Request]) -> Shrink:
        """How much to shrink after "too long": to the window the provider named, else by half."""
        limit = getattr(overflow, "limit", None)
        if not limit or limit >= self.plan.window or not sent:
            return Shrink("overflow")
        self.plan = self.plan.for_window(limit)  # the reply shrinks with it: max_tokens must fit too
        if self.calibration is not None:
            from kimicode.discovery import learn_window

            try:  # every later command plans with it (kimicode.discovery.resolve_limits)
                learn_window(self.calibration.data_dir, self.client.endpoint.base_url, self.client.endpoint.model,
                             limit, str(overflow))
            except OSError as exc:
                self.unsaved.append(f"the learned window ({exc.strerror or type(exc).__name__})")
        largest = max(request.tokens for request in sent)
        return Shrink("window", over=max(largest + self.plan.reply - limit, 1))

    def _fit(self, built: T, build: Callable[[Shrink | None], T], requests: Callable[[T], Sequence[Request]]) -> T:
        """Near the window, the provider's count decides whether the request fits."""
        for request in requests(built):
            if not self._counts or not self.plan.near_window(request.tokens):
                continue
            exact = self.client.estimate_tokens(request.messages)
            if exact is None:
                self._counts = False
                return built
            self.learn(request.tokens, exact)
            over = exact + self.plan.reply - self.plan.window
            if over <= 0:
                continue
            shrink = Shrink("near-window", over=over)
            try:
                smaller = build(shrink)
            except CannotShrink:
                return built  # sent as it is: an overflow answer is handled like any other
            self.emit(Notice(f"the provider counts {exact:,} prompt tokens; shrinking {shrink.describe()}", "warning",
                             "shrink"))
            return smaller
        return built
