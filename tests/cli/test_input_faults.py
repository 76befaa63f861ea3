"""Bad input and damaged local files: one line and a clear exit, never a hang or a traceback.

The CLI in this process (click's runner gives the exit code a user and a script would see).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.cli.runner import run_cli, run_process
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

FILES = {f"pkg/mod{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(40)} | {"README.md": "# demo\n"}


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# -- settings ------------------------------------------------------------------------------


def test_a_binary_user_config_is_exit_2_naming_the_file(tmp_path: Path, isolated_home: Path) -> None:
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_bytes(bytes(range(256)) * 4)
    result = run_cli("ask", "--no-repo", "q?", cwd=tmp_path, input="")
    assert result.returncode == 2
    assert one_error_line(result.stderr) == f"kimicode: error: {config}: not a TOML file: it is not UTF-8 text"


@pytest.mark.parametrize("command", [("ask", "--no-repo", "q?"), ("review", "--staged")])
def test_a_base_url_that_is_not_a_url_is_exit_2_at_once(tmp_path: Path, command: tuple[str, ...]) -> None:
    make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    write_files(tmp_path / "r", {"a.py": "x = 2\n"})
    os.system(f"git -C {tmp_path / 'r'} add a.py")
    result = run_cli(*command, cwd=tmp_path / "r", env={"KIMICODE_BASE_URL": "not-a-url", "MOONSHOT_API_KEY": "sk-test"}, input="")
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert line == ("kimicode: error: KIMICODE_BASE_URL: base_url must be an http:// or https:// URL with a host; "
                    "'not-a-url' is not an http:// or https:// URL")
    assert "retrying" not in result.stderr


def test_a_chroma_url_that_is_not_a_url_is_exit_2(tmp_path: Path, isolated_home: Path, openai_server: OpenAIServer) -> None:
    write_files(isolated_home / "config", {"config.toml": '[memory]\nchroma_url = "chroma:eight-thousand"\n'})
    result = run_cli("ask", "--no-repo", "q?", cwd=tmp_path, env={"KIMICODE_BASE_URL": openai_server.base_url}, input="")
    assert result.returncode == 2
    assert "memory.chroma_url must be an http:// or https:// URL with a host" in one_error_line(result.stderr)
    assert openai_server.requests == []


# -- ignore files that are not files -------------------------------------------------------


@pytest.mark.parametrize("git", [True, False], ids=["git repository", "plain folder"])
def test_a_fifo_named_like_an_ignore_file_does_not_hang_pack(tmp_path: Path, git: bool) -> None:
    root = tmp_path / "demo"
    if git:
        make_repo(root, FILES)
    else:
        write_files(root, FILES)
    for name in (".gitignore", ".kimicodeignore", "pkg/.gitignore"):
        os.mkfifo(root / name)
    result = run_cli("pack", cwd=root, timeout=60)  # before the fix: blocked for ever
    assert result.returncode == 0, result.stderr
    assert '<file path="pkg/mod39.py"' in result.stdout and "Traceback" not in result.stderr
    assert "skipped: not a regular file 3." in result.stdout  # the FIFOs themselves, with the reason


@pytest.mark.parametrize("command", [("ask", "--dry-run", "--no-repo", "--file", "pipe", "q?"), ("review", "--dry-run", "--files", "pipe")])
def test_a_fifo_given_by_name_is_refused_at_once(tmp_path: Path, command: tuple[str, ...]) -> None:
    root = tmp_path / "demo"
    make_repo(root, FILES)
    os.mkfifo(root / "pipe")
    result = run_process(*command, cwd=root, timeout=60)  # before the fix: blocked for ever on the read
    assert result.returncode == 2
    assert one_error_line(result.stderr).endswith("pipe: not a regular file (a FIFO, socket or device)")


def test_the_chat_does_not_block_on_a_fifo_named_in_the_conversation(tmp_path: Path) -> None:
    import threading

    from kimicode.chat.repo_shelf import RepoPacker
    from kimicode.repo.pack import PackOptions
    from kimicode.tokens import TokenCounter

    root = tmp_path / "demo"
    make_repo(root, FILES)
    os.mkfifo(root / "pipe")
    packer = RepoPacker(root, PackOptions(budget=4000), None, TokenCounter())
    answers: list[object] = []
    reader = threading.Thread(target=lambda: answers.append(packer.file_block("pipe")), daemon=True)
    reader.start()
    reader.join(30)
    assert answers == [None]


def test_an_oversized_ignore_file_is_read_only_up_to_its_limit(tmp_path: Path) -> None:
    from kimicode.repo.files import list_files
    from kimicode.repo.ignore import MAX_IGNORE_BYTES

    root = tmp_path / "demo"
    write_files(root, FILES)
    filler = "# padding line\n" * (MAX_IGNORE_BYTES // 15 + 10)
    write_files(root, {".kimicodeignore": "pkg/mod1.py\n" + filler + "pkg/mod2.py\n"})
    listed = {f.path for f in list_files(root).files}
    assert "pkg/mod1.py" not in listed  # read: within the limit
    assert "pkg/mod2.py" in listed  # past the limit: not read


# -- the pack cache ------------------------------------------------------------------------


def cache_files(home: Path) -> list[Path]:
    return sorted((home / "cache" / "repos").glob("*.sqlite"))


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_pack_cache_is_rebuilt_once_and_the_pack_is_the_same(tmp_path: Path, isolated_home: Path, damage: str) -> None:
    root = tmp_path / "demo"
    make_repo(root, FILES)
    first = run_cli("pack", cwd=root)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    (cache,) = cache_files(isolated_home)
    size = cache.stat().st_size
    if damage == "truncated":
        os.truncate(cache, size // 3)
    else:
        cache.write_bytes(b"\x00garbage" * 512)
    second = run_cli("pack", cwd=root)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    (warning,) = second.stderr.strip().splitlines()
    assert warning.startswith("kimicode: warning: the pack cache was damaged (") and warning.endswith("); rebuilt it")
    with sqlite3.connect(cache) as db:  # a sound database again, holding this pack
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 1
    third = run_cli("pack", "--stats", cwd=root)
    assert third.returncode == 0 and third.stderr == "", third.stderr
    assert "from cache" in third.stdout
