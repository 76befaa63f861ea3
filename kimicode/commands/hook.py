"""`kimicode hook install|uninstall|status`: the git hooks (pre-commit, pre-merge-commit) that run `kimicode review`."""

from __future__ import annotations

from pathlib import Path

import click

from kimicode.commands.common import Failure, UsageFailure


@click.group("hook")
def command() -> None:
    """Install or remove the git hooks that review each commit and merge commit."""


def _root() -> Path:
    from kimicode.repo.files import git_root

    root = git_root(Path.cwd().resolve())
    if root is None:
        raise UsageFailure(f"{Path.cwd()} is not inside a git repository")
    return root


@command.command("install")
def install() -> None:
    """Write .git/hooks/pre-commit and pre-merge-commit (existing hooks are kept and run first)."""
    from kimicode.review.hook import HookError
    from kimicode.review.hook import install as do_install

    try:
        click.echo(f"kimicode: {do_install(_root())}")
    except (HookError, OSError) as exc:
        raise Failure(str(exc)) from None
    click.echo("kimicode: commits (git commit, --amend) and merge commits (git merge, git pull) are now reviewed; "
               "git commit --no-verify or git merge --no-verify skips it once")
    click.echo("kimicode: not reviewed: commits git replays (rebase, cherry-pick, revert, am) and fast-forwards "
               "(see docs/hooks.md)")


@command.command("uninstall")
def uninstall() -> None:
    """Remove kimicode's hooks and restore the ones they replaced."""
    from kimicode.review.hook import HookError
    from kimicode.review.hook import uninstall as do_uninstall

    try:
        click.echo(f"kimicode: {do_uninstall(_root())}")
    except (HookError, OSError) as exc:
        raise Failure(str(exc)) from None


@command.command("status")
def status() -> None:
    """Say whether kimicode's hooks are installed here."""
    from kimicode.review.hook import HookError
    from kimicode.review.hook import status as hook_status

    try:
        click.echo(f"kimicode: hook {hook_status(_root())}")
    except HookError as exc:
        raise Failure(str(exc)) from None
