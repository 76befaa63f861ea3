import threading
import time
from pathlib import Path
from typing import Sequence

import pytest

from kimicode.repo.watch import RepoWatcher, relevant
from tests.repos import make_repo, write_files


class Seen:
    """What a watcher reported, waited for from the test's thread."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.event = threading.Event()

    def __call__(self, paths: Sequence[str]) -> None:
        self.batches.append(list(paths))
        self.event.set()

    def paths(self) -> set[str]:
        return {p for batch in self.batches for p in batch}

    def wait_for(self, path: str, timeout: float = 20) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if path in self.paths():
                return True
            self.event.wait(0.1)
            self.event.clear()
        return False


@pytest.mark.parametrize("rel, wanted", [
    ("src/a.py", True), ("README.md", True), (".git/HEAD", True), (".git/refs/heads/main", True),
    (".git/objects/ab/cdef", False), (".git/index", False), ("node_modules/x/index.js", False),
    ("pkg/__pycache__/a.cpython-311.pyc", False), ("src/.a.py.swp", False), ("src/a.py~", False),
    ("src/.a.py.x1y2z3.kimicode", False),
])
def test_which_changes_may_change_a_pack(rel: str, wanted: bool) -> None:
    assert relevant(rel) is wanted


def test_a_saved_file_is_reported_and_ignored_folders_are_not(tmp_path: Path) -> None:
    make_repo(tmp_path, {"src/a.py": "x = 1\n", "node_modules/m.js": "m\n"})
    seen = Seen()
    watcher = RepoWatcher(tmp_path, seen)
    watcher.start()
    try:
        assert watcher.ready.wait(20)
        assert watcher.mode == "watch", watcher.note
        write_files(tmp_path, {"node_modules/m.js": "changed\n"})
        write_files(tmp_path, {"src/a.py": "x = 2\n"})
        assert seen.wait_for("src/a.py")
        write_files(tmp_path, {"src/new.py": "y = 1\n"})
        assert seen.wait_for("src/new.py")
        assert "node_modules/m.js" not in seen.paths()
    finally:
        watcher.stop()
    assert watcher.mode == "stopped"


def test_polling_notices_an_edit_through_the_listing_fingerprint(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "x = 1\n"})
    seen = Seen()
    watcher = RepoWatcher(tmp_path, seen, mode="poll", poll_seconds=0.2)
    watcher.start()
    try:
        assert watcher.ready.wait(20)
        assert watcher.mode == "poll"
        time.sleep(0.5)
        assert not seen.batches  # nothing changed yet
        write_files(tmp_path, {"a.py": "x = 22\n"})
        assert seen.event.wait(20) and seen.batches == [[]]
    finally:
        watcher.stop()
