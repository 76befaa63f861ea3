"""What kimicode stores stays the user's: secrets redacted before storing, 0600 files in 0700 folders."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli.runner import run_cli
from tests.openai_server import OpenAIServer
from tests.repos import make_repo

AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TRACEBACK = f"""Traceback (most recent call last):
  File "app/models.py", line 4, in load_user
    return fetch(uid)
RuntimeError: S3 refused key {AWS_ID} with secret aws_secret_access_key="{AWS_SECRET}"
"""


def _home() -> Path:
    return Path(os.environ["KIMICODE_HOME"])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(top: Path) -> None:
    assert _mode(top) == 0o700, top
    for parent, folders, files in os.walk(top):
        for name in folders:
            assert _mode(Path(parent) / name) == 0o700, Path(parent) / name
        for name in files:
            assert _mode(Path(parent) / name) == 0o600, Path(parent) / name


def _assert_absent(top: Path, *values: str) -> None:
    for parent, _, files in os.walk(top):
        for name in files:
            data = (Path(parent) / name).read_bytes()
            for value in values:
                assert value.encode() not in data, f"{value[:6]}... stored in {Path(parent) / name}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    make_repo(root, {"app/models.py": "def load_user(uid):\n    return fetch(uid)\n"})
    return root


def test_memory_never_stores_a_secret_and_is_owner_only(repo: Path, tmp_path: Path) -> None:
    os.umask(0o022)  # the usual umask: kimicode must not rely on a strict one
    added = run_cli("memory", "add", "--fix", f"rotated {AWS_ID}", "--json", cwd=repo, input=TRACEBACK)
    assert added.returncode == 0, added.stderr
    parts = run_cli("memory", "add", "--type", "AuthError", "--message", f"bad key {AWS_ID}", cwd=repo)
    assert parts.returncode == 0, parts.stderr
    record = {"error_type": "S3Error", "message": f"key {AWS_ID} refused", "language": "python",
              "fix": f'export AWS_SECRET_ACCESS_KEY="{AWS_SECRET}"'}
    imported = run_cli("memory", "import", "-", cwd=repo, input=json.dumps(record) + "\n")
    assert imported.returncode == 0, imported.stderr
    memory = _home() / "data" / "memory"
    _assert_absent(memory, AWS_ID, AWS_SECRET)
    _assert_private(_home() / "data")
    exported = run_cli("memory", "export", cwd=repo)
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 3
    assert AWS_ID not in exported.stdout and AWS_SECRET not in exported.stdout
    out = tmp_path / "memory.jsonl"
    assert run_cli("memory", "export", "-o", str(out), cwd=repo).returncode == 0
    assert _mode(out) == 0o600


def test_sessions_and_their_exports_are_owner_only(repo: Path, tmp_path: Path, openai_server: OpenAIServer) -> None:
    os.umask(0o022)
    data = _home() / "data"
    data.mkdir(parents=True)
    os.chmod(data, 0o755)  # made by an older version: tightened on the next write
    from kimicode.chat.session import SessionStore

    store = SessionStore(data)
    handle, meta = store.create(repo, "test-model")
    handle.append({"type": "turn", "id": 1, "role": "user", "text": "hello", "time": "t"})
    handle.close()
    _assert_private(data)
    out = tmp_path / "exports" / "session.md"
    result = run_cli("sessions", "export", meta.id, "-o", str(out), cwd=repo)
    assert result.returncode == 0, result.stderr
    assert _mode(out) == 0o600 and "hello" in out.read_text()
