"""`kimicode ask` under faults: a stream that never ends, a day-long Retry-After, an unusable data dir.

The CLI in this process against the loopback server; settings go in the user's config.toml.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.runner import run_cli
from tests.openai_server import OpenAIServer
from tests.repos import write_files


def user_config(home: Path, text: str) -> None:
    write_files(home / "config", {"config.toml": text})


def ask(tmp_path: Path, server: OpenAIServer, timeout: float = 60):  # type: ignore[no-untyped-def]
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return run_cli("ask", "--no-repo", "q?", cwd=work, env={"KIMICODE_BASE_URL": server.base_url}, input="", timeout=timeout)


def test_keep_alive_comments_forever_end_at_the_idle_timeout(tmp_path: Path, isolated_home: Path, openai_server: OpenAIServer) -> None:
    user_config(isolated_home, "max_retries = 0\nidle_timeout = 0.5\n")
    openai_server.keep_alive("the answer so far", every=0.05)
    result = ask(tmp_path, openai_server)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "the answer so far\n"
    assert "[partial answer: the answer was cut: no new answer data for 0.5 s (idle_timeout)]" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_word_a_tick_forever_ends_at_the_request_deadline(tmp_path: Path, isolated_home: Path, openai_server: OpenAIServer) -> None:
    # 8 s: the deadline counts from the request, and a loaded machine can take seconds to start the CLI
    user_config(isolated_home, "max_retries = 0\nrequest_deadline = 8\n")
    openai_server.trickle("word ", every=0.05)
    result = ask(tmp_path, openai_server)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("word word ")
    assert "[partial answer: the answer was cut: not complete within request_deadline = 8 s]" in result.stderr


def test_retry_after_a_day_is_not_waited_for(tmp_path: Path, openai_server: OpenAIServer) -> None:
    openai_server.rate_limit(retry_after="86400")
    openai_server.reply("never reached")
    result = ask(tmp_path, openai_server, timeout=30)  # before the fix: 120 s asleep, then a second request
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "the server asks to wait 86400 s" in errors[0], result.stderr
    assert "retrying" not in result.stderr
    assert len(openai_server.chat_requests) == 1 and result.stdout == ""


def test_an_unusable_data_dir_does_not_fail_a_delivered_answer(tmp_path: Path, isolated_home: Path, openai_server: OpenAIServer) -> None:
    # the data dir cannot be written (here: a file stands where the folder should be)
    (isolated_home / "data").write_text("not a folder\n")
    openai_server.reply("the whole answer")
    result = ask(tmp_path, openai_server)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "the whole answer\n"
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "not saved" in line]
    assert len(warnings) == 1 and "token calibration" in warnings[0], result.stderr
    assert (isolated_home / "data").read_text() == "not a folder\n"
