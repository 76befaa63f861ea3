"""Installing and removing the git pre-commit hook; what the hook script does (run with sh)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import git
import pytest

from kimicode.review.hook import CHAINED_NAME, MARKER, HookError, hook_paths, install, is_ours, status, uninstall
from tests.repos import make_repo

FOREIGN = "#!/bin/sh\necho foreign hook ran\nexit 0\n"


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    return make_repo(tmp_path / "repo", {"a.py": "a = 1\n"})


def root_of(repo: git.Repo) -> Path:
    return Path(repo.working_tree_dir)


def fake_kimicode(folder: Path, exit_code: int = 0) -> Path:
    """A stand-in `kimicode` script that records how it was called."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "kimicode"
    script.write_text(f'#!/bin/sh\necho "fake kimicode from {folder.name}: $*"\nexit {exit_code}\n')
    script.chmod(0o755)
    return script


def run_hook(hook: Path, path_dirs: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=os.pathsep.join([str(p) for p in path_dirs or []] + ["/usr/bin", "/bin"]))
    return subprocess.run([str(hook)], cwd=hook.parent, env=env, capture_output=True, text=True, timeout=30)


def test_install_writes_an_executable_hook_that_names_this_interpreters_script(repo: git.Repo) -> None:
    message = install(root_of(repo))
    hook = hook_paths(root_of(repo)).hook
    assert hook == root_of(repo) / ".git" / "hooks" / "pre-commit"
    assert message.startswith(f"installed {hook}")
    assert hook.stat().st_mode & stat.S_IXUSR
    text = hook.read_text()
    assert MARKER in text and "review --staged" in text and "--no-verify" in text
    assert str(Path(sys.executable).parent / "kimicode") in text
    assert status(root_of(repo)).startswith("installed at")
    assert install(root_of(repo)).startswith("updated")
    assert not hook_paths(root_of(repo)).chained.exists()


def test_a_foreign_hook_is_kept_chained_and_restored(repo: git.Repo) -> None:
    paths = hook_paths(root_of(repo))
    paths.hooks_dir.mkdir(parents=True, exist_ok=True)
    paths.hook.write_text(FOREIGN)
    paths.hook.chmod(0o750)
    message = install(root_of(repo))
    assert f"kept as {CHAINED_NAME}" in message
    assert paths.chained.read_text() == FOREIGN and stat.S_IMODE(paths.chained.stat().st_mode) == 0o750
    assert is_ours(paths.hook)
    assert uninstall(root_of(repo)).startswith("removed kimicode's hook; restored")
    assert paths.hook.read_text() == FOREIGN and stat.S_IMODE(paths.hook.stat().st_mode) == 0o750
    assert not paths.chained.exists()


def test_uninstall_leaves_foreign_hooks_alone(repo: git.Repo) -> None:
    assert "nothing to remove" in uninstall(root_of(repo))
    paths = hook_paths(root_of(repo))
    paths.hooks_dir.mkdir(parents=True, exist_ok=True)
    paths.hook.write_text(FOREIGN)
    assert "left alone" in uninstall(root_of(repo))
    assert paths.hook.read_text() == FOREIGN
    assert status(root_of(repo)).startswith("not installed")


def test_install_refuses_to_overwrite_a_chained_hook(repo: git.Repo) -> None:
    paths = hook_paths(root_of(repo))
    paths.hooks_dir.mkdir(parents=True, exist_ok=True)
    paths.hook.write_text(FOREIGN)
    paths.chained.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(HookError, match="already exists"):
        install(root_of(repo))
    assert paths.hook.read_text() == FOREIGN


def test_core_hooks_path_is_honoured(repo: git.Repo) -> None:
    repo.git.config("core.hooksPath", "githooks")
    install(root_of(repo))
    assert is_ours(root_of(repo) / "githooks" / "pre-commit")


def test_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(HookError, match="not inside a git repository"):
        install(tmp_path)


def test_the_hook_runs_the_recorded_script_even_with_spaces_in_its_path(repo: git.Repo, tmp_path: Path) -> None:
    recorded = fake_kimicode(tmp_path / "venv with 'quote" / "bin")
    install(root_of(repo), executable=str(recorded.parent / "python"))
    on_path = fake_kimicode(tmp_path / "elsewhere")
    result = run_hook(hook_paths(root_of(repo)).hook, [on_path.parent])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fake kimicode from bin: review --staged"


def test_the_hook_falls_back_to_path_then_skips(repo: git.Repo, tmp_path: Path) -> None:
    install(root_of(repo), executable=str(tmp_path / "gone" / "bin" / "python"))
    hook = hook_paths(root_of(repo)).hook
    on_path = fake_kimicode(tmp_path / "onpath", exit_code=1)
    result = run_hook(hook, [on_path.parent])
    assert (result.returncode, result.stdout.strip()) == (1, "fake kimicode from onpath: review --staged")
    result = run_hook(hook, [])
    assert result.returncode == 0
    assert result.stderr.strip().startswith("kimicode: review skipped: the kimicode command was not found")


def test_a_failing_chained_hook_stops_before_the_review(repo: git.Repo, tmp_path: Path) -> None:
    paths = hook_paths(root_of(repo))
    paths.hooks_dir.mkdir(parents=True, exist_ok=True)
    paths.hook.write_text("#!/bin/sh\necho lint failed\nexit 7\n")
    paths.hook.chmod(0o755)
    install(root_of(repo), executable=str(fake_kimicode(tmp_path / "v" / "bin").parent / "python"))
    result = run_hook(paths.hook)
    assert result.returncode == 7
    assert result.stdout.strip() == "lint failed"  # the review never ran
