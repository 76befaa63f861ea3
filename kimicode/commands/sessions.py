"""`kimicode sessions`: list, show and export the chat sessions kept on disk."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from kimicode.commands.common import Failure, UsageFailure, repo_root_of


def _store():  # type: ignore[no-untyped-def]
    from kimicode.chat.session import SessionStore
    from kimicode.locations import user_locations

    return SessionStore(user_locations().data_dir)


def _load(session_id: str | None):  # type: ignore[no-untyped-def]
    """The session named (or this repository's last one), loaded; unknown ids exit 2."""
    from kimicode.chat.session import SessionError, load_session

    store = _store()
    try:
        path = store.resolve(repo_root_of(Path.cwd()), session_id)
        loaded = load_session(path)
    except SessionError as exc:
        raise UsageFailure(str(exc)) from None
    for warning in loaded.warnings:
        click.echo(f"kimicode: warning: {warning}", err=True)
    return loaded


@click.group("sessions")
def command() -> None:
    """List, show and export chat sessions (resume one with `kimicode --resume [ID]`)."""


@command.command("list")
@click.option("--all", "all_repos", is_flag=True, help="Sessions of every repository, not only this one.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_sessions(all_repos: bool, as_json: bool) -> None:
    """Sessions of the repository here, the most recently used first."""
    root = None if all_repos else repo_root_of(Path.cwd())
    infos = _store().list(root)
    if as_json:
        rows = [{"id": i.id, "root": i.root, "created": i.created, "updated": dt.datetime.fromtimestamp(i.updated).isoformat(timespec="seconds"),
                 "turns": i.turns, "title": i.title, "model": i.model, "path": str(i.path)} for i in infos]
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    if not infos:
        where = "any repository" if all_repos else str(root)
        click.echo(f"no sessions for {where}", err=True)
        return
    for info in infos:
        updated = dt.datetime.fromtimestamp(info.updated).strftime("%Y-%m-%d %H:%M")
        where = f"  {info.root}" if all_repos else ""
        click.echo(f"{info.id}  {updated}  {info.turns:>5} turns  {info.title or '(empty)'}{where}")


@command.command("show")
@click.argument("session_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Turns, state record and compaction reports as JSON.")
def show(session_id: str | None, as_json: bool) -> None:
    """Print session SESSION_ID (default: the last one of this repository)."""
    from kimicode.chat.export import compactions, to_json, to_markdown

    loaded = _load(session_id)
    if as_json:
        click.echo(json.dumps(to_json(loaded), indent=1, ensure_ascii=False))
        return
    click.echo(to_markdown(loaded), nl=False)
    reports = compactions(loaded)
    if reports:
        click.echo(f"\n{len(reports)} compaction(s); the last: {reports[-1].line()}")


@command.command("export")
@click.argument("session_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE instead of stdout.")
def export(session_id: str | None, fmt: str, output: Path | None) -> None:
    """Export session SESSION_ID (default: the last one of this repository)."""
    from kimicode.chat.export import to_json, to_markdown

    loaded = _load(session_id)
    text = to_markdown(loaded) if fmt == "md" else json.dumps(to_json(loaded), indent=1, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    from kimicode.locations import write_private

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_private(output, text)  # a conversation quotes private code: owner only
    except OSError as exc:
        raise Failure(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output} ({len(loaded.turns)} turns)", err=True)
