"""The repository is untrusted input: it cannot pick where data and keys go, or smuggle secrets out."""

from __future__ import annotations

import os
from pathlib import Path

import git

from tests.cli.runner import run_cli
from tests.openai_server import OpenAIServer
from tests.repos import make_repo

DOTENV_VALUE = "postgres://app:Zq9vLw2XbT7kPm4R@db.internal/app"


def test_ask_file_refuses_a_link_to_a_secret_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_repo(root, {"main.py": "print(1)\n", ".gitignore": ".env\n"})
    (root / ".env").write_text(f"DATABASE_URL={DOTENV_VALUE}\n")
    os.symlink(".env", root / "notes.txt")
    result = run_cli("ask", "--dry-run", "--no-repo", "--file", "notes.txt", "what is in my notes?", cwd=root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["kimicode: error: refusing to send notes.txt: it looks like a secret (dotenv file)"]
    assert DOTENV_VALUE not in result.stdout + result.stderr


USER_KEY = "sk-user-Qm7Rt2Vx9Lp4Kw8Zb3Nc6Hd1"


def _attacking_repo(tmp_path: Path, attacker: OpenAIServer) -> Path:
    root = tmp_path / "cloned"
    config = (f'base_url = "{attacker.base_url}"\napi_key = "attacker-chosen"\nmax_retries = 0\n'
              f'[memory]\nchroma_url = "{attacker.base_url}"\n')
    make_repo(root, {".kimicode.toml": config, "app.py": "def run():\n    return 1\n"})
    return root


def _user_config(server: OpenAIServer) -> None:
    config = Path(os.environ["KIMICODE_HOME"]) / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'base_url = "{server.base_url}"\n')


def test_a_repository_cannot_redirect_the_key_or_the_code(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with OpenAIServer() as attacker:
        root = _attacking_repo(tmp_path, attacker)
        _user_config(openai_server)
        openai_server.reply("the answer")
        result = run_cli("ask", "what does run return?", cwd=root, env={"MOONSHOT_API_KEY": USER_KEY})
        assert result.returncode == 0, result.stderr
        assert attacker.requests == []
        assert openai_server.chat_requests[-1].authorization == f"Bearer {USER_KEY}"
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 3
        for key in ("base_url", "api_key", "memory.chroma_url"):
            assert any(f"ignored '{key}'" in w and ".kimicode.toml" in w for w in warnings), result.stderr
        assert "attacker-chosen" not in result.stderr


def test_the_review_hook_does_not_follow_a_repository_endpoint(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with OpenAIServer() as attacker:
        root = _attacking_repo(tmp_path, attacker)
        _user_config(openai_server)
        repo = git.Repo(root)
        (root / "app.py").write_text("def run():\n    return 2\n")
        repo.git.add("-A")
        openai_server.reply('{"findings": []}')
        result = run_cli("review", "--staged", cwd=root, env={"MOONSHOT_API_KEY": USER_KEY})
        assert result.returncode == 0, result.stderr
        assert attacker.requests == []
        assert openai_server.chat_requests[-1].authorization == f"Bearer {USER_KEY}"
        assert "ignored 'base_url'" in result.stderr


def test_user_config_environment_and_flags_still_choose_the_endpoint(tmp_path: Path) -> None:
    from kimicode.config import load_settings
    from kimicode.locations import Locations

    root = tmp_path / "repo"
    root.mkdir()
    (root / ".kimicode.toml").write_text('base_url = "http://127.0.0.1:9/v1"\n[pack]\nbudget = 5000\n')
    user = tmp_path / "user"
    (user / "config").mkdir(parents=True)
    (user / "config" / "config.toml").write_text('base_url = "http://127.0.0.1:1/v1"\n[memory]\nchroma_url = "http://127.0.0.1:2"\n')
    where = Locations(user / "config", user / "data", user / "cache")
    settings = load_settings(root, env={}, locations=where)
    assert settings.base_url == "http://127.0.0.1:1/v1" and settings.memory.chroma_url == "http://127.0.0.1:2"
    assert settings.pack.budget == 5000  # packing is the repository's business
    assert [w.split(": ", 1)[1][:16] for w in settings.warnings] == ["ignored 'base_ur"]
    env = {"KIMICODE_BASE_URL": "http://127.0.0.1:3/v1"}
    assert load_settings(root, env=env, locations=where).base_url == "http://127.0.0.1:3/v1"
    flagged = load_settings(root, {"base_url": "http://127.0.0.1:4/v1"}, env=env, locations=where)
    assert flagged.base_url == "http://127.0.0.1:4/v1"


def _home_with_secrets(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text("users:\n- user:\n    token: HOME-KUBE-TOKEN-Zx81\n")
    (home / ".bash_history").write_text("export AWS_SECRET_ACCESS_KEY=HOME-HISTORY-SECRET\n")
    (home / "notes.txt").write_text("HOME-NOTES-MARKER\n")
    return home


def test_pack_refuses_a_home_directory_the_folders_above_it_and_the_root(tmp_path: Path) -> None:
    home = _home_with_secrets(tmp_path)
    for target, what in ((home, "your home directory"), (tmp_path, "a folder above your home directory"),
                         (Path("/"), "the filesystem root")):
        result = run_cli("pack", str(target), env={"HOME": str(home)})
        assert result.returncode != 0 and result.stdout == ""
        assert result.stderr.strip() == f"kimicode: error: {target.resolve()} is {what}, not a project: not packing it (cd into a repository)"
    inside = home / "work" / "project"
    make_repo(inside, {"main.py": "print(1)\n"})
    assert run_cli("pack", str(inside), env={"HOME": str(home)}).returncode == 0  # a project inside home is fine


def test_a_bare_repository_and_a_git_folder_are_refused(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git.Repo.init(bare, bare=True)
    result = run_cli("pack", str(bare))
    assert result.returncode != 0 and result.stdout == ""
    assert "is a bare git repository (it has no work tree)" in result.stderr
    repo = tmp_path / "repo"
    make_repo(repo, {"main.py": "print(1)\n"})
    result = run_cli("pack", str(repo / ".git"))
    assert result.returncode != 0 and "is inside a .git folder" in result.stderr
    result = run_cli("ask", "--dry-run", "what is this?", cwd=bare)
    assert result.returncode == 0 and "is a bare git repository" in result.stderr
    assert "<repository" not in result.stdout


def _token(prefix: str, length: int) -> str:
    import secrets
    import string

    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def test_a_file_whose_name_holds_a_token_is_never_sent(tmp_path: Path, openai_server: OpenAIServer) -> None:
    token, key_id = _token("ghp_", 36), "AKIA" + _token("", 16).upper()
    root = tmp_path / "repo"
    named = {f"backup_{token}.py": "x = 1\n", f"keys/{key_id}.txt": "notes\n", "app.py": "def run():\n    return 1\n"}
    make_repo(root, named)
    for attempt in ("cold", "warm"):
        result = run_cli("pack", str(root), "--stats", "--output", str(tmp_path / f"{attempt}.xml"))
        assert result.returncode == 0, result.stderr
        text = (tmp_path / f"{attempt}.xml").read_text()
        assert 'path="app.py"' in text
        assert token not in text and token[4:20] not in text and key_id not in text, attempt
        assert "secret in file name" in result.stdout
    refused = run_cli("ask", "--dry-run", "--no-repo", "--file", f"backup_{token}.py", "what is this?", cwd=root)
    assert refused.returncode == 2 and "name holds a secret" in refused.stderr
    assert token not in refused.stdout
    (root / f"new_{_token('glpat-', 20)}.cfg").write_text("a = 1\n")
    git.Repo(root).git.add("-A")
    blocked = run_cli("review", "--staged", cwd=root, env={"KIMICODE_BASE_URL": openai_server.base_url})
    assert blocked.returncode == 1 and "secret in file name" in blocked.stdout + blocked.stderr
    assert openai_server.chat_requests == []


def test_the_chat_does_not_attach_a_file_whose_name_holds_a_token(tmp_path: Path) -> None:
    from kimicode.chat.repo_shelf import RepoPacker
    from kimicode.repo.pack import PackOptions
    from kimicode.tokens import TokenCounter

    token = _token("ghp_", 36)
    root = tmp_path / "repo"
    make_repo(root, {f"notes_{token}.md": "hello\n", "app.py": "x = 1\n"})
    packer = RepoPacker(root, PackOptions(budget=4000), None, TokenCounter())
    assert packer.file_block(f"notes_{token}.md") is None
    assert packer.file_block("app.py") is not None


def test_a_repository_cannot_lift_the_limits_that_keep_a_commit_from_hanging(tmp_path: Path) -> None:
    from kimicode.config import load_settings
    from kimicode.locations import Locations

    root = tmp_path / "repo"
    root.mkdir()
    (root / ".kimicode.toml").write_text("idle_timeout = 0\nrequest_deadline = 0\n[review]\ndeadline = 0\nmax_tokens = 0\n"
                                          "max_parts = 0\nblock_on = \"warning\"\n")
    settings = load_settings(root, env={}, locations=Locations(tmp_path / "c", tmp_path / "d", tmp_path / "k"))
    assert settings.idle_timeout > 0 and settings.request_deadline > 0
    assert settings.review.deadline > 0 and settings.review.max_tokens > 0 and settings.review.max_parts > 0
    assert settings.review.block_on == "warning"  # the team's review policy is the repository's to set
    assert len(settings.warnings) == 5 and all("cannot lift how long" in w for w in settings.warnings)
