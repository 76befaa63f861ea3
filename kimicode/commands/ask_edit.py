"""`ask --edit`: the edit tools for one question, the y/N on a terminal, the checkpoints, the test loop.

Each proposed change is printed as a diff (stdout) and applied only with ``--yes`` or a "y" on a
terminal; without either nothing is written and the command exits 3. The applied changes of the
question are one set, recorded in a session of their own (``kimicode undo`` restores it, ``kimicode
diff`` shows it). With a test command, the tests run after each answer that edited; a failure goes
back to the model (redacted, middle-out trimmed, with what the error memory recalls for it) for up
to ``--test-rounds`` rounds; once they pass, each failure's fingerprint is stored with its fix.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import click

from kimicode import exit_codes
from kimicode.commands.common import UsageFailure

if TYPE_CHECKING:
    from kimicode.chat.log import SessionLog
    from kimicode.config import Settings
    from kimicode.edits.change import FileChange
    from kimicode.edits.checkpoint import Checkpoint
    from kimicode.edits.testrun import TestRun
    from kimicode.engine.tool_loop import LoopResult
    from kimicode.engine.transcript import Transcript
    from kimicode.tools.base import Tool
    from kimicode.tools.edit import Editor, Proposal
    from kimicode.tools.paths import RepoView

ROOT_CAUSE_CHARS = 2_000  # of the model's last answer, stored as the root cause
FIX_DIFF_CHARS = 4_000  # of the net diff, stored with the fix


@dataclass
class TestFailure:
    run: TestRun
    applied: int  # changes applied when it was seen: the fix is what came after
    signature: str  # "" when the output holds no error memory can fingerprint


@dataclass
class EditRun:
    root: Path
    settings: Settings
    question: str
    yes: bool
    test_cmd: str
    test_rounds: int
    remember: bool
    as_json: bool = False  # stdout is one JSON object: the diffs go to stderr, the summary into the object
    pause: Callable[[], None] = lambda: None  # the face stops its status line and live answer before printing
    failures: list[TestFailure] = field(default_factory=list)
    runs: list[TestRun] = field(default_factory=list)
    code: int = exit_codes.OK
    editor: Editor = field(init=False)
    log: SessionLog | None = field(default=None, init=False)  # the session, from the first applied change on
    told: bool = field(default=False, init=False)  # "no terminal to ask on" was said

    def start(self, view: RepoView) -> list[Tool]:
        """The edit tools, bound to this run (its ``approve`` is the toolbox's)."""
        from kimicode.chat.session import now
        from kimicode.edits.checkpoint import new_set_id
        from kimicode.tools.edit import Editor

        self.editor = Editor(view, self.decide, self.record, new_set_id(), now)
        return self.editor.tools()

    # -- approval ----------------------------------------------------------------------------

    def decide(self, proposal: Proposal) -> Sequence[FileChange]:
        from kimicode.edits.diff import unified_diffs

        self.pause()
        color = False if os.environ.get("NO_COLOR") else None  # None: click colours a terminal only
        for line in unified_diffs(proposal.changes).split("\n")[:-1]:  # a CRLF file's \r stays: `git apply` reads it
            click.echo(_styled(line), color=color, err=self.as_json)
        if self.yes:
            return proposal.changes
        if sys.stdin is not None and sys.stdin.isatty():
            paths = ", ".join(c.path for c in proposal.changes)
            try:
                approved = click.confirm(f"Apply this change to {paths}?", default=False, err=True)
            except click.Abort:  # Ctrl-C or end of input at the question: stop, as Ctrl-C does while streaming
                click.echo("", err=True)  # off the question's line
                raise KeyboardInterrupt from None
            return proposal.changes if approved else ()
        if not self.told:
            click.echo("kimicode: not applied: no --yes, and no terminal to ask on", err=True)
            self.told = True
        return ()

    def record(self, checkpoint: Checkpoint) -> None:
        if self.log is None:
            from kimicode.chat.checkpoints import edit_session
            from kimicode.chat.session import SessionError, SessionStore
            from kimicode.locations import user_locations

            try:
                self.log = edit_session(SessionStore(user_locations().data_dir), self.root, self.settings.model)
            except SessionError as exc:
                raise OSError(str(exc)) from None  # the editor takes the change back
            self.log.turn("user", self.question)
        self.log.write(checkpoint)

    # -- the test loop -------------------------------------------------------------------------

    def answer(self, once: Callable[[], LoopResult], transcript: Transcript | None, thinking: bool) -> LoopResult:
        """Run the tool loop (``once``), then the tests after each answer that edited, up to the rounds."""
        from kimicode.prompt import Message

        results = [once()]
        edited = bool(self.editor.log.applied)
        while self.test_cmd and transcript is not None and not results[-1].result.partial:
            if not edited:
                if self.failures:  # told of a failure, the model answered without a change
                    click.echo("kimicode: the model made no further edits: the tests still fail", err=True)
                    self.code = exit_codes.ERROR
                break
            message = self._test(results[-1])
            if message is None:
                break
            last = results[-1].result
            transcript.add_reply(Message("assistant", last.content, last.reasoning if thinking else ""), message)
            applied = len(self.editor.log.applied)
            results.append(once())
            edited = len(self.editor.log.applied) > applied
        return _joined(results)

    def _test(self, loop: LoopResult) -> str | None:
        """Run the tests; None when they pass (or the rounds are spent), else the message for the model."""
        from kimicode.edits.testrun import failure_message, run_tests
        from kimicode.locations import read_prompt
        from kimicode.tokens import TokenCounter

        self.pause()
        click.echo(f"kimicode: running the tests: {self.test_cmd}", err=True)
        run = run_tests(self.root, self.test_cmd, self.settings.edits.test_timeout)
        self.runs.append(run)
        if run.code in (126, 127):  # the shell could not run it: no edit of the model's will help
            last = (run.output.strip().splitlines() or ["?"])[-1]
            click.echo(f"kimicode: the test command could not run (exit {run.code}: {last[:200]})", err=True)
            self.code = exit_codes.ERROR
            return None
        if run.passed:
            click.echo(f"kimicode: the tests pass ({run.seconds:.1f} s)", err=True)
            self._remember(loop.result.content)
            return None
        failure = TestFailure(run, len(self.editor.log.applied), _signature(run.output, self.root))
        self.failures.append(failure)
        number = len(self.failures)
        print_id = f", fingerprint {failure.signature[:12]}" if failure.signature else ""
        if number > self.test_rounds:
            click.echo(f"kimicode: the tests still fail ({run.outcome}{print_id}) after {self.test_rounds} round(s) "
                       "of fixes; the edits stay applied (kimicode undo restores the files)", err=True)
            self.code = exit_codes.ERROR
            return None
        memory = self._recall(run.output)
        click.echo(f"kimicode: the tests failed ({run.outcome}{print_id}); sent back to the model "
                   f"({number} of {self.test_rounds})", err=True)
        counter = TokenCounter(self.settings.pack.encoding)
        return failure_message(read_prompt("tests_failed.md"), run, number, self.test_rounds + 1, memory,
                               self.settings.edits.test_output_tokens, counter.count)

    def _recall(self, output: str) -> str:
        if not self.settings.memory.enabled:
            return ""
        from kimicode.memory.recall import recall_for_text

        found = recall_for_text(output, self.root, self.settings)
        if found.warning:
            click.echo(f"kimicode: {found.warning}", err=True)
        elif found.hits:
            click.echo(f"kimicode: the error memory recalls {len(found.hits)} similar failure(s)", err=True)
        return found.text

    def _remember(self, answer: str) -> None:
        """Each failure of this run is stored with its fix: the model's account and what changed after it."""
        if not self.failures or not self.remember:
            return
        if not self.settings.memory.enabled:
            click.echo("kimicode: the fix is not remembered: memory is turned off", err=True)
            return
        from kimicode.edits.checkpoint import compose
        from kimicode.edits.diff import summary, unified_diffs
        from kimicode.memory.capture import FixSummary, store_fix

        stored: set[str] = set()
        for failure in self.failures:
            if failure.signature in stored:
                continue
            stored.add(failure.signature)
            changes = compose(self.editor.log.applied[failure.applied:])
            fix = "\n".join(summary(c) for c in changes) + "\n\n" + unified_diffs(changes, 1)[:FIX_DIFF_CHARS]
            cause = answer.strip()[:ROOT_CAUSE_CHARS] or "(the model gave no account)"
            line = store_fix(self.settings, self.root, failure.run.output,
                             FixSummary(True, cause, fix, tuple(c.path for c in changes)))
            click.echo(f"kimicode: {line}", err=True)

    # -- the end -------------------------------------------------------------------------------

    def finish(self, answer: str) -> int:
        """Record the answer, close the session; the exit code the edits call for (0: none)."""
        log = self.editor.log
        if self.log is not None:
            try:
                self.log.turn("assistant", answer)
            finally:
                self.log.close()
            click.echo(f"kimicode: {len(log.applied)} change(s) applied in session {self.log.id} "
                       "(kimicode diff shows them, kimicode undo restores the files)", err=True)
        for reason in log.refused:
            click.echo(f"kimicode: refused: {reason}", err=True)
        unapplied = [c for c in log.declined if c.path not in {a.path for a in log.applied}]
        if self.code == exit_codes.OK and (unapplied or log.refused):
            click.echo(f"kimicode: {len(unapplied) + len(log.refused)} proposed change(s) not applied"
                       f"{'' if self.yes else ': rerun with --yes to apply them'}", err=True)
            return exit_codes.BLOCKED
        return self.code

    def summary(self) -> dict[str, Any]:
        """For ``--json``: the session, the files applied, declined and refused, the test runs."""
        log = self.editor.log
        return {"session": self.log.id if self.log is not None else None,
                "applied": [{"path": c.path, "kind": c.kind} for c in log.applied],
                "declined": [c.path for c in log.declined], "refused": list(log.refused),
                "tests": [{"command": r.command, "exit": r.code, "passed": r.passed, "seconds": round(r.seconds, 3)}
                          for r in self.runs]}


def edit_run(root: Path, settings: Settings, question: str, edit: bool, yes: bool, test_cmd: str | None,
              test_rounds: int | None, no_remember: bool, no_repo: bool, remember: bool, as_json: bool) -> EditRun | None:
    """ask --edit's part, or None; the edit flags without --edit (or without what it needs) exit 2."""
    if not edit:
        given = [name for name, value in (("--yes", yes), ("--test-cmd", test_cmd), ("--test-rounds", test_rounds is not None),
                                          ("--no-remember", no_remember)) if value]
        if given:
            raise UsageFailure(f"{given[0]} goes with --edit")
        return None
    if no_repo:
        raise UsageFailure("--edit needs a repository to change: run it inside one, without --no-repo")
    if not settings.tools.enabled:
        raise UsageFailure("--edit needs the tools (the edits are tool calls): drop --no-tools")
    if remember and settings.edits.test_cmd:
        raise UsageFailure("--remember and --test-cmd both store the fix: the test loop stores it once the tests pass")
    return EditRun(root, settings, question, yes, settings.edits.test_cmd, settings.edits.test_rounds,
                   settings.edits.remember and not no_remember, as_json)


def _styled(line: str) -> str:
    if line.startswith(("+++", "---")):
        return click.style(line, bold=True)
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    return line


def _signature(output: str, root: Path) -> str:
    from kimicode.memory.capture import scrub
    from kimicode.memory.fingerprint import error_shapes

    shapes = error_shapes(scrub(output), str(root))
    return shapes[0].signature if shapes else ""


def _joined(results: list[LoopResult]) -> LoopResult:
    """The loops of one question as one result: the last answer, every round, call and request."""
    from dataclasses import replace

    last = results[-1]
    return replace(last, rounds=sum(r.rounds for r in results), calls=[c for r in results for c in r.calls],
                   requests=[q for r in results for q in r.requests])
