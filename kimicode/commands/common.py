"""What every subcommand needs: settings, one-line errors, the user's dirs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import click

from kimicode import exit_codes
from kimicode.config import ConfigError, Settings, load_settings


class Failure(click.ClickException):
    """The work could not be done: one line on stderr, exit 1."""

    exit_code = exit_codes.ERROR

    def format_message(self) -> str:
        return self.message

    def show(self, file: Any = None) -> None:
        click.echo(f"kimicode: error: {self.format_message()}", err=True)


class Stopped(Failure):
    """The user stopped the work (Ctrl-C): one line on stderr, exit 130."""

    exit_code = exit_codes.INTERRUPTED

    def show(self, file: Any = None) -> None:
        click.echo(f"kimicode: stopped: {self.format_message()}", err=True)


class UsageFailure(Failure):
    """The user asked for something invalid: one line on stderr, exit 2."""

    exit_code = exit_codes.USAGE


def repo_root_of(path: Path) -> Path:
    """The git work tree containing ``path``, else ``path`` itself (where .kimicode.toml is looked for)."""
    from kimicode.repo.files import git_root

    resolved = path.resolve()
    return git_root(resolved) or resolved


def settings_or_exit(repo_root: Path | None, flags: Mapping[str, Any] | None = None, *, warn: bool = True) -> Settings:
    """The merged settings; a bad one exits 2 with one line. ``warn``: print what was ignored
    (the TUI shows it in the chat instead, where it is not hidden by the screen)."""
    try:
        settings = load_settings(repo_root, flags)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    for warning in settings.warnings if warn else ():
        click.echo(f"kimicode: warning: {warning}", err=True)
    return settings
