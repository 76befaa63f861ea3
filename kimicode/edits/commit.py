"""``--commit``: one commit of exactly kimicode's changes, never the user's other work.

The commit is built on a private index (``GIT_INDEX_FILE`` in a temp folder: HEAD's tree plus
kimicode's files as kimicode wrote them), so nothing else the user staged or changed goes in,
and no stash, checkout or reset touches the work tree. It is refused, with one line, when a
file no longer is what kimicode wrote, when kimicode's pre-image was not HEAD's version (the
file held the user's own uncommitted changes: they would be committed too), or when the user
staged changes to one of the files. Afterwards the user's index gets the committed entries of
those paths only, so ``git status`` shows them clean.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kimicode.edits.change import FileChange
from kimicode.edits.diff import summary
from kimicode.edits.disk import EditError, read_text


@dataclass(frozen=True)
class Committed:
    commit: str  # its full id
    message: str
    paths: tuple[str, ...]


def _git(root: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None,
         check: bool = True) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, input=data, env=env,
                          stdin=None if data is not None else subprocess.DEVNULL)
    if check and done.returncode:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
        raise EditError(f"git {args[0]} failed: {last}")
    return done


def message_for(changes: Sequence[FileChange], why: str = "") -> str:
    """The generated message: a subject naming the files, a body with one line per file."""
    names = [c.path.rsplit("/", 1)[-1] for c in changes]
    subject = f"kimicode: change {', '.join(names[:3])}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    body = "\n".join(summary(c) for c in changes)
    asked = f"\n\nAsked: {why.strip().splitlines()[0][:200]}" if why.strip() else ""
    return f"{subject}\n\n{body}{asked}\n"


def _head_text(root: Path, path: str, head: str | None) -> str | None:
    if head is None:
        return None
    done = _git(root, "cat-file", "blob", f"{head}:{path}", check=False)
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def _check(root: Path, change: FileChange, head: str | None) -> None:
    if read_text(root, change.path) != change.after:
        raise EditError(f"{change.path} changed since kimicode wrote it: nothing was committed")
    if _head_text(root, change.path, head) != change.before:
        raise EditError(f"{change.path} held uncommitted changes of yours before kimicode edited it: "
                        "nothing was committed (commit it yourself)")
    if head is not None and _git(root, "diff", "--cached", "--quiet", head, "--", change.path, check=False).returncode:
        raise EditError(f"{change.path} has staged changes of yours: nothing was committed")


def _mode(root: Path, path: str, head: str | None) -> str:
    if head is not None:
        listed = _git(root, "ls-tree", head, "--", path).stdout.split()
        if listed:
            return listed[0].decode()
    return "100755" if os.access(root / path, os.X_OK) else "100644"


def commit_changes(root: Path, changes: Sequence[FileChange], why: str = "") -> Committed:
    """Commit ``changes`` (kimicode's net changes) alone; EditError (one line) when it may not."""
    if not changes:
        raise EditError("kimicode changed nothing here: nothing to commit")
    if _git(root, "rev-parse", "--is-inside-work-tree", check=False).returncode:
        raise EditError("not a git work tree: nothing to commit")
    found = _git(root, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    head = found.stdout.decode().strip() or None
    for change in changes:
        _check(root, change, head)
    entries: list[tuple[str, str | None]] = []  # (path, "mode sha" or None to remove)
    for change in changes:
        if change.after is None:
            entries.append((change.path, None))
            continue
        sha = _git(root, "hash-object", "-w", "--stdin", data=change.after.encode("utf-8")).stdout.decode().strip()
        entries.append((change.path, f"{_mode(root, change.path, head)},{sha}"))
    message = message_for(changes, why)
    with tempfile.TemporaryDirectory(prefix="kimicode-commit-") as folder:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(folder) / "index")}
        _git(root, "read-tree", *([head] if head else ["--empty"]), env=env)
        _update_index(root, entries, env)
        tree = _git(root, "write-tree", env=env).stdout.decode().strip()
        parents = ["-p", head] if head else []
        made = _git(root, "commit-tree", tree, *parents, "-F", "-", data=message.encode("utf-8"), check=False)
        if made.returncode:
            last = (made.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
            raise EditError(f"git could not make the commit: {last} (set user.name and user.email with git config)")
        commit = made.stdout.decode().strip()
    _git(root, "update-ref", "-m", "kimicode: commit its changes", "HEAD", commit, head or "")
    _update_index(root, entries, None)  # the user's index: only these paths, now as committed
    return Committed(commit, message, tuple(c.path for c in changes))


def _update_index(root: Path, entries: list[tuple[str, str | None]], env: dict[str, str] | None) -> None:
    for path, entry in entries:
        if entry is None:
            _git(root, "update-index", "--force-remove", "--", path, env=env)
        else:
            _git(root, "update-index", "--add", "--cacheinfo", f"{entry},{path}", env=env)
