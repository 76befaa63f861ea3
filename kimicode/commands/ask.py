"""`kimicode ask`: one question, the packed repository, a streamed answer."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from kimicode import exit_codes
from kimicode.commands.common import Failure, Stopped, UsageFailure, repo_root_of, settings_or_exit
from kimicode.engine.events import ContentDelta, Event, Notice, ReasoningDelta, ToolFinished, UsageReported

if TYPE_CHECKING:
    from kimicode.ask import AskRequest
    from kimicode.commands.ask_edit import EditRun
    from kimicode.commands.progress import Progress
    from kimicode.config import Settings
    from kimicode.engine.tool_loop import LoopResult
    from kimicode.llm import ChatResult
    from kimicode.models import ModelSpec
    from kimicode.prompt import BudgetPlan, Redaction, Request
    from kimicode.repo.pack import PackReport
    from kimicode.tokens import TokenCounter
    from kimicode.tools.base import Tool, Toolbox


def _read_stdin() -> str:
    if sys.stdin is None or sys.stdin.closed or sys.stdin.isatty():
        return ""
    try:
        # bytes, decoded leniently: one stray byte in a piped log must not drop the whole log
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data


def _print_dry_run(request: Request, as_json: bool, system_role: bool) -> None:
    from kimicode.prompt import fold_system, wire

    rows = request.shelves.rows()
    messages = request.messages if system_role else fold_system(request.messages)  # as the send policy sends them
    if as_json:
        click.echo(json.dumps({"messages": wire(messages), "shelves": {n: t for n, t, _ in rows},
                               "window": request.shelves.window, "tools": request.tools}, indent=1))
        return
    for message in messages:
        click.echo(f"----- {message.role} -----")
        click.echo(message.content)
    if request.tools:
        click.echo(f"----- tools: {', '.join(t['function']['name'] for t in request.tools)} -----")
    click.echo("----- token budget (estimated) -----")
    for name, tokens, share in rows:
        click.echo(f"{name:<8} {tokens:>10,}  {share:5.1f}%")
    click.echo(f"{'total':<8} {request.shelves.total:>10,}  of a {request.shelves.window:,}-token window")


class _AnswerPrinter:
    """Streams the answer: rendered markdown on a terminal, plain text into a pipe."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.text = ""
        self._live: Any = None
        self._rendered = not quiet and sys.stdout.isatty()

    def __call__(self, delta: str) -> None:
        self.text += delta
        if self.quiet:
            return
        if self._rendered and self._live is None:
            # started at the first delta, not before: until then a status line may be showing
            from rich.console import Console
            from rich.live import Live
            from rich.markdown import Markdown

            self._markdown = Markdown
            self._live = Live(Markdown(""), console=Console(), refresh_per_second=8, vertical_overflow="visible")
            self._live.start()
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

    def pause(self) -> None:
        """Before something else is printed (a diff): what was shown stays, the next delta starts anew."""
        self.close()
        self._live = None
        self.text = ""


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
@click.option("--dry-run", is_flag=True, help="Print the exact messages and a token table per shelf; call no model.")
@click.option("--model", help="Model name [config model, KIMICODE_MODEL].")
@click.option("--base-url", help="OpenAI-compatible endpoint [config base_url, KIMICODE_BASE_URL].")
@click.option("--verbose", "-v", is_flag=True, help="Show the model's reasoning (dimmed, on stderr).")
@click.option("--remember", is_flag=True, help="After the answer, record the error's root cause and fix in memory.")
@click.option("--tools/--no-tools", "use_tools", default=None,
              help="Let the model read the repository and sculpt its context with tools [config tools.enabled].")
@click.option("--context", "context", type=click.Choice(["full", "lean"]),
              help="full: packed files and tools; lean: outlines and the tree, files read through tools [config tools.context].")
@click.option("--edit", is_flag=True, help="Let the model change files: each change is shown as a diff (docs/edits.md).")
@click.option("--yes", "-y", is_flag=True, help="With --edit: apply the changes without asking (else y/N on a terminal; exit 3).")
@click.option("--test-cmd", help="With --edit: run this after the changes; failures go back to the model [config edits.test_cmd].")
@click.option("--test-rounds", type=click.IntRange(min=0), help="Failed test runs sent back to the model [config edits.test_rounds].")
@click.option("--no-remember", is_flag=True, help="With --test-cmd: do not store a fixed failure's fix in memory [config edits.remember].")
def command(question: str, files: tuple[Path, ...], query: str | None, budget: int | None, no_repo: bool,
            as_json: bool, dry_run: bool, model: str | None, base_url: str | None, verbose: bool, remember: bool,
            use_tools: bool | None, context: str | None, edit: bool, yes: bool, test_cmd: str | None,
            test_rounds: int | None, no_remember: bool) -> None:
    """Ask QUESTION about the repository here; piped stdin is added as context."""
    from kimicode import calibration
    from kimicode.ask import AskInputs, AskRequest, RequestError, ask_toolbox
    from kimicode.commands.ask_edit import edit_run
    from kimicode.commands.progress import Progress
    from kimicode.discovery import resolve_limits
    from kimicode.engine.send import plan_for
    from kimicode.llm import needs_key
    from kimicode.locations import user_locations
    from kimicode.models import pace_line
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
    if remember and no_repo:  # refused before anything is sent: memory is kept per repository
        raise UsageFailure("--remember needs a repository (memory is kept per repository): run it inside one, without --no-repo")
    settings = settings_or_exit(root, {"model": model, "base_url": base_url, "pack.budget": budget,
                                       "tools.enabled": use_tools, "tools.context": context, "edits.test_cmd": test_cmd,
                                       "edits.test_rounds": test_rounds})
    if settings.tools.context == "lean" and not settings.tools.enabled:
        raise UsageFailure("--context lean needs the tools (the model reads files through them): drop --no-tools")
    editing = edit_run(root, settings, question, edit, yes, test_cmd, test_rounds, no_remember, no_repo, remember,
                       as_json)
    if not dry_run and not settings.api_key and needs_key(settings.base_url):
        raise UsageFailure("no API key: set MOONSHOT_API_KEY (or KIMICODE_API_KEY, or api_key in config.toml)")
    locations = user_locations()
    progress = Progress()
    progress.show("checking the model's window…")
    spec, limits = resolve_limits(settings, locations.data_dir)
    progress.stop()
    for notice in limits.notices:
        click.echo(f"kimicode: {notice}", err=True)
    counter = TokenCounter(settings.pack.encoding, calibration.factor(locations.data_dir, settings.model))
    plan = plan_for(spec, settings.ask.reply_tokens, settings.pack.budget)
    options = PackOptions.from_settings(settings.pack, counter)
    if settings.tools.context == "lean":
        options = dataclasses.replace(options, full_files=False)
    stdin = _read_stdin()
    repo_root = None if no_repo else root
    inputs = AskInputs(question, repo_root, files, stdin, query,
                       memory=_recall(f"{question}\n{stdin}", repo_root, settings, plan, spec, dry_run))
    toolbox = None
    progress.show("packing…")
    with ExitStack() as stack:
        try:
            asking = AskRequest(inputs, counter, plan, options, locations.cache_dir)
            if settings.tools.enabled:
                from kimicode.tools.paths import RepoView

                view = None if repo_root is None else RepoView(repo_root, options.include, options.exclude, options.max_file_bytes)
                extra = _mcp_tools(settings, stack) if not dry_run else []
                if editing is not None and view is not None:
                    extra += editing.start(view)
                recall = _recaller(repo_root, settings)
                toolbox = ask_toolbox(asking, view, settings.tools.keep_rounds, recall, extra)
                if editing is not None and toolbox is not None:
                    toolbox.approve = editing.editor.approve
            if editing is not None and toolbox is None:
                raise UsageFailure("--edit needs the tools, and their descriptions do not fit this model's window")
            request = asking.build()
        except RequestError as exc:
            raise UsageFailure(str(exc)) from None
        finally:
            progress.stop()
        if asking.pack and asking.pack.budget < settings.pack.budget and settings.sources.get("pack.budget"):
            click.echo(f"kimicode: {_budget_cut(settings, asking.pack.budget, spec.context_window)}", err=True)
        if plan.small and asking.pack is not None and (asking.pack.outline or asking.pack.tree_files):
            click.echo(f"kimicode: {_small_window_line(plan.window, asking.pack)}", err=True)
        paced = pace_line(spec, request.tokens, plan.reply)  # a slow local model: what its speed allowed
        if paced:
            click.echo(f"kimicode: {paced}", err=True)
        _ask(asking, request, settings, spec, counter, locations.data_dir, as_json, verbose, dry_run, remember, question,
             stdin, repo_root, started, toolbox, progress, editing)


def _recaller(root: Path | None, settings: Settings) -> Callable[[str], str] | None:
    """recall_errors: what the error memory knows about an error the model met (none when memory is off)."""
    if root is None or not settings.memory.enabled:
        return None

    def recall(text: str) -> str:
        from kimicode.memory.recall import recall_for_text

        found = recall_for_text(text, root, settings)
        return found.text or found.warning or "the error memory holds nothing like this"

    return recall


def _mcp_tools(settings: Settings, stack: ExitStack) -> list[Tool]:
    """The configured MCP servers' tools (none unless mcp.enabled in the user's config); stopped on exit."""
    if not settings.mcp.enabled or not settings.mcp.servers:
        return []
    from kimicode.tools.mcp import McpError, McpHub

    hub = McpHub(settings.mcp.servers)
    stack.callback(hub.close)
    try:
        tools = hub.start()
    except McpError as exc:
        raise Failure(str(exc)) from None
    for failure in hub.failures:
        click.echo(f"kimicode: warning: {failure}", err=True)
    return tools


def _ask(asking: AskRequest, request: Request, settings: Settings, spec: ModelSpec, counter: TokenCounter, data_dir: Path,
         as_json: bool, verbose: bool, dry_run: bool, remember: bool, question: str, stdin: str, repo_root: Path | None,
         started: float, toolbox: Toolbox | None, progress: Progress, editing: EditRun | None = None) -> None:
    for note in request.notes:
        click.echo(f"kimicode: {note}", err=True)
    if request.redactions:
        click.echo(f"kimicode: {_redaction_summary(request.redactions)}", err=True)
    timings = {"prepare": round(time.perf_counter() - started, 3)}
    if dry_run:
        _print_dry_run(request, as_json, spec.system_role)
        return
    after = None
    if remember:
        def after(asker: Callable[[str], str], result: ChatResult) -> str:
            from kimicode.memory.capture import remember_answer

            return remember_answer(settings, repo_root, f"{question}\n{stdin}", question, result.content, asker)
    code = _send(asking, request, settings, spec, counter, data_dir, as_json, verbose, timings, after, progress, toolbox,
                 editing)
    if code:
        sys.exit(code)


def _small_window_line(window: int, pack: PackReport) -> str:
    """One line: what the repository gave up to fit a small window."""
    return (f"a small window ({window:,} tokens): the repository goes as {len(pack.full)} file(s) in full, "
            f"{len(pack.outline)} as outlines and {pack.tree_files} as paths only ({pack.total_tokens:,} tokens)")


def _budget_cut(settings: Settings, room: int, window: int) -> str:
    """One line: the budget the user asked for does not fit the window, and what the repository gets."""
    source = settings.sources["pack.budget"]
    named = {"flag": "--budget", "KIMICODE_BUDGET": "KIMICODE_BUDGET"}.get(source, f"pack.budget ({source})")
    return (f"{named} {settings.pack.budget:,} does not fit the {window:,}-token window: "
            f"the repository gets {room:,} tokens")


def _recall(text: str, root: Path | None, settings: Settings, plan: BudgetPlan, spec: ModelSpec, dry_run: bool) -> str:
    """The memory shelf for the question and piped input (the engine's, within the plan's share),
    ordered by the model when memory.rerank is on (not in a dry run: it asks no model); one line
    for what memory could not do."""
    from kimicode.engine.memory import SessionMemory, budget, not_run_line
    from kimicode.engine.memory_model import MemoryModel
    from kimicode.memory.chroma import MemoryUnavailable

    not_run = not_run_line(settings) if dry_run and root is not None else ""
    if not_run:
        click.echo(f"kimicode: {not_run}", err=True)
    memory = SessionMemory(root, settings, model=None if dry_run or root is None else MemoryModel.from_settings(settings, spec))
    try:
        return memory.shelf(text, budget(plan, plan.prompt_limit))
    except MemoryUnavailable:
        click.echo(f"kimicode: {memory.warning}", err=True)
        return ""
    finally:
        for notice in memory.take_notices():
            click.echo(f"kimicode: {notice}", err=True)
        cost = memory.cost_line()
        if cost:
            click.echo(f"kimicode: {cost}", err=True)  # what the extra request cost
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
    """Renders the engine's events for a terminal or a pipe: the answer on stdout, the rest on stderr.

    Until the first word a status line says the model is being waited for (on a terminal).
    """

    def __init__(self, as_json: bool, verbose: bool, progress: Progress) -> None:
        self.answer = _AnswerPrinter(quiet=as_json)
        self.thoughts = _ReasoningPrinter() if verbose else None
        self.verbose = verbose
        self.progress = progress
        self.waiting = True
        progress.show("waiting for the model…")
        self.usage = [0, 0, 0]  # prompt, completion, cached: summed over every request of the answer
        self.requests = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, (ContentDelta, ReasoningDelta)) and self.waiting:
            self.waiting = False
            self.progress.stop()
        if isinstance(event, ToolFinished):
            if self.verbose or event.source != "kimicode":  # an MCP server's calls are always shown
                if self.thoughts is not None:
                    self.thoughts.close()
                    self.thoughts.text = ""
                click.echo(f"kimicode: {_tool_line(event)}", err=True)
        elif isinstance(event, UsageReported):
            self.requests += 1
            for i, value in enumerate((event.prompt_tokens, event.completion_tokens, event.cached_tokens or 0)):
                self.usage[i] += value
        elif isinstance(event, ContentDelta):
            self.answer(event.text)
        elif isinstance(event, ReasoningDelta):
            if self.thoughts is not None:
                self.thoughts(event.text)
        elif isinstance(event, Notice):
            self.progress.stop()  # the notice gets a line of its own, then the status comes back
            click.echo(f"kimicode: {event.text}", err=True)
            if self.waiting:
                self.progress.show("waiting for the model…")

    def close(self) -> None:
        self.progress.stop()
        if self.thoughts is not None:
            self.thoughts.close()
        self.answer.close()

    def pause(self) -> None:
        """Stop the status line and the live answer, so that a diff or a prompt prints cleanly."""
        self.progress.stop()
        if self.thoughts is not None:
            self.thoughts.close()
            self.thoughts.text = ""
        self.answer.pause()


def _tool_line(event: ToolFinished) -> str:
    """One line per call: what ran, what it gave, how long it took."""
    what = "error" if event.error else f"{event.tokens:,} tokens" + (" (cut to its budget)" if event.truncated else "")
    return f"tool [{event.output}] {event.line} -> {what}, {event.seconds:.2f} s"


def _send(asking: AskRequest, request: Request, settings: Settings, spec: ModelSpec, counter: TokenCounter,
          data_dir: Path, as_json: bool, verbose: bool, timings: dict[str, float],
          after: Callable[[Callable[[str], str], ChatResult], str] | None, progress: Progress,
          toolbox: Toolbox | None = None, editing: EditRun | None = None) -> int:
    from kimicode.ask import RequestError, fix_asker, record_round
    from kimicode.engine.send import Calibration, Sender
    from kimicode.engine.tool_loop import ToolLoop, ToolPolicy
    from kimicode.llm import ChatClient, Endpoint, LLMError

    sent = time.perf_counter()
    shown = _Shown(as_json, verbose, progress)
    loop: LoopResult | None = None
    first = request
    with ChatClient(Endpoint.from_settings(settings), spec) as client:
        sender = Sender(client, asking.plan, calibration=Calibration(data_dir, spec.name, counter.calibration), emit=shown)
        try:
            if toolbox:
                tools = settings.tools
                policy = ToolPolicy(tools.rounds, tools.result_tokens, tools.keep_rounds)
                def once() -> LoopResult:
                    return ToolLoop(sender, toolbox, policy, counter.count).run(
                        lambda shrink: first if shrink is None and asking.transcript is None else asking.build(shrink),
                        record_round(asking))

                if editing is not None:
                    editing.pause = shown.pause
                    loop = editing.answer(once, asking.transcript, spec.thinking)
                else:
                    loop = once()
                request, result = loop.request, loop.result
            else:
                request, result = sender.within_budget(lambda shrink: first if shrink is None else asking.build(shrink),
                                                       sender.stream)
        except (LLMError, RequestError) as exc:
            raise Failure(str(exc)) from None
        except KeyboardInterrupt:
            if editing is None:
                raise
            raise Stopped("at the question; changes applied before it stay (kimicode undo restores them)") from None
        finally:
            shown.close()
            edits_code = editing.finish(loop.result.content if loop is not None else "") if editing is not None else 0
        unsaved = sender.unsaved
        if after is not None and not result.partial:
            # --remember: one more request on the same client; a write that fails is noted, not fatal
            progress.show("recording what was learned in memory…")  # one more capped request (Ctrl+C stops it)
            line = ""
            try:
                line = after(fix_asker(client, asking.plan, counter), result)
            except OSError as exc:
                unsaved.append(f"the memory record ({exc.strerror or type(exc).__name__} in {exc.filename or 'the data dir'})")
            finally:
                progress.stop()
            if line:
                click.echo(f"kimicode: {line}", err=True)
    timings["model"] = round(time.perf_counter() - sent, 3)
    estimated = request.shelves.prompt_tokens
    if result.partial:
        click.echo(f"kimicode: [partial answer: {result.error or 'stopped early'}]", err=True)
    elif result.truncated:
        click.echo(f"kimicode: [truncated: the answer reached the reply limit of {request.reply:,} "
                   "tokens; raise ask.reply_tokens or ask for less]", err=True)
    if as_json:
        body = _json_result(request, asking, result, estimated, spec, timings)
        if loop is not None:
            body["tools"] = _tools_json(loop, shown)
        if editing is not None:
            body["edits"] = editing.summary()
        click.echo(json.dumps(body, indent=1))
    else:
        click.echo(_usage_line(result, estimated, spec), err=True)
        if loop is not None and loop.rounds:
            prompt, completion, _ = shown.usage
            click.echo(f"kimicode: {loop.rounds} tool round(s), {len(loop.calls)} call(s); the answer took "
                       f"{len(loop.requests)} requests: {prompt:,} prompt + {completion:,} completion tokens in all "
                       f"(estimated {loop.prompt_tokens:,} prompt)", err=True)
    if unsaved:
        # the answer was delivered: a write that failed after it is worth a warning, not a failure
        click.echo(f"kimicode: warning: not saved: {'; '.join(unsaved)}; the answer itself is complete", err=True)
    if result.interrupted:
        return exit_codes.INTERRUPTED
    return exit_codes.ERROR if result.partial else edits_code


def _tools_json(loop: LoopResult, shown: _Shown) -> dict[str, Any]:
    prompt, completion, cached = shown.usage
    return {
        "rounds": loop.rounds, "limited": loop.limited, "requests": len(loop.requests),
        "estimated_prompt_tokens": loop.prompt_tokens,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached},
        "calls": [{"output": c.output, "name": c.call.name, "arguments": c.call.arguments, "tokens": c.tokens,
                   "seconds": round(c.seconds, 3), "error": c.error, "truncated": c.truncated} for c in loop.calls],
    }


def _json_result(request: Request, asking: AskRequest, result: ChatResult, estimated: int, spec: ModelSpec,
                 timings: dict[str, float]) -> dict[str, Any]:
    from kimicode.models import cost_usd

    usage = result.usage
    pack = asking.pack
    return {
        "answer": result.content,
        "partial": result.partial or result.truncated,
        "truncated": result.truncated,  # stopped at the reply limit (finish_reason "length")
        "finish_reason": result.finish_reason,
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
