"""`kimicode diff`: what kimicode changed in a session and did not undo; `--commit` commits only that."""

from __future__ import annotations

import json

import click

from kimicode.commands.common import Failure
from kimicode.commands.undo import edited_session


@click.command("diff")
@click.option("--session", "session_id", metavar="ID", help="This session's changes (default: the one that edited last).")
@click.option("--stat", is_flag=True, help="One line per file instead of the diff.")
@click.option("--commit", is_flag=True, help="Commit exactly these changes (nothing else of yours) with a generated message.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the session and each file's change and diff.")
def command(session_id: str | None, stat: bool, commit: bool, as_json: bool) -> None:
    """Show the changes kimicode made in a session (net per file, undone sets left out)."""
    from kimicode.chat.checkpoints import changes_in
    from kimicode.edits.diff import summary, unified_diff

    found = edited_session(session_id, pending=False)
    changes = changes_in(found[1]) if found is not None else ()
    if found is None or not changes:
        click.echo("kimicode: no changes of kimicode's in this repository's sessions", err=True)
        return
    root, path = found
    committed = None
    if commit:
        from kimicode.edits.commit import commit_changes
        from kimicode.edits.disk import EditError

        try:
            committed = commit_changes(root, changes)
        except EditError as exc:
            raise Failure(str(exc)) from None
    if as_json:
        body = {"session": path.stem, "files": [{"path": c.path, "kind": c.kind, "diff": unified_diff(c)} for c in changes]}
        if committed is not None:
            body["commit"] = committed.commit
        click.echo(json.dumps(body, indent=1, ensure_ascii=False))
    else:
        for change in changes:
            click.echo(summary(change) if stat else unified_diff(change), nl=stat)
    if committed is not None and not as_json:
        click.echo(f"kimicode: committed {len(committed.paths)} file(s) as {committed.commit[:12]}: "
                   f"{committed.message.splitlines()[0]}", err=True)
