"""Change sets from real git repositories, and the local checks that run before any request."""

from __future__ import annotations

import os
from pathlib import Path

import git
import pytest

from kimicode.review.changes import ChangeError, commit_range, staged, whole_files
from kimicode.review.checks import local_checks
from tests.repos import commit_all, make_repo, write_files

AWS = "AKIAIOSFODNN7EXAMPLE"
BASE = {
    "app.py": "import os\n\n\ndef main():\n    return 1\n",
    "old_name.py": "".join(f"line_{i} = {i}\n" for i in range(30)),
    "gone.py": "x = 1\n",
    "config.py": f'LEGACY_KEY = "{AWS}"\nTIMEOUT = 3\n',
}


def by_path(changes):  # type: ignore[no-untyped-def]
    return {c.path: c for c in changes.changes}


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    return make_repo(tmp_path / "repo", BASE)


def test_staged_changes_cover_every_kind_of_change(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    write_files(root, {"app.py": BASE["app.py"] + "\n\ndef extra():\n    return 2\n", "new file ü.py": "y = 2\n",
                       "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary"})
    (root / "gone.py").unlink()
    os.rename(root / "old_name.py", root / "new_name.py")
    (root / "new_name.py").write_text(BASE["old_name.py"].replace("line_3 = 3", "line_3 = 33"))
    repo.git.add("-A")
    changes = staged(root)
    assert changes.staged and changes.label == "staged changes"
    found = by_path(changes)
    assert {p: c.status for p, c in found.items()} == {
        "app.py": "modified", "new file ü.py": "added", "logo.png": "added", "gone.py": "deleted", "new_name.py": "renamed",
    }
    assert found["new_name.py"].old_path == "old_name.py"
    assert [line for h in found["new_name.py"].hunks for line in h.lines if line[0] in "+-"] == ["-line_3 = 3", "+line_3 = 33"]
    assert found["logo.png"].binary and not found["logo.png"].hunks
    assert found["gone.py"].hunks == () and found["gone.py"].size is None
    assert found["new file ü.py"].size == 6
    assert changes.source.read("new file ü.py") == b"y = 2\n"


def test_the_index_is_reviewed_not_the_work_tree(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    (root / "app.py").write_text("staged = True\n")
    repo.git.add("app.py")
    (root / "app.py").write_text("unstaged = True\n")
    changes = staged(root)
    assert changes.source.read("app.py") == b"staged = True\n"
    assert [line for h in changes.changes[0].hunks for line in h.lines if line.startswith("+")] == ["+staged = True"]


def test_git_index_file_is_honoured(repo: git.Repo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `git commit -a` runs the hook with GIT_INDEX_FILE pointing at a temporary index.
    root = Path(repo.working_tree_dir)
    (root / "app.py").write_text("via_temp_index = 1\n")
    index = tmp_path / "temp-index"
    env = dict(os.environ, GIT_INDEX_FILE=str(index))
    repo.git.read_tree("HEAD", env=env)
    repo.git.add("app.py", env=env)
    assert staged(root).changes == []  # the real index has nothing staged
    monkeypatch.setenv("GIT_INDEX_FILE", str(index))
    changes = staged(root)
    assert [c.path for c in changes.changes] == ["app.py"]
    assert changes.source.read("app.py") == b"via_temp_index = 1\n"


def test_first_commit_and_nothing_staged(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "fresh", {"a.py": "a = 1\n"}, commit=False)
    root = Path(repo.working_tree_dir)
    assert staged(root).changes == []
    repo.git.add("-A")
    changes = staged(root)
    assert [(c.path, c.status) for c in changes.changes] == [("a.py", "added")]


def test_a_submodule_entry_is_marked(repo: git.Repo) -> None:
    repo.git.update_index("--add", "--cacheinfo", f"160000,{repo.head.commit.hexsha},vendor/lib")
    change = by_path(staged(Path(repo.working_tree_dir)))["vendor/lib"]
    assert change.submodule and not change.hunks


def test_commit_ranges(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    first = repo.head.commit.hexsha
    repo.git.checkout("-b", "feature")
    write_files(root, {"app.py": "changed = 1\n", "added.py": "z = 3\n"})
    commit_all(repo, "feature work")
    changes = commit_range(root, f"{first}..feature")
    assert sorted(by_path(changes)) == ["added.py", "app.py"]
    assert changes.source.read("added.py") == b"z = 3\n"
    assert not changes.staged
    assert sorted(by_path(commit_range(root, "main...feature"))) == ["added.py", "app.py"]
    assert sorted(by_path(commit_range(root, "main.."))) == ["added.py", "app.py"]  # an empty side is HEAD


@pytest.mark.parametrize("spec, message", [("main", "A..B"), ("nope..main", "unknown revision 'nope'")])
def test_bad_ranges(repo: git.Repo, spec: str, message: str) -> None:
    with pytest.raises(ChangeError, match=message):
        commit_range(Path(repo.working_tree_dir), spec)


def test_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ChangeError, match="not inside a git repository"):
        staged(tmp_path)


def test_whole_files(repo: git.Repo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir)
    monkeypatch.chdir(root)
    changes = whole_files(root, [Path("app.py")])
    change = changes.changes[0]
    assert (change.path, change.status, change.size) == ("app.py", "file", len(BASE["app.py"]))
    assert len(change.hunks[0].lines) == 5 and all(line.startswith("+") for line in change.hunks[0].lines)
    assert "gone.py" in changes.source.paths()  # imports resolve against every file of the repository
    (tmp_path / "outside.py").write_text("x = 1\n")
    bad_paths = ((Path("missing.py"), "No such file"), (tmp_path / "outside.py", "outside the repository"), (Path("."), "is a directory"))
    for bad, message in bad_paths:
        with pytest.raises(ChangeError, match=message):
            whole_files(root, [bad])


# -- local checks ---------------------------------------------------------------------------


def test_a_secret_on_an_added_line_blocks_with_its_line(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    (root / "app.py").write_text(BASE["app.py"] + f'\nAWS_ACCESS_KEY_ID = "{AWS}"\n')
    repo.git.add("-A")
    report = local_checks(staged(root), 1_000_000)
    assert [(s.path, s.line, s.kind) for s in report.secrets] == [("app.py", 7, "AWS Access Key")]


def test_a_secret_already_committed_does_not_block(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    (root / "config.py").write_text(BASE["config.py"].replace("TIMEOUT = 3", "TIMEOUT = 4"))
    repo.git.add("-A")
    report = local_checks(staged(root), 1_000_000)
    assert report.secrets == []
    assert [c.path for c in report.reviewable] == ["config.py"]


def test_allowlisted_secrets_pass(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    (root / "fixture.py").write_text(f'TEST_KEY = "{AWS}"  # pragma: allowlist secret\n')
    repo.git.add("-A")
    assert local_checks(staged(root), 1_000_000).secrets == []


def test_secret_files_block_by_name_but_deleting_one_is_fine(repo: git.Repo, tmp_path: Path) -> None:
    root = Path(repo.working_tree_dir)
    (root / ".env").write_text("DEBUG=1\n")
    repo.git.add("-A")
    report = local_checks(staged(root), 1_000_000)
    assert [(s.path, s.line, s.kind) for s in report.secrets] == [(".env", None, "secret file: dotenv file")]
    repo.git.commit("-m", "oops", "--no-verify")
    repo.git.rm("--cached", ".env")
    report = local_checks(staged(root), 1_000_000)
    assert report.secrets == [] and [(c.path, c.status) for c in report.reviewable] == [(".env", "deleted")]


def test_binary_huge_lock_and_generated_files_are_skipped_with_reasons(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    write_files(root, {
        "logo.png": b"\x89PNG\x00\x00",
        "big.py": "# big\n" + "x = 1\n" * 400 + f'KEY = "{AWS}"\n',
        "poetry.lock": "[[package]]\n",
        "api_pb2.py": "# generated\n",
        "app.py": BASE["app.py"] + "# tweak\n",
    })
    repo.git.add("-A")
    report = local_checks(staged(root), 1_000)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["logo.png"] == "binary"
    assert reasons["big.py"].startswith("too large (2,") and "pack.max_file_bytes" in reasons["big.py"]
    assert reasons["poetry.lock"] == "lock file"
    assert reasons["api_pb2.py"] == "generated"
    assert [c.path for c in report.reviewable] == ["app.py"]
    assert report.texts["app.py"].endswith("# tweak\n")
    # a file too large to review is still scanned: skipping it must not let a secret through
    assert [(s.path, s.line) for s in report.secrets] == [("big.py", 402)]
