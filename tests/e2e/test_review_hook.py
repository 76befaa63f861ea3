"""The review hook end to end: `kimicode hook install`, then real `git commit`s.

The hook runs the real `kimicode` script of this virtualenv against the loopback server;
the last test has the pre-commit framework (`pre-commit try-repo`) install kimicode from a
copy of this repository into its own environment and run the `kimicode-review` hook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping

import git
import pytest

from tests.cli.runner import run_cli
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

CHECKOUT = Path(__file__).resolve().parents[2]
AWS = "AKIAIOSFODNN7EXAMPLE"
BASE = {
    ".kimicode.toml": "max_retries = 0\ntimeout = 10.0\n",
    "shop/cart.py": "def total(prices: list[float]) -> float:\n    return sum(prices)\n",
}
ERROR = {"file": "shop/cart.py", "line": 2, "severity": "error", "message": "Returns the count, not the sum.",
         "suggestion": "return sum(prices)"}


def commit(root: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`git commit`; git sends a hook's stdout to stderr, so all the hook said is in ``stderr``."""
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(["git", "commit", "-m", "change", *args], cwd=root, env=full, capture_output=True, text=True, timeout=120)


def head(repo: git.Repo) -> str:
    return repo.head.commit.hexsha


def state(repo: git.Repo) -> tuple[str, str]:
    """What a hook must not touch: the index and the work tree."""
    return repo.git.status("--porcelain"), repo.git.diff("--cached")


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    repo = make_repo(tmp_path / "shop", BASE)
    result = run_cli("hook", "install", cwd=Path(repo.working_tree_dir))
    assert result.returncode == 0, result.stderr
    assert "installed" in result.stdout
    return repo


def stage(repo: git.Repo, files: Mapping[str, str]) -> Path:
    root = Path(repo.working_tree_dir)
    write_files(root, files)
    repo.git.add("-A")
    return root


def local(server: OpenAIServer) -> dict[str, str]:
    return {"KIMICODE_BASE_URL": server.base_url}


def test_a_planted_secret_is_refused_locally_without_a_request(repo: git.Repo, openai_server: OpenAIServer) -> None:
    root = stage(repo, {"shop/settings.py": f'AWS_ACCESS_KEY_ID = "{AWS}"\n'})
    before, previous = state(repo), head(repo)
    result = commit(root, env=local(openai_server))
    assert result.returncode != 0
    assert head(repo) == previous
    assert "shop/settings.py:1  AWS Access Key" in result.stderr
    assert "commit blocked: 1 secret" in result.stderr
    assert openai_server.requests == []
    assert AWS not in result.stdout + result.stderr
    assert state(repo) == before


def test_an_error_finding_refuses_the_commit_and_shows_it(repo: git.Repo, openai_server: OpenAIServer) -> None:
    root = stage(repo, {"shop/cart.py": BASE["shop/cart.py"].replace("sum(prices)", "len(prices)")})
    before, previous = state(repo), head(repo)
    openai_server.reply(json.dumps({"findings": [ERROR]}))
    result = commit(root, env=local(openai_server))
    assert result.returncode != 0 and head(repo) == previous
    assert "shop/cart.py" in result.stderr and "Returns the count, not the sum." in result.stderr
    assert "commit blocked: 1 error" in result.stderr and "--no-verify" in result.stderr
    assert "return len(prices)" in openai_server.chat_requests[0].body["messages"][1]["content"]
    assert state(repo) == before
    # the escape hatch
    skipped = commit(root, "--no-verify", env=local(openai_server))
    assert skipped.returncode == 0 and head(repo) != previous
    assert len(openai_server.chat_requests) == 1


def test_a_clean_commit_goes_through(repo: git.Repo, openai_server: OpenAIServer) -> None:
    root = stage(repo, {"shop/cart.py": BASE["shop/cart.py"] + "\n\ndef empty() -> bool:\n    return False\n"})
    previous = head(repo)
    openai_server.reply(json.dumps({"findings": [dict(ERROR, severity="info", message="Consider a docstring.")]}))
    result = commit(root, env=local(openai_server))
    assert result.returncode == 0, result.stderr
    assert head(repo) != previous
    assert "review passed: 1 note, below review.block_on = error" in result.stderr


def test_with_no_key_the_commit_goes_through_with_the_skip_line(repo: git.Repo) -> None:
    root = stage(repo, {"shop/cart.py": BASE["shop/cart.py"] + "# note\n"})
    previous = head(repo)
    result = commit(root, env={"KIMICODE_BASE_URL": "https://api.moonshot.invalid/v1"})
    assert result.returncode == 0, result.stderr
    assert head(repo) != previous
    assert result.stderr.strip().splitlines()[-1] == (
        "kimicode: review skipped: no API key (set MOONSHOT_API_KEY or KIMICODE_API_KEY)")
    # review.require = true turns the skip into a refusal
    write_files(root, {".kimicode.toml": BASE[".kimicode.toml"] + "[review]\nrequire = true\n", "shop/x.py": "x = 1\n"})
    repo.git.add("-A")
    refused = commit(root, env={"KIMICODE_BASE_URL": "https://api.moonshot.invalid/v1"})
    assert refused.returncode != 0 and "review required but not done" in refused.stderr


def test_commit_all_reviews_the_temporary_index(repo: git.Repo, openai_server: OpenAIServer) -> None:
    # `git commit -a` stages into a temporary index (GIT_INDEX_FILE) just before the hook runs.
    root = Path(repo.working_tree_dir)
    (root / "shop" / "cart.py").write_text(f'KEY = "{AWS}"\n')
    result = commit(root, "-a", env=local(openai_server))
    assert result.returncode != 0 and "shop/cart.py:1  AWS Access Key" in result.stderr
    assert openai_server.requests == []


def test_a_foreign_hook_keeps_running_and_uninstall_restores_it(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo = make_repo(tmp_path / "chained", BASE)
    root = Path(repo.working_tree_dir)
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho foreign-lint-ran\ntest ! -e STOP\n")
    hook.chmod(0o755)
    assert "kept as pre-commit.pre-kimicode" in run_cli("hook", "install", cwd=root).stdout
    stage(repo, {"shop/cart.py": BASE["shop/cart.py"] + "# one\n"})
    openai_server.reply(json.dumps({"findings": []}))
    result = commit(root, env=local(openai_server))
    assert result.returncode == 0 and "foreign-lint-ran" in result.stderr and "review passed" in result.stderr
    stage(repo, {"STOP": "", "shop/cart.py": BASE["shop/cart.py"] + "# two\n"})
    refused = commit(root, env=local(openai_server))
    assert refused.returncode != 0 and "review" not in refused.stderr  # the foreign hook said no first
    assert len(openai_server.chat_requests) == 1
    assert "restored" in run_cli("hook", "uninstall", cwd=root).stdout
    assert hook.read_text().startswith("#!/bin/sh\necho foreign-lint-ran")
    assert "not installed" in run_cli("hook", "status", cwd=root).stdout


# -- the pre-commit framework -------------------------------------------------------------------


def _hook_repository(tmp_path: Path) -> Path:
    """A committed copy of what this repository ships (try-repo installs from git, at HEAD)."""
    source = tmp_path / "kimicode-src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(CHECKOUT / name, source / name)
    for folder in ("kimicode", "prompts"):
        shutil.copytree(CHECKOUT / folder, source / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    repo = make_repo(source, {})
    repo.git.add("-A")
    repo.index.commit("kimicode")
    return source


@pytest.mark.slow  # minutes, and the package registry: not run by the README command (pytest -m slow runs it)
@pytest.mark.timeout(900)
def test_the_pre_commit_framework_runs_the_hook_from_this_repository(tmp_path: Path, openai_server: OpenAIServer) -> None:
    """Slow (about 2.5 minutes here): pre-commit builds a virtualenv and pip-installs kimicode and
    its dependencies from the package registry on every try-repo (its store is temporary)."""
    pytest.importorskip("pre_commit", reason="pre-commit is in the test extras")
    source = _hook_repository(tmp_path)
    user = make_repo(tmp_path / "user", BASE)
    root = stage(user, {"shop/settings.py": f'AWS_ACCESS_KEY_ID = "{AWS}"\n'})
    before = state(user)
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), KIMICODE_BASE_URL=openai_server.base_url)
    result = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(source), "kimicode-review", "--verbose"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=880)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "kimicode review" in output and "Failed" in output
    assert "shop/settings.py:1  AWS Access Key" in output
    assert "files were modified by this hook" not in output
    assert openai_server.requests == []
    assert state(user) == before
