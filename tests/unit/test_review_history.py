"""`review --range` scans every commit of the range, not only the net diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kimicode.cli import cli
from tests.openai_server import OpenAIServer
from tests.repos import commit_all, make_repo, write_files

AWS = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def server(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    monkeypatch.setenv("KIMICODE_BASE_URL", openai_server.base_url)
    return openai_server


def review(*args: str) -> object:
    return CliRunner().invoke(cli, ["review", "--json", *args], catch_exceptions=False)


def test_a_secret_added_then_removed_inside_the_range_blocks(tmp_path: Path, server: OpenAIServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "def run():\n    return 1\n"})
    root = Path(repo.working_tree_dir)
    monkeypatch.chdir(root)
    base = repo.head.commit.hexsha
    write_files(root, {"app.py": f'KEY_ID = "{AWS}"\n\ndef run():\n    return 1\n', "deploy/.env": "TOKEN=abc\n",
                       "weird name é.py": f'AWS = "{AWS}"\n'})
    commit_all(repo, "add config")
    leaked = repo.head.commit.hexsha
    (root / "deploy" / ".env").unlink()
    (root / "weird name é.py").unlink()
    write_files(root, {"app.py": "def run():\n    return 2\n"})
    commit_all(repo, "oops, take it out again")
    result = review("--range", f"{base}..HEAD")
    assert result.exit_code == 1, result.stderr
    data = json.loads(result.stdout)
    found = sorted((s["file"], s["line"], s["kind"], s["commit"]) for s in data["secrets"])
    assert found == [("app.py", 1, "AWS Access Key", leaked), ("deploy/.env", None, "secret file: dotenv file", leaked),
                     ("weird name é.py", 1, "AWS Access Key", leaked)]
    assert server.chat_requests == []  # nothing is sent when the history holds a secret
    assert AWS not in result.stdout + result.stderr


def test_a_secret_still_in_the_tip_is_reported_once_and_a_clean_range_passes(tmp_path: Path, server: OpenAIServer,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "def run():\n    return 1\n"})
    root = Path(repo.working_tree_dir)
    monkeypatch.chdir(root)
    base = repo.head.commit.hexsha
    write_files(root, {"app.py": "def run():\n    return 2\n"})
    commit_all(repo, "clean")
    server.reply('{"findings": []}')
    assert review("--range", f"{base}..HEAD").exit_code == 0
    write_files(root, {"app.py": f'KEY_ID = "{AWS}"\n\ndef run():\n    return 2\n'})
    commit_all(repo, "key")
    data = json.loads(review("--range", f"{base}...HEAD").stdout)
    assert [(s["file"], s["line"], s["commit"]) for s in data["secrets"]] == [("app.py", 1, None)]
