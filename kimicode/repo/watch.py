"""Notice edits under a repository as they happen, so a pack is ready before it is asked for.

The TUI packs the repository when a session opens, on /pack and /drop, and when the
provider says a request is too long. With this watcher, every change (debounced) is
followed by the same pack in the background, so those packs find the pack cache warm or
their very result in it: a turn does not wait for a scan of what changed meanwhile.

Why watchfiles (Rust notify: inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on
Windows): it reports a save within tens of milliseconds and costs nothing while the tree
is quiet. The other candidate, polling the git index's mtime, sees `git add`, commits and
checkouts but never a file merely saved in an editor, the change that matters most
here. Where the watcher cannot start (inotify limits, some network file systems), the
listing's fingerprint (files.survey: git status plus a stat of what git reports) is
polled instead, every POLL_SECONDS; ``mode="poll"`` chooses that from the start.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Sequence

from kimicode.repo.ignore import DEFAULT_IGNORES

POLL_SECONDS = 15.0
QUIET_MS = 400  # a burst of changes (a save, a checkout) is reported once it has been quiet this long
MAX_WAIT_MS = 5000  # but at least this often while changes keep coming
# Folders whose changes never affect a pack; .git matters only where HEAD and branches move.
_IGNORED_DIRS = frozenset(p.rstrip("/") for p in DEFAULT_IGNORES if p.endswith("/")) - {".git"}
# kimicode's own edits write through a temp file renamed over the target (edits/disk.py)
_EDITOR_LITTER = (".swp", ".swx", ".swo", "~", ".tmp", ".kimicode")


def relevant(rel: str) -> bool:
    """Whether a change at ``rel`` (POSIX, relative to the root) may change a pack."""
    parts = rel.split("/")
    if parts[0] == ".git":
        return rel == ".git/HEAD" or rel == ".git/packed-refs" or rel.startswith(".git/refs/")
    if any(part in _IGNORED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1]
    return not (name.endswith(_EDITOR_LITTER) or name.startswith(".#") or name.endswith(".pyc"))


class RepoWatcher:
    """Calls ``on_change(paths)`` from a daemon thread after changes under ``root``.

    ``paths`` are the changed paths relative to ``root`` (empty when polling, which knows
    only that something changed). ``mode``: "auto" (watch, else poll) or "poll".
    """

    def __init__(self, root: Path, on_change: Callable[[Sequence[str]], None], mode: str = "auto",
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.root = Path(root).resolve()
        self.on_change = on_change
        self.poll_seconds = poll_seconds
        self.mode = mode  # becomes "watch" or "poll" once running, "stopped" after
        self.note = ""  # why it polls instead of watching
        self.ready = threading.Event()  # set once watching (or polling) has begun
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kimicode-repo-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.mode = "stopped"

    def _run(self) -> None:
        if self.mode != "poll":
            try:
                self._watch()
                return
            except Exception as exc:  # noqa: BLE001 - any watcher failure falls back to polling
                self.note = f"file watching unavailable ({type(exc).__name__}: {exc}); polling every {self.poll_seconds:g} s"
        self._poll()

    def _watch(self) -> None:
        import watchfiles

        root = str(self.root)
        changes = watchfiles.watch(root, watch_filter=self._filter, debounce=MAX_WAIT_MS, step=QUIET_MS,
                                   stop_event=self._stop, yield_on_timeout=True, rust_timeout=1000,
                                   raise_interrupt=False, ignore_permission_denied=True)
        for batch in changes:
            if not self.ready.is_set():  # the first batch (empty, on a timeout): the watches are in place
                self.mode = "watch"
                self.ready.set()
            paths = sorted({self._relative(path) for _, path in batch})
            if paths:
                self.on_change(paths)

    def _filter(self, change: object, path: str) -> bool:
        return relevant(self._relative(path))

    def _relative(self, path: str) -> str:
        return Path(path).relative_to(self.root).as_posix() if path.startswith(str(self.root)) else path

    def _poll(self) -> None:
        from kimicode.repo.files import ListingError, survey

        self.mode = "poll"
        last = None
        while True:
            try:
                fingerprint = survey(self.root).fingerprint
            except ListingError as exc:
                self.note = f"repository watching stopped: {exc}"
                self.ready.set()
                return
            if last is not None and fingerprint != last:
                self.on_change([])
            last = fingerprint
            self.ready.set()
            if self._stop.wait(self.poll_seconds):
                return
