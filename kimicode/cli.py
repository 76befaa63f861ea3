"""The `kimicode` command: a click group whose subcommands live in kimicode/commands/.

Subcommand modules are imported only when that subcommand runs, so
`kimicode --help` stays instant.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from typing import Any

import click

from kimicode import __version__

# name -> (module, short help); the module defines `command`, a click.Command
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "pack": ("kimicode.commands.pack", "Pack a repository into one prompt within a token budget."),
    "ask": ("kimicode.commands.ask", "Ask one question about the repository and stream the answer."),
    "doctor": ("kimicode.commands.doctor", "Check that everything kimicode needs works on this machine."),
    "models": ("kimicode.commands.models", "List the models: window, reply cap, prices, where each figure came from."),
    "config": ("kimicode.commands.config_cmd", "Where the config files are (path); write a commented one (init)."),
    "sessions": ("kimicode.commands.sessions", "List, show and export chat sessions."),
    "memory": ("kimicode.commands.memory", "What kimicode remembers: errors and fixes, conventions, preferences, decisions, tasks."),
    "review": ("kimicode.commands.review", "Review the staged changes (or a range, or files); exit 1 to stop a commit."),
    "hook": ("kimicode.commands.hook", "Install or remove the git hooks (pre-commit, pre-merge-commit) that run kimicode review."),
    "undo": ("kimicode.commands.undo", "Restore the files of kimicode's last set of changes, exactly as they were."),
    "diff": ("kimicode.commands.diff", "Show (or --commit) what kimicode changed in a session."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module = importlib.import_module(SUBCOMMANDS[name][0])
        return module.command

    def invoke(self, ctx: click.Context) -> Any:
        # click's standalone mode would turn Ctrl-C into "Aborted!" and exit 1; a shell and a script
        # expect 130, and kimicode's one-line form
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            from kimicode.commands.common import Stopped

            raise Stopped("interrupted") from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kimicode")
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.option("--resume", "resume", is_flag=False, flag_value="", default=None, metavar="[ID]",
              help="Open the TUI on this repository's last session, or on session ID.")
@click.option("--model", help="The model the TUI answers with (default: from the config).")
@click.option("--base-url", help="The OpenAI-compatible endpoint for the TUI (default: from the config).")
@click.option("--edit/--no-edit", default=None,
              help="The TUI's model may propose edits, each applied on your Apply (default: on; [edits] chat).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, resume: str | None, model: str | None, base_url: str | None,
        edit: bool | None) -> None:
    """kimicode: a terminal coding assistant for long-context models.

    Without a command, opens the chat (TUI) on the repository here.
    """
    ctx.obj = {"debug": debug}
    if ctx.invoked_subcommand is not None:
        if resume is not None or model or base_url or edit is not None:
            raise click.UsageError("--resume, --model, --base-url and --edit open the TUI: give them without a command")
        return
    _open_tui(resume, model, base_url, edit)


def _open_tui(resume: str | None, model: str | None, base_url: str | None, edit: bool | None) -> None:
    """The TUI, imported only now so `kimicode --help` and the subcommands stay quick."""
    from pathlib import Path

    from kimicode.commands.common import repo_root_of, settings_or_exit

    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise click.UsageError("the chat needs a terminal; for scripts use `kimicode ask`")
    root = repo_root_of(Path.cwd())
    settings = settings_or_exit(root, {"model": model, "base_url": base_url, "edits.chat": edit}, warn=False)  # shown in the chat
    from kimicode.tui import run

    run(settings, root, resume=resume is not None, session_id=resume or None)


def main(argv: list[str] | None = None) -> Any:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    # On the way out the interpreter collects the whole heap once more only to free it anyway:
    # a tenth of a second after a large pack. Frozen (registered first, this runs last), it is just freed.
    atexit.register(gc.freeze)
    try:
        return cli.main(args=argv, prog_name="kimicode", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("kimicode: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if debug:
            raise
        click.echo(f"kimicode: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(1)
