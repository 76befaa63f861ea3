"""`kimicode ask`: one question, the packed repository, a streamed answer."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from kimicode import exit_codes
from kimicode.commands.common import Failure, UsageFailure, repo_root_of, settings_or_exit
from kimicode.engine.events import ContentDelta, Event, Notice, ReasoningDelta

if TYPE_CHECKING:
    from kimicode.ask import AskRequest
    from kimicode.config import Settings
    from kimicode.llm import ChatResult
    from kimicode.models import ModelSpec
    from kimicode.prompt import BudgetPlan, Redaction, Request
    from kimicode.tokens import TokenCounter


def _read_stdin() -> str:
    if sys.stdin is None or sys.stdin.closed or sys.stdin.isatty():
        return ""
    try:
        # bytes, decoded leniently: one stray byte in a piped log must not drop the whole log
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data


def _print_dry_run(request: Request, as_json: bool) -> None:
    from kimicode.prompt import wire

    rows = request.shelves.rows()
    if as_json:
        click.echo(json.dumps({"messages": wire(request.messages), "shelves": {n: t for n, t, _ in rows},
                               "window": request.shelves.window}, indent=1))
        return
    for message in request.messages:
        click.echo(f"----- {message.role} -----")
        click.echo(message.content)
    click.echo("----- token budget (estimated) -----")
    for name, tokens, share in rows:
        click.echo(f"{name:<8} {tokens:>10,}  {share:5.1f}%")
    click.echo(f"{'total':<8} {request.shelves.total:>10,}  of a {request.shelves.window:,}-token window")


class _AnswerPrinter:
    """Streams the answer: rendered markdown on a terminal, plain text into a pipe."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.text = ""
        self._live = None
        if not quiet and sys.stdout.isatty():
            from rich.console import Console
            from rich.live import Live
            from rich.markdown import Markdown

            self._markdown = Markdown
            self._live = Live(Markdown(""), console=Console(), refresh_per_second=8, vertical_overflow="visible")
            self._live.start()

    def __call__(self, delta: str) -> None:
        self.text += delta
        if self.quiet:
            return
        if self._live is not None:
            self._live.update(self._markdown(self.text))
        else:
            sys.stdout.write(delta)
            sys.stdout.flush()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
        elif not self.quiet and self.text and not self.text.endswith("\n"):
            sys.stdout.write("\n")


class _ReasoningPrinter:
    """Streams the model's reasoning to stderr, dimmed on a colour terminal, plain otherwise."""

    def __init__(self) -> None:
        self.text = ""
        # click.echo strips styles when stderr is not a terminal; NO_COLOR turns them off everywhere
        self._color = False if os.environ.get("NO_COLOR") else None

    def __call__(self, delta: str) -> None:
        self.text += delta
        click.echo(click.style(delta, dim=True), err=True, nl=False, color=self._color)

    def close(self) -> None:
        if self.text and not self.text.endswith("\n"):
            click.echo("", err=True)  # what follows on stderr starts on a line of its own


@click.command("ask")
@click.argument("question")
@click.option("--file", "files", multiple=True, type=click.Path(path_type=Path, dir_okay=False), help="Add this file in full; repeatable.")
@click.option("--query", help="What to pack the repository for (default: the question).")
@click.option("--budget", type=click.IntRange(min=1), help="Most tokens the packed repository may take [config pack.budget].")
@click.option("--no-repo", is_flag=True, help="Do not include the repository.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: answer, model, usage, files, timings.")
@click.option("--dry-run", is_flag=True, help="Print the exact messages and a token table per shelf; call nothing.")
@click.option("--model", help="Model name [config model, KIMICODE_MODEL].")
@click.option("--base-url", help="OpenAI-compatible endpoint [config base_url, KIMICODE_BASE_URL].")
@click.option("--verbose", "-v", is_flag=True, help="Show the model's reasoning (dimmed, on stderr).")
@click.option("--remember", is_flag=True, help="After the answer, record the error's root cause and fix in memory.")
def command(question: str, files: tuple[Path, ...], query: str | None, budget: int | None, no_repo: bool,
            as_json: bool, dry_run: bool, model: str | None, base_url: str | None, verbose: bool, remember: bool) -> None:
    """Ask QUESTION about the repository here; piped stdin is added as context."""
    from kimicode import calibration
    from kimicode.ask import AskInputs, AskRequest, RequestError
    from kimicode.engine.send import plan_for
    from kimicode.llm import needs_key
    from kimicode.locations import user_locations
    from kimicode.models import model_spec
    from kimicode.repo.files import refusal
    from kimicode.repo.pack import PackOptions
    from kimicode.tokens import TokenCounter

    started = time.perf_counter()
    if not question.strip():
        raise UsageFailure("the question is empty")
    root = repo_root_of(Path.cwd())
    refused = None if no_repo else refusal(root)
    if refused:
        # before anything reads the folder: not even AGENTS.md of a home directory is sent
        click.echo(f"kimicode: {refused}", err=True)
        no_repo = True
    settings = settings_or_exit(root, {"model": model, "base_url": base_url, "pack.budget": budget})
    if not dry_run and not settings.api_key and needs_key(settings.base_url):
        raise UsageFailure("no API key: set MOONSHOT_API_KEY (or KIMICODE_API_KEY, or api_key in config.toml)")
    spec = model_spec(settings.model, settings.models)
    locations = user_locations()
    counter = TokenCounter(settings.pack.encoding, calibration.factor(locations.data_dir, settings.model))
    plan = plan_for(spec, settings.ask.reply_tokens, settings.pack.budget)
    options = PackOptions.from_settings(settings.pack, counter)
    stdin = _read_stdin()
    repo_root = None if no_repo else root
    inputs = AskInputs(question, repo_root, files, stdin, query, memory=_recall(f"{question}\n{stdin}", repo_root, settings, plan))
    try:
        asking = AskRequest(inputs, counter, plan, options, locations.cache_dir)
        request = asking.build()
    except RequestError as exc:
        raise UsageFailure(str(exc)) from None
    for note in request.notes:
        click.echo(f"kimicode: {note}", err=True)
    if request.redactions:
        click.echo(f"kimicode: {_redaction_summary(request.redactions)}", err=True)
    timings = {"prepare": round(time.perf_counter() - started, 3)}
    if dry_run:
        _print_dry_run(request, as_json)
        return
    after = None
    if remember:
        def after(asker: Callable[[str], str], result: ChatResult) -> str:
            from kimicode.memory.capture import remember_answer

            return remember_answer(settings, repo_root, f"{question}\n{stdin}", question, result.content, asker)
    code = _send(asking, request, settings, spec, counter, locations.data_dir, as_json, verbose, timings, after)
    sys.exit(code)


def _recall(text: str, root: Path | None, settings: Settings, plan: BudgetPlan) -> str:
    """The memory shelf for the question and piped input (the engine's, within the plan's share);
    one warning if memory is unavailable."""
    from kimicode.engine.memory import SessionMemory, budget
    from kimicode.memory.chroma import MemoryUnavailable

    memory = SessionMemory(root, settings)
    try:
        return memory.shelf(text, budget(plan, plan.prompt_limit))
    except MemoryUnavailable:
        click.echo(f"kimicode: {memory.warning}", err=True)
        return ""
    finally:
        memory.close()


def _redaction_summary(found: list[Redaction], shown: int = 5) -> str:
    """One line: how many secrets were replaced before sending, and where (never the values)."""
    places = ", ".join(f"{source}:{line} ({kind})" for source, line, kind in found[:shown])
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    return f"redacted {len(found)} secret{'s' if len(found) != 1 else ''} before sending: {places}{more}"


def _usage_line(result: ChatResult, estimated: int, spec: ModelSpec) -> str:
    from kimicode.models import cost_usd

    usage = result.usage
    if usage is None:
        return f"{result.model}: no usage reported (estimated {estimated:,} prompt tokens), {result.elapsed:.1f} s"
    cached = f", {usage.cached_tokens:,} cached" if usage.cached_tokens else ""
    cost = cost_usd(spec, usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens)
    return (f"{result.model}: {usage.prompt_tokens:,} prompt tokens (estimated {estimated:,}{cached}) + "
            f"{usage.completion_tokens:,} completion, ${cost:.4f}, {result.elapsed:.1f} s")


class _Shown:
    """Renders the engine's events for a terminal or a pipe: the answer on stdout, the rest on stderr."""

    def __init__(self, as_json: bool, verbose: bool) -> None:
        self.answer = _AnswerPrinter(quiet=as_json)
        self.thoughts = _ReasoningPrinter() if verbose else None

    def __call__(self, event: Event) -> None:
        if isinstance(event, ContentDelta):
            self.answer(event.text)
        elif isinstance(event, ReasoningDelta):
            if self.thoughts is not None:
                self.thoughts(event.text)
        elif isinstance(event, Notice):
            click.echo(f"kimicode: {event.text}", err=True)

    def close(self) -> None:
        if self.thoughts is not None:
            self.thoughts.close()
        self.answer.close()


def _send(asking: AskRequest, request: Request, settings: Settings, spec: ModelSpec, counter: TokenCounter,
          data_dir: Path, as_json: bool, verbose: bool, timings: dict[str, float],
          after: Callable[[Callable[[str], str], ChatResult], str] | None = None) -> int:
    from kimicode.ask import fix_asker
    from kimicode.engine.send import Calibration, send_within_budget
    from kimicode.llm import ChatClient, Endpoint, LLMError

    sent = time.perf_counter()
    shown = _Shown(as_json, verbose)
    with ChatClient(Endpoint.from_settings(settings), spec) as client:
        try:
            request, result, sender = send_within_budget(
                client, lambda shrink: request if shrink is None else asking.build(shrink), plan=asking.plan,
                calibration=Calibration(data_dir, spec.name, counter.calibration), emit=shown)
        except LLMError as exc:
            raise Failure(str(exc)) from None
        finally:
            shown.close()
        unsaved = sender.unsaved
        if after is not None and not result.partial:
            # --remember: one more request on the same client; a write that fails is noted, not fatal
            try:
                click.echo(f"kimicode: {after(fix_asker(client, asking.plan, counter), result)}", err=True)
            except OSError as exc:
                unsaved.append(f"the memory record ({exc.strerror or type(exc).__name__} in {exc.filename or 'the data dir'})")
    timings["model"] = round(time.perf_counter() - sent, 3)
    estimated = request.shelves.prompt_tokens
    if result.partial:
        click.echo(f"kimicode: [partial answer: {result.error or 'stopped early'}]", err=True)
    if as_json:
        click.echo(json.dumps(_json_result(request, asking, result, estimated, spec, timings), indent=1))
    else:
        click.echo(_usage_line(result, estimated, spec), err=True)
    if unsaved:
        # the answer was delivered: a write that failed after it is worth a warning, not a failure
        click.echo(f"kimicode: warning: not saved: {'; '.join(unsaved)}; the answer itself is complete", err=True)
    if result.interrupted:
        return 130
    return exit_codes.ERROR if result.partial else exit_codes.OK


def _json_result(request: Request, asking: AskRequest, result: ChatResult, estimated: int, spec: ModelSpec,
                 timings: dict[str, float]) -> dict[str, Any]:
    from kimicode.models import cost_usd

    usage = result.usage
    pack = asking.pack
    return {
        "answer": result.content,
        "partial": result.partial,
        "model": result.model,
        "usage": None if usage is None else {
            "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "cached_tokens": usage.cached_tokens, "estimated_prompt_tokens": estimated,
            "cost_usd": round(cost_usd(spec, usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens), 6),
        },
        "files": {"full": [p for p, _ in pack.full] if pack else [], "outline": [p for p, _ in pack.outline] if pack else []},
        "shelves": dict(request.shelves.sizes),
        "timings": timings,
    }
