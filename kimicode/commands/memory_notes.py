"""`kimicode memory` for notes: remember, undo, log, prune, and the note side of list/search/show.

    kimicode memory remember "we use httpx, never requests" [--kind K] [--scope S] [--task T]
    kimicode memory undo [BATCH]        kimicode memory log [--limit N]
    kimicode memory prune [--dry-run]

Every change is journaled (kimicode/memory/journal.py) and printed, so what was stored can be
seen and taken back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import click

from kimicode.commands.common import Failure, UsageFailure, repo_root_of, settings_or_exit

KIND_CHOICES = ("knowledge", "preference", "decision", "task", "error")
SCOPE_CHOICES = ("user", "repository", "task")


def open_notes(task: str | None = None) -> tuple[Any, Any, Any]:
    """(settings, note store, journal) for the folder here; memory problems are one-line errors."""
    from kimicode.memory.chroma import MemoryUnavailable
    from kimicode.memory.remember import open_notes as open_store

    root = repo_root_of(Path.cwd())
    settings = settings_or_exit(root)
    try:
        store, journal = open_store(settings, root, task=task)
    except MemoryUnavailable as exc:
        raise Failure(f"memory unavailable: {exc}") from None
    return settings, store, journal


def guard(call: Any, *args: Any, **kwargs: Any) -> Any:
    from kimicode.memory.chroma import MemoryUnavailable
    from kimicode.memory.notes import NoteError

    try:
        return call(*args, **kwargs)
    except MemoryUnavailable as exc:
        raise Failure(f"memory unavailable: {exc}") from None
    except (LookupError, NoteError) as exc:
        raise UsageFailure(str(exc.args[0] if exc.args else exc)) from None


def expander(settings: Any) -> Any:
    """The model that writes a stored note's expansion when memory.expand is on (docs/memory.md),
    else None; without a key for its endpoint, None and one line saying so."""
    if not (settings.memory.enabled and settings.memory.expand):
        return None
    from kimicode.discovery import resolve_limits
    from kimicode.engine.memory_model import MemoryModel
    from kimicode.llm import needs_key
    from kimicode.locations import user_locations

    if not settings.api_key and needs_key(settings.base_url):
        click.echo("kimicode: memory expansion not run: no API key (set MOONSHOT_API_KEY or KIMICODE_API_KEY)", err=True)
        return None
    spec, _ = resolve_limits(settings, user_locations().data_dir)
    model = MemoryModel.from_settings(settings, spec)
    return model if model is not None and model.expand else None


def note_line(note: Any) -> str:
    return f"{note.id[:12]}  {note.kind:<10}  {note.scope:<10}  {(note.updated or note.created)[:10]:<10}  {note.text[:100]}"


def note_json(note: Any, **extra: Any) -> dict[str, Any]:
    return {**note.to_dict(), **extra}


def show_note(note: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(note_json(note), indent=1, ensure_ascii=False))
        return
    rows = [("id", note.id), ("kind", note.kind), ("scope", note.scope), ("task", note.task), ("text", note.text),
            ("files", ", ".join(note.files)), ("source", note.source),
            ("stated", f"{note.confirmed} time{'s' if note.confirmed != 1 else ''}, first {note.created}, last {note.updated}")]
    for name, value in rows:
        if value:
            click.echo(f"{name + ':':<10}{value}")
    if note.history:
        click.echo("history (oldest first):")
        for revision in note.history:
            click.echo(f"  until {revision.until}: {revision.text}" + (f"  ({revision.why})" if revision.why else ""))


def echo_stored(stored: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"batch": stored.batch, "changes": [c.to_dict() for c in stored.changes]}, indent=1,
                              ensure_ascii=False))
        return
    for line in stored.lines():
        click.echo(line)
    click.echo(stored.summary(), err=True)


def note_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    return tuple(k for k in kinds if k != "error")


def register(group: click.Group) -> None:
    group.add_command(remember)
    group.add_command(undo)
    group.add_command(log)
    group.add_command(prune)


@click.command("remember")
@click.argument("text", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(KIND_CHOICES[:-1]), help="What it is (default: from the words: "
              "'I prefer...' a preference, 'we use...' knowledge, 'we decided...' a decision).")
@click.option("--scope", type=click.Choice(SCOPE_CHOICES), help="Who sees it (default: the kind's: preference user, "
              "others repository).")
@click.option("--task", help="The task it belongs to (default: the branch checked out).")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def remember(text: tuple[str, ...], kind: str | None, scope: str | None, task: str | None, as_json: bool) -> None:
    """Remember TEXT: a convention, a preference, a decision or a task's state. Consolidated with
    what is stored: the same statement is not added twice, a newer one on the same subject
    replaces the older (kept in its history)."""
    from kimicode.memory.remember import candidate_from_text
    from kimicode.memory.remember import remember as store_notes

    settings, store, journal = open_notes(task)
    candidate = guard(candidate_from_text, " ".join(text), kind, scope, task)
    model = expander(settings)
    try:
        stored = guard(store_notes, store, journal, [candidate], source="cli",
                       expand=model.asker("expand") if model is not None else None)
    finally:
        if model is not None:
            model.close()
    echo_stored(stored, as_json)


@click.command("undo")
@click.argument("batch", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def undo(batch: str | None, as_json: bool) -> None:
    """Take back the last change to the notes (or batch BATCH, see `memory log`): what it added
    goes, what it updated or deleted comes back."""
    from kimicode.memory.remember import undo as undo_batch

    _, store, journal = open_notes()
    echo_stored(guard(undo_batch, store, journal, batch), as_json)


@click.command("log")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Most recent changes shown.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def log(limit: int, as_json: bool) -> None:
    """What was stored, updated or deleted lately, newest last, with the batch to undo."""
    from kimicode.locations import user_locations
    from kimicode.memory.journal import Journal

    changes = Journal(user_locations().data_dir).changes()[-limit:]
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in changes], indent=1, ensure_ascii=False))
        return
    if not changes:
        click.echo("no changes to the notes yet", err=True)
        return
    for change in changes:
        note = change.note
        click.echo(f"{change.batch}  {change.event:<9}  {note.id[:8]}  {note.kind}/{note.scope}: {note.text[:90]}")


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def prune(dry_run: bool, as_json: bool) -> None:
    """Delete notes older than their kind's retention (memory.retention.<kind>, days; 0 keeps them)."""
    import dataclasses

    from kimicode.memory.remember import prune as prune_notes

    settings, store, journal = open_notes()
    days = dataclasses.asdict(settings.memory.retention)
    stored = guard(prune_notes, store, journal, days, dry_run=dry_run)
    if as_json or stored.changes:
        echo_stored(stored, as_json)
    if not stored.changes and not as_json:
        click.echo("nothing to prune", err=True)
    elif dry_run and not as_json:
        click.echo("(dry run: nothing deleted)", err=True)
