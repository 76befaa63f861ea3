"""The review hook must fail open: a stuck provider, a huge diff or a merge cannot slip past it or hold it.

Real `git commit` / `git merge` runs with the installed hook, against the loopback server. Every
run starts a new session (no controlling terminal), as in CI or an IDE, unless it runs in a
pseudo-terminal on purpose (the y/N question).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

import git
import pytest

from tests.cli.runner import run_cli
from tests.e2e.test_review_hook import head, local, stage
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

BASE = {
    ".kimicode.toml": "max_retries = 0\ntimeout = 10.0\n",
    "shop/cart.py": "def total(prices: list[float]) -> float:\n    return sum(prices)\n",
}
ERROR = {"file": "shop/cart.py", "line": 2, "severity": "error", "message": "Returns the count, not the sum.", "suggestion": ""}
BIG = {f"shop/gen{i}.py": "".join(f"def f{i}_{n}(x):\n    return x * {n} + {i}\n\n\n" for n in range(60)) for i in range(6)}


def git_run(root: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """A git command that may run a hook; no controlling terminal (start_new_session)."""
    return subprocess.run(["git", *args], cwd=root, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True, stdin=subprocess.DEVNULL)


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    repo = make_repo(tmp_path / "shop", BASE)
    installed = run_cli("hook", "install", cwd=Path(repo.working_tree_dir))
    assert installed.returncode == 0, installed.stderr
    return repo


def user_config(home: Path, text: str) -> None:
    write_files(home / "config", {"config.toml": text})


# -- review.deadline ---------------------------------------------------------------------------


@pytest.mark.parametrize("stuck", ["keep-alive", "trickle"])
def test_a_stuck_provider_cannot_hold_a_commit(repo: git.Repo, openai_server: OpenAIServer, isolated_home: Path, stuck: str) -> None:
    user_config(isolated_home, "[review]\ndeadline = 8\n")
    for _ in range(3):
        if stuck == "keep-alive":
            openai_server.keep_alive("", every=0.05)  # SSE comments for ever: httpx never times out
        else:
            openai_server.trickle('{"findings": [', every=0.05)  # an answer that never ends
    root = stage(repo, {"shop/cart.py": BASE["shop/cart.py"] + "# touched\n"})
    previous = head(repo)
    result = git_run(root, "commit", "-m", "change", env=local(openai_server))  # before the fix: never returned
    assert result.returncode == 0, result.stderr
    assert head(repo) != previous  # the commit went through (fail open)
    assert re.search(r"kimicode: still waiting for the review: \d+ s; it stops at review.deadline = 8 s", result.stderr)
    assert result.stderr.strip().splitlines()[-1].startswith(
        "kimicode: review skipped: the model had not answered within review.deadline = 8 s")
    assert len(openai_server.chat_requests) == 1  # no second ask once the time is up


def test_with_review_require_a_stuck_provider_refuses_the_commit(repo: git.Repo, openai_server: OpenAIServer,
                                                                  isolated_home: Path) -> None:
    user_config(isolated_home, "[review]\ndeadline = 8\nrequire = true\n")
    openai_server.keep_alive("", every=0.05)
    root = stage(repo, {"shop/cart.py": BASE["shop/cart.py"] + "# touched\n"})
    previous = head(repo)
    result = git_run(root, "commit", "-m", "change", env=local(openai_server))
    assert result.returncode != 0 and head(repo) == previous
    assert "kimicode: review required but not done: the model had not answered within review.deadline = 8 s" in result.stderr


def test_retry_after_a_day_does_not_hold_a_commit(repo: git.Repo, openai_server: OpenAIServer) -> None:
    write_files(Path(repo.working_tree_dir), {".kimicode.toml": "max_retries = 3\ntimeout = 10.0\n"})
    openai_server.rate_limit(retry_after="86400")
    root = stage(repo, {"shop/cart.py": BASE["shop/cart.py"] + "# touched\n"})
    result = git_run(root, "commit", "-m", "change", env={**local(openai_server), "MOONSHOT_API_KEY": "sk-test"})
    assert result.returncode == 0, result.stderr
    assert "review skipped: the API answered 429" in result.stderr and "asks to wait 86400 s" in result.stderr
    assert len(openai_server.chat_requests) == 1


# -- review.max_tokens / review.max_parts --------------------------------------------------------


def test_a_diff_over_the_token_ceiling_is_skipped_without_a_request_when_nobody_can_answer(
        repo: git.Repo, openai_server: OpenAIServer, isolated_home: Path) -> None:
    user_config(isolated_home, "[review]\nmax_tokens = 2000\n")
    root = stage(repo, BIG)
    previous = head(repo)
    result = git_run(root, "commit", "-m", "big", env=local(openai_server))
    assert result.returncode == 0, result.stderr
    assert head(repo) != previous
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("kimicode: review skipped: the review would need 1 request, ~")
    assert "prompt tokens, over review.max_tokens = 2,000 (raise it in config.toml, or review fewer files with --files)" in last
    assert openai_server.chat_requests == []  # (a local server is asked its window: GETs only)


def test_a_diff_far_over_the_ceiling_is_judged_by_its_size_before_planning(repo: git.Repo, openai_server: OpenAIServer,
                                                                          isolated_home: Path) -> None:
    user_config(isolated_home, "[review]\nmax_tokens = 1000\n")  # the diffs' characters / 8 are already more
    root = stage(repo, BIG)
    result = git_run(root, "commit", "-m", "big", env=local(openai_server))
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("kimicode: review skipped: the review would need more than ~")
    assert "prompt tokens (from the diffs' size), over review.max_tokens = 1,000" in last
    assert "reviewing" not in result.stderr and openai_server.chat_requests == []  # (a local server is asked its window: GETs only)


def test_a_split_review_over_the_parts_ceiling_says_its_size_and_skips(repo: git.Repo, openai_server: OpenAIServer,
                                                                      isolated_home: Path) -> None:
    user_config(isolated_home, "[review]\nmax_parts = 2\nrequire = true\n")
    root = stage(repo, BIG)
    result = subprocess.run([sys.executable, "-m", "kimicode", "review", "--staged", "--budget", "3000"], cwd=root, capture_output=True,
                            text=True, timeout=90, start_new_session=True, stdin=subprocess.DEVNULL,
                            env={**os.environ, **local(openai_server)})
    assert result.returncode == 1  # review.require: not reviewed means refused
    assert "review required but not done: the review would need " in result.stderr
    assert " requests, ~" in result.stderr and "over review.max_parts = 2" in result.stderr
    assert openai_server.chat_requests == []  # (a local server is asked its window: GETs only)


def commit_in_a_terminal(root: Path, answer: str, env: Mapping[str, str], timeout: float = 90) -> tuple[int, str]:
    """`git commit` in a pseudo-terminal (its controlling terminal); answers the hook's question."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose terminal is the pty
        os.chdir(root)
        os.execvpe("git", ["git", "commit", "-m", "big"], {**os.environ, **env})
    seen, answered = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break  # the child closed the terminal
        if not chunk:
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


@pytest.mark.parametrize("answer", ["n", "y"])
def test_on_a_terminal_the_hook_asks_before_sending_a_review_over_the_ceiling(
        repo: git.Repo, openai_server: OpenAIServer, isolated_home: Path, answer: str) -> None:
    user_config(isolated_home, "[review]\nmax_tokens = 2000\n")
    root = stage(repo, BIG)
    previous = head(repo)
    openai_server.reply(json.dumps({"findings": []}))
    code, screen = commit_in_a_terminal(root, answer, local(openai_server))
    assert code == 0, screen
    assert head(repo) != previous
    assert "kimicode: the review needs 1 request, ~" in screen and "over review.max_tokens = 2,000. Send it? [y/N]" in screen
    if answer == "y":
        assert "review passed: no findings" in screen
        assert len(openai_server.chat_requests) == 1
    else:
        assert "review skipped: the review would need 1 request" in screen
        assert openai_server.chat_requests == []  # (a local server is asked its window: GETs only)


# -- merge commits -----------------------------------------------------------------------------


def test_a_merge_commit_is_reviewed_by_the_pre_merge_commit_hook(repo: git.Repo, openai_server: OpenAIServer) -> None:
    root = Path(repo.working_tree_dir)
    repo.git.checkout("-b", "feature")
    write_files(root, {"shop/cart.py": BASE["shop/cart.py"].replace("sum(prices)", "len(prices)")})
    repo.git.add("-A")
    assert git_run(root, "commit", "--no-verify", "-m", "feature").returncode == 0
    repo.git.checkout("main")
    stage(repo, {"shop/tax.py": "RATE = 0.2\n"})
    assert git_run(root, "commit", "--no-verify", "-m", "main moves").returncode == 0
    previous = head(repo)
    openai_server.reply(json.dumps({"findings": [ERROR]}))
    merged = git_run(root, "merge", "--no-edit", "feature", env=local(openai_server))
    assert merged.returncode != 0, merged.stdout + merged.stderr  # before: merged without a review
    assert head(repo) == previous
    assert "Returns the count, not the sum." in merged.stderr
    assert "commit blocked: 1 error" in merged.stderr and "skip the review once with git merge --no-verify" in merged.stderr
    sent = openai_server.chat_requests[0].body["messages"][-1]["content"]
    assert "return len(prices)" in sent  # what the merge brings into main
    repo.git.merge("--abort")
    status = run_cli("hook", "status", cwd=root)
    assert "installed at" in status.stdout and "pre-merge-commit" in status.stdout


def test_install_says_what_is_covered_and_uninstall_removes_both_hooks(repo: git.Repo) -> None:
    root = Path(repo.working_tree_dir)
    again = run_cli("hook", "install", cwd=root)
    assert "merge commits (git merge, git pull) are now reviewed" in again.stdout
    assert "not reviewed: commits git replays (rebase, cherry-pick, revert, am) and fast-forwards" in again.stdout
    hooks = root / ".git" / "hooks"
    assert (hooks / "pre-commit").exists() and (hooks / "pre-merge-commit").exists()
    removed = run_cli("hook", "uninstall", cwd=root)
    assert removed.returncode == 0
    assert not (hooks / "pre-commit").exists() and not (hooks / "pre-merge-commit").exists()
