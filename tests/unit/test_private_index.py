"""A large repository's git status runs on kimicode's own copy of the index (untracked cache)."""

import os
import subprocess
from pathlib import Path

from kimicode.repo.files import PRIVATE_INDEX_FILES, survey
from tests.repos import make_repo, write_files


def big_repo(root: Path) -> None:
    """A repository with PRIVATE_INDEX_FILES files: hard links of one file, so it is made in a second or two."""
    make_repo(root, {"seed.py": "x = 1\n"})
    for folder in range(PRIVATE_INDEX_FILES // 100 + 1):
        (root / f"d{folder}").mkdir()
        for n in range(100):
            os.link(root / "seed.py", root / f"d{folder}" / f"f{n}.py")
    # git itself: GitPython writes a 20,000-entry index in Python, ten times slower
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "many files"], cwd=root, check=True)


def test_status_on_the_private_copy_says_what_the_real_index_says(tmp_path: Path) -> None:
    root = tmp_path / "big"
    big_repo(root)
    private = tmp_path / "cache" / "big.index"
    real_index = (root / ".git" / "index").read_bytes()
    steps = [lambda: None,
             lambda: write_files(root, {"d3/new.py": "untracked\n"}),  # the untracked cache must see it
             lambda: write_files(root, {"d4/f1.py": "edited\n"}),
             lambda: (root / "d5" / "f2.py").unlink(),
             lambda: subprocess.run(["git", "add", "-A"], cwd=root, check=True)]  # the copy is made again
    for step in steps:
        step()
        real_index = (root / ".git" / "index").read_bytes()
        # the same fingerprint: the same status output, index entries and stats of reported files
        assert survey(root, private_index=private).fingerprint == survey(root).fingerprint
        assert private.is_file()
        assert (root / ".git" / "index").read_bytes() == real_index  # the user's index is never written
    # a first listing this large is made on every core; one reusing an older listing (the index
    # moved on since: every entry looked at) in this process: the same files either way
    older = survey(root).listing().memo
    write_files(root, {"d6/f3.py": "edited too\n"})
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    fresh, reused = survey(root).listing(), survey(root).listing(older)
    assert fresh.files == reused.files and fresh.skipped == reused.skipped
    listed = {f.path for f in fresh.files}
    assert "d3/new.py" in listed and "d5/f2.py" not in listed
