"""`kimicode undo`: restore the files kimicode's last set of changes touched, exactly as they were."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kimicode.commands.common import Failure, UsageFailure, repo_root_of


def edited_session(session_id: str | None, pending: bool = True) -> tuple[Path, Path] | None:
    """(repository root, session file) of the session named, or of the one that edited last; None when
    no session of this repository holds edits."""
    from kimicode.chat.checkpoints import latest_edited
    from kimicode.chat.session import SessionError, SessionStore
    from kimicode.locations import user_locations

    root = repo_root_of(Path.cwd())
    store = SessionStore(user_locations().data_dir)
    if session_id:
        try:
            return root, store.find(session_id)
        except SessionError as exc:
            raise UsageFailure(str(exc)) from None
    found = latest_edited(store, root, pending)
    return None if found is None else (root, found.path)


@click.command("undo")
@click.option("--session", "session_id", metavar="ID", help="Undo in this session (default: the one that edited last).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: the set undone and the files restored.")
def command(session_id: str | None, as_json: bool) -> None:
    """Restore the files of kimicode's last set of changes (refused if one changed since)."""
    from kimicode.chat.checkpoints import undo_in
    from kimicode.chat.session import SessionError
    from kimicode.edits.diff import summary

    found = edited_session(session_id)
    if found is None:
        raise Failure("kimicode has no changes to undo in this repository")
    root, path = found
    try:
        result = undo_in(path, root)
    except SessionError as exc:  # SessionLocked included: a kimicode has it open (/undo there)
        raise Failure(f"{exc}: use /undo there, or close it first") from None
    if not result.set_id:
        raise Failure(f"session {path.stem} has no changes left to undo")
    if result.refused:
        raise Failure(result.refused[0].reason + (f" ({len(result.refused) - 1} more file(s) too)" if len(result.refused) > 1 else ""))
    if as_json:
        click.echo(json.dumps({"session": path.stem, "set": result.set_id,
                               "restored": [{"path": c.path, "kind": c.kind} for c in result.restored]}, indent=1))
        return
    for change in result.restored:
        click.echo(f"restored {summary(change)}")
    click.echo(f"kimicode: undid set {result.set_id} of session {path.stem}: {len(result.restored)} file(s) restored", err=True)
