"""`kimicode hook install|uninstall|status`: the git pre-commit hook that runs `kimicode review`."""

from __future__ import annotations

from pathlib import Path

import click

from kimicode.commands.common import Failure, UsageFailure


@click.group("hook")
def command() -> None:
    """Install or remove the git pre-commit hook that reviews each commit."""


def _root() -> Path:
    from kimicode.repo.files import git_root

    root = git_root(Path.cwd().resolve())
    if root is None:
        raise UsageFailure(f"{Path.cwd()} is not inside a git repository")
    return root


@command.command("install")
def install() -> None:
    """Write .git/hooks/pre-commit (an existing hook is kept and runs first)."""
    from kimicode.review.hook import HookError, install as do_install

    try:
        click.echo(f"kimicode: {do_install(_root())}")
    except (HookError, OSError) as exc:
        raise Failure(str(exc)) from None
    click.echo("kimicode: every commit is now reviewed; git commit --no-verify skips it once")


@command.command("uninstall")
def uninstall() -> None:
    """Remove kimicode's hook and restore the one it replaced."""
    from kimicode.review.hook import HookError, uninstall as do_uninstall

    try:
        click.echo(f"kimicode: {do_uninstall(_root())}")
    except (HookError, OSError) as exc:
        raise Failure(str(exc)) from None


@command.command("status")
def status() -> None:
    """Say whether kimicode's hook is installed here."""
    from kimicode.review.hook import HookError, status as hook_status

    try:
        click.echo(f"kimicode: hook {hook_status(_root())}")
    except HookError as exc:
        raise Failure(str(exc)) from None
