"""`kimicode ask` against small windows and first-run friction (issue 11).

The real CLI in a subprocess against the loopback server, made to behave like the local
servers users run: llama.cpp's /props, llama-cpp-python's length check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.runner import run_in_terminal
from tests.cli.test_ask_cli import FAST, REPO, ask, plain_dir
from tests.openai_server import OpenAIServer
from tests.repos import make_repo

MANY_FILES = {f"calc/mod{i}.py": f'"""Module {i}."""\n\n\ndef helper_{i}(x: int) -> int:\n    return x * {i} + {i}\n' * 6
              for i in range(60)}


def _repo(tmp_path: Path, config: str = FAST) -> Path:
    root = tmp_path / "repo"
    make_repo(root, {**REPO, **MANY_FILES, ".kimicode.toml": config})
    return root


def _llama_cpp_python(server: OpenAIServer, window: int = 8192) -> None:
    """Like `python -m llama_cpp.server --n_ctx 8192 --model_alias gemma`: no window reported anywhere."""
    server.model_entries = [{"id": "gemma", "object": "model", "owned_by": "me", "permissions": []}]
    server.routes[("POST", "/extras/tokenize/count")] = {"count": 100}
    server.context_window = window


def test_dry_run_plans_within_the_window_the_server_reports(tmp_path: Path, openai_server: OpenAIServer) -> None:
    openai_server.model_entries = [{"id": "gemma", "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}}]
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    result = ask("--dry-run", "--json", "--model", "gemma", "how is the budget computed?", cwd=_repo(tmp_path), server=openai_server)
    assert result.returncode == 0, result.stderr
    planned = json.loads(result.stdout)
    assert planned["window"] == 8192 and sum(planned["shelves"].values()) <= 8192
    assert planned["shelves"]["reply"] == 2048 and planned["shelves"]["repo"] > 0
    assert "window unknown" not in result.stderr
    # what the repository gave up, in one line (the 60 helper modules cannot all go in full)
    assert re.search(r"a small window \(8,192 tokens\): the repository goes as \d+ file\(s\) in full, \d+ as outlines "
                     r"and \d+ as paths only \([\d,]+ tokens\)", result.stderr), result.stderr
    roomy = ask("--dry-run", "--json", "how is the budget computed?", cwd=_repo(tmp_path / "big"))  # a 256K model
    assert "small window" not in roomy.stderr


def test_an_unknown_window_is_a_guess_said_in_one_line(tmp_path: Path) -> None:
    result = ask("--dry-run", "--json", "--no-repo", "--model", "mystery-7b", "q?", cwd=plain_dir(tmp_path),
                 env={"KIMICODE_BASE_URL": "http://127.0.0.1:9/v1"})  # nothing listens there
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["window"] == 32_768
    (line,) = [x for x in result.stderr.splitlines() if "window unknown" in x]
    assert 'assuming 32,768 tokens; set [models."mystery-7b"] context_window' in line


def test_ask_fits_a_llama_cpp_python_server_with_no_window_configured(tmp_path: Path, openai_server: OpenAIServer) -> None:
    _llama_cpp_python(openai_server)
    openai_server.reply("OK")  # the chat-template check
    openai_server.reply("1 2 3 4 5 6 7 8 9 10")  # the timed request (discovery.speed): a fast server, answering at once
    openai_server.reply("The budget is the window minus the reply.")
    result = ask("--json", "--model", "gemma", "how is the budget computed?", cwd=_repo(tmp_path), server=openai_server)
    assert result.returncode == 0, result.stderr
    # one overflow probe (refused unevaluated), one chat-template check, one timed request, then the question
    probe, template, timed, answer = openai_server.chat_requests
    assert timed.body["max_tokens"] == 33
    assert probe.body["stream"] is False and probe.body["max_tokens"] == 1
    assert [m["role"] for m in template.body["messages"]] == ["system", "user"] and template.body["max_tokens"] == 1
    assert answer.body["stream"] is True and answer.body["max_tokens"] == 2048
    assert len(json.dumps(answer.body["messages"])) // 4 < 8192 - 2048  # the server's own length check passed
    assert json.loads(result.stdout)["answer"] == "The budget is the window minus the reply."
    again = ask("--json", "--model", "gemma", "and the reply?", cwd=_repo(tmp_path), server=openai_server)
    assert again.returncode == 0, again.stderr
    assert len(openai_server.chat_requests) == 5  # the window, template and speed are remembered: no second probe


def test_a_truncated_answer_is_reported(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path, config=FAST + "[ask]\nreply_tokens = 300\n")
    openai_server.reply("An answer that stops mid", finish_reason="length")
    result = ask("--json", "--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["partial"], data["truncated"], data["finish_reason"]) == (True, True, "length")
    assert "[truncated: the answer reached the reply limit of 300 tokens" in result.stderr
    openai_server.reply("A whole answer.")
    whole = json.loads(ask("--json", "--no-repo", "q?", cwd=work, server=openai_server).stdout)
    assert (whole["partial"], whole["truncated"], whole["finish_reason"]) == (False, False, "stop")


def test_a_budget_larger_than_the_window_allows_is_said_in_one_line(tmp_path: Path) -> None:
    root = _repo(tmp_path, FAST + 'model = "small"\n[models."small"]\ncontext_window = 8000\n')
    result = ask("--dry-run", "--budget", "50000", "how is the budget computed?", cwd=root)
    assert result.returncode == 0, result.stderr
    assert re.search(r"--budget 50,000 does not fit the 8,000-token window: the repository gets [\d,]+ tokens", result.stderr)
    quiet = ask("--dry-run", "how is the budget computed?", cwd=root)  # the default budget: cut silently, as asked
    assert "does not fit" not in quiet.stderr


def test_remember_without_a_repository_is_refused_before_anything_is_sent(tmp_path: Path,
                                                                          openai_server: OpenAIServer) -> None:
    result = ask("--no-repo", "--remember", "why does it fail?", cwd=plain_dir(tmp_path), server=openai_server,
                 input="Traceback (most recent call last):\nValueError: boom\n")
    assert result.returncode == 2
    assert "--remember needs a repository" in result.stderr and "Traceback" not in result.stderr.split("error:")[0]
    assert openai_server.requests == []


def test_a_terminal_is_told_what_ask_is_waiting_for(tmp_path: Path, openai_server: OpenAIServer) -> None:
    openai_server.slow(1.5, "answer")
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "COLUMNS": "80", "TERM": "xterm"}
    code, err, out = run_in_terminal("ask", "q?", cwd=plain_dir(tmp_path), env=env, terminal="stderr")
    assert code == 0, err
    assert "packing…" in err and "waiting for the model…" in err
    assert out == "answer\n"  # the status line never reaches stdout

    openai_server.slow(0.5, "answer")
    piped = ask("q?", cwd=plain_dir(tmp_path), server=openai_server)
    assert piped.returncode == 0 and "waiting for the model" not in piped.stderr and "packing" not in piped.stderr


def test_a_terminal_is_told_while_remember_records_the_fix(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, {"app.py": "def f(x):\n    return x['id']\n", ".kimicode.toml": FAST})
    openai_server.reply("x has no 'id' key.")
    openai_server.slow(1.5, json.dumps({"fixed": True, "root_cause": "a missing key", "fix": "use x.get('id')", "files": []}))
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "COLUMNS": "80", "TERM": "xterm"}
    question = "why? Traceback (most recent call last):\n  File \"app.py\", line 2, in f\nKeyError: 'id'\n"
    code, err, _ = run_in_terminal("ask", "--remember", question, cwd=root, env=env, terminal="stderr")
    assert code == 0, err
    assert "recording what was learned in memory…" in err and "remembered KeyError" in err
