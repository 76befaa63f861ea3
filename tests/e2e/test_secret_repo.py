"""A repository with about thirty secrets: none reaches the provider, whole or in part.

The values are random, from a fixed seed (tests/secret_repo.py), so only the formats are known.
"""

from __future__ import annotations

import json
from pathlib import Path

import git

from tests.cli.runner import run_cli
from tests.openai_server import OpenAIServer
from tests.secret_repo import SecretRepo

KEY = "sk-test-user-key-000000000000"


def _sent(server: OpenAIServer) -> str:
    return "\n".join(json.dumps(r.body) for r in server.requests)


def test_ask_sends_none_of_thirty_secrets(tmp_path: Path, openai_server: OpenAIServer) -> None:
    secrets = SecretRepo(seed=1)
    root = secrets.build(tmp_path / "repo")
    assert len(secrets.planted) >= 30
    openai_server.reply("ok")
    # piped in as `cat ... | kimicode ask`: secrets in their natural format, outside any file block
    log = "".join((root / path).read_text() for path in ("scripts/deploy.sh", "bots/slack.py", "config/service.yaml", "README.md"))
    result = run_cli("ask", "--file", "app/github.py", "--file", "deploy/cluster.yaml", "what is configured here?",
                     cwd=root, input=log, env={"MOONSHOT_API_KEY": KEY, "KIMICODE_BASE_URL": openai_server.base_url})
    assert result.returncode == 0, result.stderr
    body = _sent(openai_server)
    assert "app/main.py" in body and "deploy/cluster.yaml" in body  # the repository was sent
    assert secrets.leaks(body) == []
    assert secrets.leaks(result.stdout + result.stderr) == []


def test_review_sends_none_of_them(tmp_path: Path, openai_server: OpenAIServer) -> None:
    secrets = SecretRepo(seed=2)
    root = secrets.build(tmp_path / "repo")
    repo = git.Repo(root)
    # a change next to the secrets: small changed files go in full as context, so do their secrets
    for path in ("app/github.py", "deploy/cluster.yaml", "README.md", "config/azure.py", "bots/telegram.py"):
        with (root / path).open("a") as fh:
            fh.write("\n# reviewed\n")
    repo.git.add("app", "deploy", "README.md", "config/azure.py", "bots")
    openai_server.reply('{"findings": []}')
    result = run_cli("review", "--staged", cwd=root, env={"MOONSHOT_API_KEY": KEY, "KIMICODE_BASE_URL": openai_server.base_url})
    assert result.returncode == 0, result.stderr
    body = _sent(openai_server)
    assert 'diff path=\\"app/github.py\\"' in body
    assert secrets.leaks(body) == []
