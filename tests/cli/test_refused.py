"""A refused connection (nothing listens at base_url) fails fast and never shows the URL's password.

The port is bound and never listened on, so every connection to it is refused at once: ask,
review and the commit hook each try once more after a quarter second, then say so in one line.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.cli.runner import run_cli
from tests.repos import make_repo, write_files

PASSWORD = "s3cret-proxy-pass"


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
        yield f"http://bob:{PASSWORD}@127.0.0.1:{sock.getsockname()[1]}/v1"


def _masked(url: str) -> str:
    return url.replace(f"bob:{PASSWORD}@", "***@")


def test_ask_gives_up_after_one_quick_retry_and_masks_the_password(tmp_path: Path, refused_url: str) -> None:
    result = run_cli("ask", "--no-repo", "why?", cwd=tmp_path, env={"KIMICODE_BASE_URL": refused_url})
    assert result.returncode == 1, result.stderr
    assert f"cannot reach {_masked(refused_url)}: the connection was refused" in result.stderr
    assert "gave up after 2 attempts" in result.stderr
    assert result.stderr.count("retrying in 0.25 s") == 1  # one quick retry, no back-off
    assert PASSWORD not in result.stdout + result.stderr and "bob" not in result.stderr
    assert "Traceback" not in result.stderr


def test_review_and_the_commit_hook_fail_fast_and_open(tmp_path: Path, refused_url: str) -> None:
    repo = make_repo(tmp_path / "r", {"app.py": "def f(x):\n    return x\n"})
    root = Path(repo.working_tree_dir)
    write_files(root, {"app.py": "def f(x):\n    return x + 1\n"})
    repo.git.add("app.py")
    env = {"KIMICODE_BASE_URL": refused_url}
    review = run_cli("review", cwd=root, env=env)
    assert "the connection was refused" in review.stderr + review.stdout, review.stderr
    assert (review.stderr + review.stdout).count("retrying in") <= 1
    assert PASSWORD not in review.stdout + review.stderr
    assert run_cli("hook", "install", cwd=root).returncode == 0
    commit = subprocess.run(["git", "commit", "-qm", "change"], cwd=root, env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=120, start_new_session=True, stdin=subprocess.DEVNULL)
    assert commit.returncode == 0, commit.stderr  # the hook fails open: a server that is down never blocks a commit
    assert "the connection was refused" in commit.stderr and PASSWORD not in commit.stderr + commit.stdout
    assert commit.stderr.count("retrying in") <= 1
