"""`kimicode ask`: one question, the packed repository, a streamed answer."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from kimicode import exit_codes
from kimicode.commands.common import Failure, UsageFailure, needs_key, repo_root_of, settings_or_exit

OVERFLOW_SHRINK = 0.5  # the repo shelf keeps this share when the provider says "too long"
NEAR_WINDOW = 0.9  # above this share of the window, get the provider's exact count first


def _read_stdin() -> str:
    if sys.stdin is None or sys.stdin.closed or sys.stdin.isatty():
        return ""
    try:
        # bytes, decoded leniently: one stray byte in a piped log must not drop the whole log
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data


def _print_dry_run(request, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    rows = request.shelves.rows()
    if as_json:
        click.echo(json.dumps({"messages": request.messages, "shelves": {n: t for n, t, _ in rows},
                               "window": request.shelves.window}, indent=1))
        return
    for message in request.messages:
        click.echo(f"----- {message['role']} -----")
        click.echo(message["content"])
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
@click.option("--budget", type=click.IntRange(min=1), help="Most tokens the packed repository may take.")
@click.option("--no-repo", is_flag=True, help="Do not include the repository.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: answer, model, usage, files, timings.")
@click.option("--dry-run", is_flag=True, help="Print the exact messages and a token table per shelf; call no model.")
@click.option("--model", help="Model name [config model, KIMICODE_MODEL].")
@click.option("--base-url", help="OpenAI-compatible endpoint [config base_url, KIMICODE_BASE_URL].")
@click.option("--verbose", "-v", is_flag=True, help="Show the model's reasoning (dimmed, on stderr).")
@click.option("--remember", is_flag=True, help="After the answer, record the error's root cause and fix in memory.")
def command(question: str, files: tuple[Path, ...], query: str | None, budget: int | None, no_repo: bool,
            as_json: bool, dry_run: bool, model: str | None, base_url: str | None, verbose: bool, remember: bool) -> None:
    """Ask QUESTION about the repository here; piped stdin is added as context."""
    from kimicode import calibration
    from kimicode.commands.progress import Progress
    from kimicode.discovery import resolve_limits
    from kimicode.locations import user_locations
    from kimicode.repo.files import refusal
    from kimicode.repo.pack import PackOptions
    from kimicode.request import AskInputs, RequestError, build_request
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
    settings = settings_or_exit(root, {"model": model, "base_url": base_url, "pack.budget": budget})
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
    reply = min(settings.ask.reply_tokens, spec.max_output)
    options = PackOptions(budget=settings.pack.budget, fmt=settings.pack.format, include=settings.pack.include,
                          exclude=settings.pack.exclude, max_file_bytes=settings.pack.max_file_bytes,
                          encoding=counter.encoding, calibration=counter.calibration)
    stdin = _read_stdin()
    repo_root = None if no_repo else root
    inputs = AskInputs(question, repo_root, files, stdin, query, memory=_recall(f"{question}\n{stdin}", repo_root, settings))
    build = lambda cap: build_request(inputs, counter, spec.context_window, reply, options, locations.cache_dir, cap)  # noqa: E731
    progress.show("packing…")
    try:
        request, _ = build(settings.pack.budget)
    except RequestError as exc:
        raise UsageFailure(str(exc)) from None
    finally:
        progress.stop()
    if request.pack and request.pack.budget < settings.pack.budget and settings.sources.get("pack.budget"):
        click.echo(f"kimicode: {_budget_cut(settings, request.pack.budget, spec.context_window)}", err=True)
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
        def after(client, result) -> None:  # type: ignore[no-untyped-def]
            from kimicode.memory.capture import remember_answer

            line = remember_answer(settings, repo_root, f"{question}\n{stdin}", question, result.content, client)
            click.echo(f"kimicode: {line}", err=True)
    code = _send(request, build, settings, spec, counter, locations.data_dir, as_json, verbose, timings, after, progress)
    sys.exit(code)


def _budget_cut(settings, room: int, window: int) -> str:  # type: ignore[no-untyped-def]
    """One line: the budget the user asked for does not fit the window, and what the repository gets."""
    source = settings.sources["pack.budget"]
    named = {"flag": "--budget", "KIMICODE_BUDGET": "KIMICODE_BUDGET"}.get(source, f"pack.budget ({source})")
    return (f"{named} {settings.pack.budget:,} does not fit the {window:,}-token window: "
            f"the repository gets {room:,} tokens")


def _recall(text: str, root: Path | None, settings) -> str:  # type: ignore[no-untyped-def]
    """The memory shelf for the errors in the question and piped input; one warning if memory is unavailable."""
    from kimicode.memory.recall import recall_for_text

    recall = recall_for_text(text, root, settings)
    if recall.warning:
        click.echo(f"kimicode: {recall.warning}", err=True)
    return recall.text


def _redaction_summary(found: list[tuple[str, int, str]], shown: int = 5) -> str:
    """One line: how many secrets were replaced before sending, and where (never the values)."""
    places = ", ".join(f"{source}:{line} ({kind})" for source, line, kind in found[:shown])
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    return f"redacted {len(found)} secret{'s' if len(found) != 1 else ''} before sending: {places}{more}"


def _usage_line(result, estimated: int, spec) -> str:  # type: ignore[no-untyped-def]
    from kimicode.models import cost_usd

    usage = result.usage
    if usage is None:
        return f"{result.model}: no usage reported (estimated {estimated:,} prompt tokens), {result.elapsed:.1f} s"
    cached = f", {usage.cached_tokens:,} cached" if usage.cached_tokens else ""
    cost = cost_usd(spec, usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens)
    return (f"{result.model}: {usage.prompt_tokens:,} prompt tokens (estimated {estimated:,}{cached}) + "
            f"{usage.completion_tokens:,} completion, ${cost:.4f}, {result.elapsed:.1f} s")


def _stream(client, request, as_json: bool, verbose: bool, progress):  # type: ignore[no-untyped-def]
    printer = _AnswerPrinter(quiet=as_json)
    thoughts = _ReasoningPrinter() if verbose else None
    progress.show("waiting for the model…")
    try:
        return client.stream_chat(
            request.messages, on_content=progress.until_first(printer), on_reasoning=progress.until_first(thoughts),
            on_retry=lambda why: _retrying(why, progress),
            # the reply shelf is what the budget reserved: a runaway answer stops there
            max_tokens=request.shelves.sizes.get("reply") or None,
        )
    finally:
        progress.stop()
        if thoughts is not None:
            thoughts.close()
        printer.close()


def _retrying(why: str, progress) -> None:  # type: ignore[no-untyped-def]
    progress.stop()  # the notice gets a line of its own, then the status comes back
    click.echo(f"kimicode: {why}", err=True)
    progress.show("waiting for the model…")


def _send(request, build, settings, spec, counter, data_dir: Path, as_json: bool, verbose: bool,  # type: ignore[no-untyped-def]
          timings: dict[str, float], after, progress) -> int:
    from kimicode import calibration
    from kimicode.llm import ChatClient, ContextOverflow, Endpoint, LLMError

    sent = time.perf_counter()
    unsaved: list[str] = []  # what could not be written (a full or read-only data dir): said once, at the end
    with ChatClient(Endpoint.from_settings(settings), spec) as client:
        request = _check_near_window(client, request, build, counter, data_dir, spec, unsaved)
        try:
            try:
                result = _stream(client, request, as_json, verbose, progress)
            except ContextOverflow:
                repo = request.shelves.sizes.get("repo", 0)
                if repo <= 0:
                    raise  # no repository in the request: the same request again cannot fit
                smaller = int(repo * OVERFLOW_SHRINK)
                click.echo(f"kimicode: the provider says the request is too long; shrinking the repository "
                           f"from {repo:,} to {smaller:,} tokens and retrying once", err=True)
                request, _ = build(smaller)
                result = _stream(client, request, as_json, verbose, progress)
        except LLMError as exc:
            raise Failure(str(exc)) from None
        if after is not None and not result.partial:
            _keep(unsaved, "the memory record", lambda: after(client, result))  # --remember: one more request
    timings["model"] = round(time.perf_counter() - sent, 3)
    estimated = request.shelves.prompt_tokens
    if result.usage and result.usage.prompt_tokens:
        raw_estimate = round(estimated / counter.calibration)
        _keep(unsaved, "the token calibration", lambda: calibration.record(data_dir, spec.name, raw_estimate, result.usage.prompt_tokens,
                                                                         window=spec.context_window))
    if result.partial:
        click.echo(f"kimicode: [partial answer: {result.error or 'stopped early'}]", err=True)
    elif result.truncated:
        click.echo(f"kimicode: [truncated: the answer reached the reply limit of {request.shelves.sizes.get('reply', 0):,} "
                   "tokens; raise ask.reply_tokens or ask for less]", err=True)
    if as_json:
        click.echo(json.dumps(_json_result(request, result, estimated, spec, timings), indent=1))
    else:
        click.echo(_usage_line(result, estimated, spec), err=True)
    if unsaved:
        # the answer was delivered: a write that failed after it is worth a warning, not a failure
        click.echo(f"kimicode: warning: not saved: {'; '.join(unsaved)}; the answer itself is complete", err=True)
    if result.interrupted:
        return 130
    return exit_codes.ERROR if result.partial else exit_codes.OK


def _keep(unsaved: list[str], what: str, write) -> None:  # type: ignore[no-untyped-def]
    """Run a write of ours; on a disk error note ``what`` was not saved instead of failing."""
    try:
        write()
    except OSError as exc:
        unsaved.append(f"{what} ({exc.strerror or type(exc).__name__} in {exc.filename or 'the data dir'})")


def _check_near_window(client, request, build, counter, data_dir: Path, spec, unsaved: list[str]):  # type: ignore[no-untyped-def]
    """Near the window our estimate is not good enough: ask the provider's exact count (Moonshot's
    free estimate endpoint; None elsewhere), learn from it, and shrink the repo before sending."""
    from kimicode import calibration

    shelves = request.shelves
    if shelves.total < NEAR_WINDOW * shelves.window:
        return request
    exact = client.estimate_tokens(request.messages)
    if not exact:
        return request
    _keep(unsaved, "the token calibration", lambda: calibration.record(data_dir, spec.name, round(shelves.prompt_tokens / counter.calibration),
                                                                     exact, window=shelves.window))
    over = exact + shelves.sizes.get("reply", 0) - shelves.window
    repo = shelves.sizes.get("repo", 0)
    if over <= 0 or repo <= 0:
        return request
    smaller = max(int((repo - over) * 0.95), 0)
    click.echo(f"kimicode: the provider counts {exact:,} prompt tokens; shrinking the repository to {smaller:,}", err=True)
    return build(smaller)[0]


def _json_result(request, result, estimated: int, spec, timings: dict[str, float]) -> dict:  # type: ignore[no-untyped-def]
    from kimicode.models import cost_usd

    usage = result.usage
    pack = request.pack
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
