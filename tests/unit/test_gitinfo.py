from pathlib import Path

from kimicode.repo.gitinfo import read_git_info, read_head
from tests.repos import commit_all, make_repo, write_files


def test_recent_files_ignore_bulk_commits_and_weigh_uncommitted_most(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {f"pkg/m{i}.py": f"x = {i}\n" for i in range(60)})
    write_files(tmp_path, {"pkg/m1.py": "x = 'changed'\n"})
    commit_all(repo, "touch one")
    write_files(tmp_path, {"pkg/m2.py": "x = 'dirty'\n"})
    info = read_git_info(tmp_path, tmp_path)
    assert set(info.recent) == {"pkg/m1.py", "pkg/m2.py"}  # the 60-file import is no signal
    assert info.recent["pkg/m2.py"] == 1.0 > info.recent["pkg/m1.py"]
    assert info.dirty and info.branch == "main"
    assert "with uncommitted changes" in info.describe()


def test_subfolder_paths_are_relative_to_the_packed_root(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"a/x.py": "1\n", "b/y.py": "2\n"})
    write_files(tmp_path, {"a/x.py": "3\n"})
    commit_all(repo, "edit")
    info = read_git_info(tmp_path, tmp_path / "a")
    assert "x.py" in info.recent and not any(p.startswith("b/") or p.startswith("a/") for p in info.recent)


def test_unborn_head(tmp_path: Path) -> None:
    make_repo(tmp_path, {"a.py": "1\n"}, commit=False)
    head = read_head(tmp_path)
    assert head.commit is None and head.describe() == "no commits yet"
    assert read_git_info(tmp_path, tmp_path).recent == {}
