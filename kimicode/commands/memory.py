"""`kimicode memory`: what kimicode remembers here: errors, and notes (memory_notes.py).

    kimicode memory add [--fix TEXT] [--root-cause TEXT] [--file PATH]... < error.txt
    kimicode memory remember TEXT       kimicode memory undo / log / prune
    kimicode memory search TEXT         kimicode memory list [--kind K] [--scope S]
    kimicode memory show ID             kimicode memory forget ID
    kimicode memory export [--scope S] > f.jsonl   kimicode memory import f.jsonl [--scope S]

Listing commands take --json. Memory that cannot be opened (corrupt or locked index,
unreachable server) is a one-line error here, exit 1: this command is about memory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable

import click

from kimicode.commands import memory_notes as notes
from kimicode.commands.common import Failure, UsageFailure, repo_root_of, settings_or_exit


def _root() -> Path:
    return repo_root_of(Path.cwd())


def _open(root: Path) -> Any:
    from kimicode.memory.store import MemoryStore, MemoryUnavailable

    settings = settings_or_exit(root)
    try:
        return MemoryStore.open(settings, root)
    except MemoryUnavailable as exc:
        raise Failure(f"memory unavailable: {exc}") from None


def _guard(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store call; its failures become one-line errors."""
    from kimicode.memory.store import MemoryUnavailable

    try:
        return call(*args, **kwargs)
    except MemoryUnavailable as exc:
        raise Failure(f"memory unavailable: {exc}") from None
    except LookupError as exc:
        raise UsageFailure(str(exc.args[0] if exc.args else exc)) from None


def _read_stdin() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        return ""
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data


def _line(fp: Any) -> str:
    return (f"{fp.id[:12]}  {fp.times_seen:>4}x  {fp.last_seen[:10] or '-':<10}  {fp.language or '-':<10}  "
            f"{fp.error_type}: {fp.message[:90]}")


def _json_record(fp: Any, **extra: Any) -> dict[str, Any]:
    return {"id": fp.id, "kind": "error", **fp.to_dict(), **extra}


def _kind_options(func: Any) -> Any:
    func = click.option("--scope", "scopes", multiple=True, type=click.Choice(notes.SCOPE_CHOICES),
                        help="Only notes of this scope; repeatable (errors count as repository).")(func)
    func = click.option("--kind", "kinds", multiple=True, type=click.Choice(notes.KIND_CHOICES),
                        help="Only this kind; repeatable (default: all).")(func)
    return func


def _wants(kinds: tuple[str, ...], scopes: tuple[str, ...], error_filters: bool) -> tuple[bool, tuple[str, ...] | None]:
    """(errors wanted, note kinds wanted or None for no notes); an error-only filter means errors only."""
    errors = (not kinds or "error" in kinds) and (not scopes or "repository" in scopes)
    if error_filters:
        return errors, None
    if kinds and not notes.note_kinds(kinds):
        return errors, None
    return errors, notes.note_kinds(kinds)


def _note_filter(kinds: tuple[str, ...], scopes: tuple[str, ...]) -> Any:
    from kimicode.memory.notes_store import NoteFilter

    return NoteFilter(kinds, scopes)


def _filters(language: str | None, error_type: str | None, file: str | None) -> Any:
    from kimicode.memory.store import Filters

    return Filters(language=language, error_type=error_type, file=file)


def _filter_options(func: Any) -> Any:
    func = click.option("--file", "file", help="Only errors in (or fixed in) this file: a repo path or a file name.")(func)
    func = click.option("--type", "error_type", help="Only this error type, as stored (e.g. KeyError, panic).")(func)
    func = click.option("--language", help="Only this language (python, javascript, java, go, rust, c, cpp).")(func)
    return func


@click.group("memory")
def command() -> None:
    """What kimicode remembers across sessions: errors with their fixes, conventions, your
    preferences, decisions and tasks."""


notes.register(command)


@command.command("add")
@click.option("--error", "error_text", help="The error text (default: read from stdin).")
@click.option("--type", "error_type", help="With --message: store an error given by its parts, not by its text.")
@click.option("--message", help="The error message (with --type).")
@click.option("--language", default="", help="The language (with --type).")
@click.option("--root-cause", default="", help="Why the error happened.")
@click.option("--fix", default="", help="How it was fixed.")
@click.option("--file", "files", multiple=True, help="A file the fix touched; repeatable.")
@click.option("--commit", default="", help="The commit with the fix (default: HEAD).")
@click.option("--json", "as_json", is_flag=True, help="Print the stored record as JSON.")
def add(error_text: str | None, error_type: str | None, message: str | None, language: str, root_cause: str, fix: str,
        files: tuple[str, ...], commit: str, as_json: bool) -> None:
    """Remember an error: its text from stdin or --error, or its parts from --type/--message."""
    from kimicode.memory.capture import CaptureError, build_fingerprint, now_iso

    root = _root()
    if error_type or message:
        record = _from_parts(error_type or "", message or "", language, root_cause, fix, files, commit, root, now_iso())
    else:
        text = error_text if error_text is not None else _read_stdin()
        if not text.strip():
            raise UsageFailure("no error given: pipe the error text in, or use --error TEXT, or --type and --message")
        try:
            record = build_fingerprint(text, root, root_cause=root_cause, fix=fix, files=files, commit=commit)
        except CaptureError as exc:
            raise UsageFailure(str(exc)) from None
    store = _open(root)
    stored, new = _guard(store.add, record)
    if as_json:
        click.echo(json.dumps(_json_record(stored, new=new), indent=1, ensure_ascii=False))
        return
    state = "new record" if new else f"updated: seen {stored.times_seen} times"
    click.echo(f"{stored.id[:12]}  {stored.error_type}: {stored.message[:90]}  ({state})")


def _from_parts(error_type: str, message: str, language: str, root_cause: str, fix: str, files: Iterable[str],
                commit: str, root: Path, seen: str) -> Any:
    from kimicode.memory.capture import scrub
    from kimicode.memory.fingerprint import Fingerprint
    from kimicode.memory.identity import head_commit
    from kimicode.memory.normalize import normalize_message

    if not error_type.strip():
        raise UsageFailure("--message needs --type (the error type, e.g. KeyError)")
    try:
        return Fingerprint.from_dict({
            "error_type": error_type.strip(), "message": normalize_message(scrub(message)), "language": language.strip(),
            "root_cause": scrub(root_cause), "fix": scrub(fix), "files": [f.strip().lstrip("./") for f in files if f.strip()],
            "commit": commit or head_commit(root), "first_seen": seen, "last_seen": seen,
        })
    except ValueError as exc:
        raise UsageFailure(str(exc)) from None


@command.command("search")
@click.argument("text")
@click.option("-n", "--limit", default=5, show_default=True, type=click.IntRange(1, 100), help="Most results.")
@click.option("--min-score", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Hide weaker matches.")
@_filter_options
@_kind_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def search(text: str, limit: int, min_score: float, language: str | None, error_type: str | None, file: str | None,
           kinds: tuple[str, ...], scopes: tuple[str, ...], as_json: bool) -> None:
    """Memories like TEXT (an error message, a traceback, or words); TEXT '-' reads stdin."""
    if text == "-":
        text = _read_stdin()
    if not text.strip():
        raise UsageFailure("nothing to search for")
    errors, note_kinds = _wants(kinds, scopes, bool(language or error_type or file))
    root = _root()
    hits = _guard(_open(root).search, text, n=limit, filters=_filters(language, error_type, file), min_score=min_score,
                  repo_root=str(root)) if errors else []
    found = []
    if note_kinds is not None:
        _, store, _ = notes.open_notes()
        found = [h for h in notes.guard(store.search, text, _note_filter(note_kinds, scopes), n=limit) if h.similarity >= min_score]
    if as_json:
        rows = [_json_record(h.fingerprint, score=round(h.score, 4), exact=h.exact) for h in hits]
        rows += [notes.note_json(h.note, score=round(h.similarity, 4)) for h in found]
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    if not hits and not found:
        click.echo("nothing like that remembered here", err=True)
        return
    for hit in hits:
        mark = "=" if hit.exact else " "
        click.echo(f"{hit.score:4.2f}{mark} {_line(hit.fingerprint)}")
        if hit.fingerprint.fix:
            click.echo(f"        fix: {' '.join(hit.fingerprint.fix.split())[:110]}")
    for note_hit in found:
        click.echo(f"{note_hit.similarity:4.2f}  {notes.note_line(note_hit.note)}")


@command.command("list")
@_filter_options
@_kind_options
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many of each.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_records(language: str | None, error_type: str | None, file: str | None, kinds: tuple[str, ...],
                 scopes: tuple[str, ...], limit: int | None, as_json: bool) -> None:
    """Remembered notes (most recently updated first), then errors (most recently seen first)."""
    errors, note_kinds = _wants(kinds, scopes, bool(language or error_type or file))
    records = _guard(_open(_root()).records, _filters(language, error_type, file), limit) if errors else []
    found: list[Any] = []
    if note_kinds is not None:
        _, store, _ = notes.open_notes()
        found = notes.guard(store.notes, _note_filter(note_kinds, scopes))[:limit]
    if as_json:
        rows = [notes.note_json(n) for n in found] + [_json_record(r) for r in records]
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    if not records and not found:
        click.echo("nothing remembered here yet", err=True)
        return
    for note in found:
        click.echo(notes.note_line(note))
    for record in records:
        click.echo(_line(record))


@command.command("show")
@click.argument("ref", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def show(ref: str, as_json: bool) -> None:
    """One memory in full (ID: the id or a unique prefix of at least 4 characters)."""
    record = _guard(_open(_root()).get, ref)
    if record is None:
        _, store, _ = notes.open_notes()
        note = notes.guard(store.get, ref)
        if note is None:
            raise UsageFailure(f"no remembered error or note with id {ref!r} (see `kimicode memory list`)")
        notes.show_note(note, as_json)
        return
    if as_json:
        click.echo(json.dumps(_json_record(record), indent=1, ensure_ascii=False))
        return
    rows = [("id", record.id), ("type", record.error_type), ("message", record.message), ("language", record.language),
            ("seen", f"{record.times_seen} times, first {record.first_seen}, last {record.last_seen}"),
            ("frames", "; ".join(record.frames)), ("files", ", ".join(record.files)), ("commit", record.commit),
            ("root cause", record.root_cause), ("fix", record.fix)]
    for name, value in rows:
        if value:
            click.echo(f"{name + ':':<12}{value}")
    if record.excerpt:
        click.echo("excerpt:")
        click.echo("\n".join("    " + line for line in record.excerpt.splitlines()))


@command.command("forget")
@click.argument("ref", metavar="ID")
def forget(ref: str) -> None:
    """Delete one remembered error or note (a note can be brought back with `memory undo`)."""
    record = _guard(_open(_root()).forget, ref)
    if record is not None:
        click.echo(f"forgot {record.id[:12]}  {record.error_type}: {record.message[:90]}")
        return
    from kimicode.memory.consolidate import Action, Candidate
    from kimicode.memory.remember import apply, now_iso

    _, store, journal = notes.open_notes()
    note = notes.guard(store.get, ref)
    if note is None:
        raise UsageFailure(f"no remembered error or note with id {ref!r} (see `kimicode memory list`)")
    action = Action("delete", Candidate(note.kind, note.text), note, why="forgotten by the user")
    stored = notes.guard(apply, store, journal, [action], when=now_iso(), source="cli")
    click.echo(f"forgot {note.id[:12]}  {note.kind}/{note.scope}: {note.text[:90]}  (undo: kimicode memory undo {stored.batch})")


@command.command("export")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to this file (default: stdout).")
@_kind_options
def export(output: Path | None, kinds: tuple[str, ...], scopes: tuple[str, ...]) -> None:
    """Memories visible here as JSON Lines, oldest first: notes, then errors (--scope user: only
    your own preferences and notes, to carry them to another machine)."""
    errors, note_kinds = _wants(kinds, scopes, False)
    rows = []
    if note_kinds is not None:
        _, store, _ = notes.open_notes()
        found = notes.guard(store.notes, _note_filter(note_kinds, scopes))
        rows += [n.to_dict() for n in sorted(found, key=lambda n: (n.created, n.id))]
    if errors:
        rows += [{"kind": "error", **r.to_dict()} for r in _guard(_open(_root()).export)]
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    if output is None:
        click.echo(lines, nl=False)
        return
    from kimicode.locations import write_private

    write_private(output, lines)
    click.echo(f"exported {len(rows)} record{'s' if len(rows) != 1 else ''} to {output}", err=True)


def _parse_import(text: str, source: str, kinds: tuple[str, ...], scopes: tuple[str, ...], place: Any) -> tuple[list[Any], list[Any]]:
    """(fingerprints, notes) of an export, re-homed to ``place``; one bad line imports nothing."""
    from dataclasses import replace

    from kimicode.memory.fingerprint import Fingerprint
    from kimicode.memory.notes import KINDS, Note, NoteError, note_id

    records, found, bad = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("kind") in KINDS:
                note = Note.from_dict(data)
                if note.scope != "user" and note.repo != place.repo:  # an export of another clone or repository
                    task = note.task if note.scope != "task" or note.task else place.task
                    note = replace(note, repo=place.repo, task=task, id=note_id(note.kind, note.scope, place.repo, task, note.text))
                if (not kinds or note.kind in kinds) and (not scopes or note.scope in scopes):
                    found.append(note)
            elif not kinds or "error" in kinds:
                record = Fingerprint.from_dict({k: v for k, v in data.items() if k != "kind"})
                if not scopes or "repository" in scopes:
                    records.append(record)
        except (ValueError, NoteError) as exc:
            bad.append(f"line {number}: {exc}")
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise UsageFailure(f"{source}: nothing imported: {'; '.join(bad[:3])}{more}")
    return records, found


@command.command("import")
@click.argument("source", metavar="FILE")
@_kind_options
def import_records(source: str, kinds: tuple[str, ...], scopes: tuple[str, ...]) -> None:
    """Add memories from a JSON Lines export (FILE '-' reads stdin); known ids are merged.
    --scope/--kind take only those; repository notes of another repository are re-homed here.

    Every line is checked first: one bad line imports nothing.
    """
    if source == "-":
        text = _read_stdin()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageFailure(f"cannot read {source}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageFailure(f"{source} is not UTF-8 text") from None
    settings, store, journal = notes.open_notes()
    records, found = _parse_import(text, source, kinds, scopes, store.place)
    if not records and not found:
        raise UsageFailure(f"{source}: no records" + (" of that kind or scope" if kinds or scopes else ""))
    said = []
    if found:
        said.append(_import_notes(store, journal, found, notes.expander(settings)))
    if records:
        stored, new = _guard(_open(_root()).add_many, records, False)
        said.append(f"{len(records)} error record{'s' if len(records) != 1 else ''}: {new} new, {len(stored) - new} merged")
    click.echo("imported " + "; ".join(said), err=True)


def _import_notes(store: Any, journal: Any, found: list[Any], model: Any = None) -> str:
    """Notes are merged by id: a stored note keeps the later wording and the longer history.
    With ``model`` (memory.expand), a note that comes without an expansion gets one, unless the
    stored one has the same words and an expansion already."""
    from dataclasses import replace

    from kimicode.memory.journal import Change, new_batch
    from kimicode.memory.remember import expand_changes, now_iso

    batch, when, changes = new_batch(), now_iso(), []
    for note in found:
        old = notes.guard(store.get, note.id)
        if old is not None and not note.expansion and old.text == note.text:
            note = replace(note, expansion=old.expansion)
        if old is None:
            changes.append(Change(batch, when, "added", None, note, "imported"))
        elif note.updated > old.updated:
            changes.append(Change(batch, when, "updated", old, note, "imported"))
    notice = ""
    if model is not None:
        try:
            changes, notice = expand_changes(changes, model.asker("expand"))
        finally:
            model.close()
    notes.guard(store.put, [c.after for c in changes])
    journal.record(changes)
    added = sum(1 for c in changes if c.event == "added")
    said = f"{len(found)} note{'s' if len(found) != 1 else ''}: {added} new, {len(found) - added} merged"
    return f"{said} ({notice})" if notice else said
