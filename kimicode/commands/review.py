"""`kimicode review`: review what is about to be committed; exit 1 to stop the commit.

Exit codes (the issue's contract, which a git hook reads as pass/refuse):
0  passed, nothing to review, or the review was skipped (no key, no network, a model that
   would not answer in JSON, review.deadline passed, a diff over review.max_tokens /
   review.max_parts that nobody confirmed): the review fails open;
1  blocked (a finding at or above review.block_on, or a staged secret), or the review could
   not be done while review.require = true;
2  usage (bad flags, bad config, unknown revision, missing file).
Findings go to stdout; progress and verdict lines, each starting "kimicode:", to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Sequence

import click

from kimicode import exit_codes
from kimicode.commands.common import UsageFailure, repo_root_of, settings_or_exit
from kimicode.review.findings import SEVERITIES

if TYPE_CHECKING:
    from kimicode.config import Settings
    from kimicode.review.changes import ChangeSet
    from kimicode.review.checks import LocalReport, SecretHit, Skip
    from kimicode.review.request import Plan
    from kimicode.review.run import Outcome

SKIPPED_SHOWN = 10  # skipped files listed one per line; the rest are counted
CHARS_PER_TOKEN_MAX = 8  # code averages 3-5 characters a token: diff size / 8 is a floor on its tokens


def _bypass() -> str:
    """How to skip the review once, for the hook that runs it (the hook script names itself)."""
    from kimicode.review.hook import BYPASS, HOOK_NAME

    return BYPASS.get(os.environ.get("KIMICODE_HOOK", ""), BYPASS[HOOK_NAME])


class _Report:
    """Everything the command says, as text (stderr lines, stdout findings) or one JSON object."""

    def __init__(self, as_json: bool, target: str, block_on: str) -> None:
        self.as_json = as_json
        self.data: dict[str, Any] = {"status": "passed", "target": target, "block_on": block_on, "findings": [],
                                     "blocking": 0, "secrets": [], "skipped": [], "parts": 0}

    def say(self, line: str) -> None:
        """A progress or verdict line (stderr); in JSON mode too, so a person running it sees progress."""
        click.echo(f"kimicode: {line}", err=True)

    def out(self, text: str) -> None:
        if not self.as_json:
            click.echo(text)

    def finish(self, status: str, code: int, reason: str | None = None) -> NoReturn:
        self.data["status"] = status
        if reason:
            self.data["reason"] = reason
        if self.as_json:
            click.echo(json.dumps(self.data, indent=1))
        sys.exit(code)


def _mode(staged: bool, range_spec: str | None, files: bool, paths: tuple[Path, ...]) -> tuple[str, str | None]:
    chosen = [name for name, given in (("--staged", staged), ("--range", range_spec is not None), ("--files", files)) if given]
    if len(chosen) > 1:
        raise UsageFailure(f"{' and '.join(chosen)} cannot be combined: choose one")
    if paths and not files:
        raise UsageFailure("file arguments need --files (kimicode review --files PATH...)")
    if files and not paths:
        raise UsageFailure("--files needs at least one PATH")
    if range_spec is not None:
        return "range", range_spec
    if files:
        return "files", None
    # The pre-commit framework's pre-push (and `pre-commit run --from-ref X --to-ref Y`) names a range.
    start, end = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    if not staged and start and end:
        return "range", f"{start}..{end}"
    return "staged", None


@click.command("review")
@click.option("--staged", is_flag=True, help="Review the staged changes (the default).")
@click.option("--range", "range_spec", metavar="A..B", help="Review the changes of a commit range (A..B or A...B).")
@click.option("--files", "files", is_flag=True, help="Review the named files whole, as they are in the work tree.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: status, findings, secrets, skipped files.")
@click.option("--block-on", type=click.Choice(SEVERITIES), help="Lowest severity that blocks [config review.block_on].")
@click.option("--require/--no-require", default=None, help="Exit 1 when the review cannot be done [config review.require].")
@click.option("--budget", type=click.IntRange(min=1), help="Most prompt tokens per request (default: the model's window less the reply).")
@click.option("--dry-run", is_flag=True, help="Print the request(s) and token figures; call nothing.")
@click.option("--model", help="Model name [config model, KIMICODE_MODEL].")
@click.option("--base-url", help="OpenAI-compatible endpoint [config base_url, KIMICODE_BASE_URL].")
def command(staged: bool, range_spec: str | None, files: bool, paths: tuple[Path, ...], as_json: bool, block_on: str | None,
            require: bool | None, budget: int | None, dry_run: bool, model: str | None, base_url: str | None) -> None:
    """Review staged changes (or a range, or files) with the model; exit 1 on a blocking finding."""
    from kimicode.review import changes as change_sets
    from kimicode.review.checks import local_checks

    started = time.monotonic()  # review.deadline counts from here: planning a huge diff takes time too
    mode, spec = _mode(staged, range_spec, files, paths)
    root = repo_root_of(Path.cwd())
    settings = settings_or_exit(root, {"model": model, "base_url": base_url, "review.block_on": block_on, "review.require": require})
    try:
        if mode == "staged":
            changes = change_sets.staged(root)
        elif mode == "range":
            changes = change_sets.commit_range(root, spec or "")
        else:
            changes = change_sets.whole_files(root, paths)
    except change_sets.ChangeError as exc:
        raise UsageFailure(str(exc)) from None
    report = _Report(as_json, changes.label, settings.review.block_on)
    if not changes.changes:
        report.say(f"nothing to review: no {changes.label}" if changes.staged else f"nothing to review in {changes.label}")
        report.finish("passed", exit_codes.OK, "nothing to review")
    local = local_checks(changes, settings.pack.max_file_bytes)
    _show_skipped(report, local.skipped)
    if local.secrets:
        _block_on_secrets(report, local.secrets, changes.staged)
    if not local.reviewable:
        report.say("nothing left to review once those files are set aside")
        report.finish("passed", exit_codes.OK, "nothing to review")
    _review(report, settings, changes, local, budget, dry_run, started)


def _show_skipped(report: _Report, skipped: list[Skip]) -> None:
    report.data["skipped"] = [{"file": s.path, "reason": s.reason} for s in skipped]
    for skip in skipped[:SKIPPED_SHOWN]:
        report.say(f"not reviewed: {skip.path} ({skip.reason})")
    if len(skipped) > SKIPPED_SHOWN:
        report.say(f"not reviewed: {len(skipped) - SKIPPED_SHOWN} more files (binary, too large, generated...)")


def _block_on_secrets(report: _Report, secrets: list[SecretHit], staged: bool) -> NoReturn:
    report.data["secrets"] = [{"file": s.path, "line": s.line, "kind": s.kind, "commit": s.commit} for s in secrets]
    width = max(len(s.where) for s in secrets)
    report.out("\n".join(f"  {s.where:<{width}}  {s.kind}" for s in secrets))
    what = "commit blocked" if staged else "blocked"
    count = f"{len(secrets)} secret{'s' if len(secrets) != 1 else ''}"
    report.say(f"{what}: {count} in the changes; nothing was sent for review")
    report.say("take them out (edit, then git add; or git restore --staged PATH); "
               "mark a false positive with `# pragma: allowlist secret` on its line")
    report.finish("blocked", exit_codes.ERROR, "secrets")


def _skip(report: _Report, settings: Settings, why: str) -> NoReturn:
    """The review could not be done: fail open, unless review.require says otherwise."""
    if settings.review.require:
        report.say(f"review required but not done: {why} (review.require = true)")
        report.finish("failed", exit_codes.ERROR, why)
    report.say(f"review skipped: {why}")
    report.finish("skipped", exit_codes.OK, why)


def _review(report: _Report, settings: Settings, changes: ChangeSet, local: LocalReport, budget: int | None, dry_run: bool,
            started: float) -> None:
    from kimicode import calibration
    from kimicode.discovery import resolve_limits
    from kimicode.engine.memory import SessionMemory, not_run_line
    from kimicode.engine.memory_model import MemoryModel
    from kimicode.engine.send import Calibration, plan_for
    from kimicode.llm import ChatClient, Endpoint, needs_key
    from kimicode.locations import user_locations
    from kimicode.memory.chroma import MemoryUnavailable
    from kimicode.models import answer_seconds, pace_line
    from kimicode.review.request import PlanError, build_plan
    from kimicode.review.run import Deadline, review
    from kimicode.tokens import TokenCounter

    if not dry_run and not settings.api_key and needs_key(settings.base_url):
        _skip(report, settings, "no API key (set MOONSHOT_API_KEY or KIMICODE_API_KEY)")
    data_dir = user_locations().data_dir
    spec, limits = resolve_limits(settings, data_dir)  # the window the server reports or taught
    for notice in limits.notices:
        report.say(notice)
    counter = TokenCounter(settings.pack.encoding, calibration.factor(data_dir, settings.model))
    window = plan_for(spec, settings.ask.reply_tokens, settings.pack.budget)

    not_run = not_run_line(settings) if dry_run else ""
    if not_run:
        report.say(not_run)
    model = None if dry_run else MemoryModel.from_settings(settings, spec, counter.count)  # [memory] rerank
    memory = SessionMemory(changes.root, settings, data_dir, model=model)

    def recall(text: str, tokens: int, files: Sequence[str]) -> str:
        try:
            return memory.shelf(text, tokens, files)
        except MemoryUnavailable:
            report.say(f"review without memory: {memory.warning}")
            return ""
        finally:
            for notice in memory.take_notices():
                report.say(notice)

    cost_said = ""

    def plan_within(tokens: int) -> Plan:
        nonlocal cost_said
        try:
            return build_plan(changes, local, counter, window, tokens, settings.pack.max_file_bytes, recall)
        finally:
            memory.close()
            cost = memory.cost_line()
            if cost != cost_said:  # what memory's extra requests cost, once more only when a plan again added some
                report.say(cost)
                cost_said = cost

    # Planning a huge diff takes a while (about a minute for 10 MB here): when its size alone
    # says it is over the ceiling, ask (or skip) first.
    asked = False
    floor = _diff_tokens_floor(local)
    if not dry_run and settings.review.max_tokens and floor > settings.review.max_tokens:
        started += _ask_or_skip(report, settings, f"more than ~{floor:,} prompt tokens (from the diffs' size)",
                                f"review.max_tokens = {settings.review.max_tokens:,}")
        asked = True
    try:
        plan = plan_within(budget or window.prompt_limit)
    except PlanError as exc:
        raise UsageFailure(str(exc)) from None
    except OSError as exc:  # e.g. prompts/review.md missing from a broken install: must not block commits
        _skip(report, settings, f"cannot read {exc.filename}: {exc.strerror}")
    report.data["parts"] = len(plan.parts)
    for note in plan.notes:
        report.say(note)
    if plan.redactions:
        shown = ", ".join(f"{p}:{line} ({kind})" if line else f"{p} ({kind})" for p, line, kind in plan.redactions[:5])
        more = f" and {len(plan.redactions) - 5} more" if len(plan.redactions) > 5 else ""
        count = f"{len(plan.redactions)} secret{'s' if len(plan.redactions) != 1 else ''}"
        report.say(f"redacted {count} already in the repository before sending: {shown}{more}")
    if dry_run:
        _print_dry_run(report, plan)
        report.finish("passed", exit_codes.OK, "dry run")
    size = _size(plan, spec)
    over = None if asked else _over_ceiling(plan, settings)
    if over:
        started += _ask_or_skip(report, settings, size, over)
    deadline = None
    if settings.review.deadline > 0:
        deadline = Deadline(started + settings.review.deadline, f"review.deadline = {settings.review.deadline:g} s")
        if deadline.passed():
            _skip(report, settings, f"{deadline.why} passed while preparing the request")
    files = len(local.reviewable)
    report.say(f"reviewing {changes.label} ({files} file{'s' if files != 1 else ''}) with {settings.model}: {size}")
    paced = pace_line(spec, max(p.tokens for p in plan.parts), window.reply)  # a slow local model: its speed decides
    if paced:
        report.say(paced + (" a part" if len(plan.parts) > 1 else ""))
    with ChatClient(Endpoint.from_settings(settings), spec) as client:
        outcome = review(plan, plan_within, client, window, lambda line: report.say(line),
                         Calibration(data_dir, spec.name, counter.calibration), deadline,
                         lambda tokens: answer_seconds(spec, tokens, window.reply))
    for note in outcome.notes:
        report.data.setdefault("notes", []).append(note)
    _verdict(report, settings, changes, outcome)


def _size(plan: Plan, spec) -> str:  # type: ignore[no-untyped-def]
    """What a review will send, said before sending: requests, prompt tokens and, split, the price."""
    from kimicode.models import cost_usd

    tokens = sum(p.tokens for p in plan.parts)
    if len(plan.parts) == 1:
        return f"1 request, ~{tokens:,} prompt tokens"
    cost = cost_usd(spec, tokens, 0, 0)
    price = f", about ${cost:,.2f} of input at list price" if cost > 0 else ""
    return f"{len(plan.parts)} requests, ~{tokens:,} prompt tokens{price}"


def _diff_tokens_floor(local: LocalReport) -> int:
    return sum(len(line) for change in local.reviewable for hunk in change.hunks for line in hunk.lines) // CHARS_PER_TOKEN_MAX


def _ask_or_skip(report: _Report, settings: Settings, size: str, over: str) -> float:
    """A review over a ceiling goes on only when someone at the terminal says yes.

    Returns the seconds spent waiting for that yes: they do not count against review.deadline.
    """
    asked = time.monotonic()
    if not _confirmed(f"the review needs {size}, over {over}"):
        _skip(report, settings, f"the review would need {size}, over {over} "
                                "(raise it in config.toml, or review fewer files with --files)")
    return time.monotonic() - asked


def _over_ceiling(plan: Plan, settings: Settings) -> str | None:
    """The review.max_tokens / review.max_parts limit this plan passes, if any (0 turns one off)."""
    tokens = sum(p.tokens for p in plan.parts)
    ceiling = settings.review
    if ceiling.max_tokens and tokens > ceiling.max_tokens:
        return f"review.max_tokens = {ceiling.max_tokens:,}"
    if ceiling.max_parts and len(plan.parts) > ceiling.max_parts:
        return f"review.max_parts = {ceiling.max_parts:,}"
    return None


def _confirmed(question: str) -> bool:
    """Ask y/N on the terminal; False when there is none (a CI job, an IDE's commit button).

    A git hook's stdin is not the terminal (git gives it /dev/null), so the question goes to
    the controlling terminal itself, as interactive hooks do.
    """
    try:
        with open("/dev/tty", encoding="utf-8") as keys, open("/dev/tty", "w", encoding="utf-8") as screen:
            screen.write(f"kimicode: {question}. Send it? [y/N] ")
            screen.flush()
            answer = keys.readline()
    except (OSError, KeyboardInterrupt):  # no terminal (ENXIO), or Ctrl-C at the question: not confirmed
        return False
    return answer.strip().lower() in ("y", "yes")


def _print_dry_run(report: _Report, plan: Plan) -> None:
    if report.as_json:
        from kimicode.prompt import wire

        report.data["requests"] = [{"messages": wire(p.messages), "prompt_tokens": p.tokens, "files": p.files,
                                    "context": [list(c) for c in p.context]} for p in plan.parts]
        return
    for number, part in enumerate(plan.parts, start=1):
        for message in part.messages:
            click.echo(f"----- part {number} of {len(plan.parts)}: {message.role} -----")
            click.echo(message.content)
    for number, part in enumerate(plan.parts, start=1):
        context = ", ".join(f"{path} ({mode})" for path, mode in part.context) or "none"
        click.echo(f"part {number}: ~{part.tokens:,} prompt tokens of {plan.budget:,}; "
                   f"diffs: {', '.join(part.files)}; context: {context}")


def _verdict(report: _Report, settings: Settings, changes: ChangeSet, outcome: Outcome) -> NoReturn:
    from kimicode.review.findings import blocking, render_text, tally

    block_on = settings.review.block_on
    stopping = blocking(outcome.findings, block_on)
    report.data.update({
        "findings": [f.to_json() for f in outcome.findings], "blocking": len(stopping), "parts": outcome.parts,
        "model": outcome.model, "elapsed": round(outcome.elapsed, 3),
        "usage": {"requests": outcome.requests, "prompt_tokens": outcome.prompt_tokens, "completion_tokens": outcome.completion_tokens},
    })
    if outcome.failures:
        report.data["failures"] = outcome.failures
    if outcome.findings:
        report.out(render_text(outcome.findings))
    figures = f"{outcome.model}, {outcome.requests} request{'s' if outcome.requests != 1 else ''}, {outcome.elapsed:.1f} s"
    parts = f" in {outcome.parts} parts" if outcome.parts > 1 else ""
    if stopping:
        if changes.staged:
            report.say(f"commit blocked: {tally(stopping)} at or above review.block_on = {block_on}{parts} ({figures}); "
                       f"fix them, or skip the review once with {_bypass()}")
        else:
            report.say(f"blocked: {tally(stopping)} at or above review.block_on = {block_on}{parts} ({figures})")
        report.finish("blocked", exit_codes.ERROR, "findings")
    if outcome.failures:
        reviewed = outcome.reviewed
        if outcome.timed_out:
            why = f"the model had not answered within review.deadline = {settings.review.deadline:g} s"
            if outcome.parts > 1:
                why += f" ({reviewed} of {outcome.parts} parts reviewed)"
        else:
            why = outcome.failures[0] if reviewed <= 0 else f"{reviewed} of {outcome.parts} parts reviewed; {outcome.failures[0]}"
        if reviewed > 0 and outcome.findings:
            report.say(f"found {tally(outcome.findings)} (below review.block_on = {block_on})")
        _skip(report, settings, why)
    summary = "no findings" if not outcome.findings else f"{tally(outcome.findings)}, below review.block_on = {block_on}"
    report.say(f"review passed: {summary}{parts} ({figures})")
    report.finish("passed", exit_codes.OK)
