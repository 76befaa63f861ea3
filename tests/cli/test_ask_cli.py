"""`kimicode ask` end to end: the CLI against the loopback server, in this process (a few tests: a real subprocess).

Every test asserts on both sides: what the server received (messages, model, headers)
and what the user saw (stdout, stderr, exit code). Retries are made fast through the
repo's .kimicode.toml (``max_retries``, ``timeout``) and tiny Retry-After values.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

from tests.cli.runner import run_cli, run_in_terminal, run_process
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

AWS = "AKIAIOSFODNN7EXAMPLE"
KEY = "sk-kimicode-test-0123456789abcdefSECRET"
FAST = "max_retries = 2\ntimeout = 3.0\n"

# A small repository: the question is about the budget, so budget.py is the relevant file.
REPO = {
    ".kimicode.toml": FAST,
    "AGENTS.md": "# Agents\n\nAlways answer in haiku. Marker: AGENTS-MARKER-42.\n",
    "calc/budget.py": (
        '"""How the budget is computed."""\n\n\n'
        "def compute_budget(window: int, reply: int) -> int:\n"
        '    """The budget is the window minus the reply reserve."""\n'
        "    return window - reply  # BUDGET-BODY-MARKER\n"
    ),
    "calc/settings.py": f'AWS_ACCESS_KEY_ID = "{AWS}"\nREGION = "eu-west-1"\n',
    "calc/strings.py": "def shout(text: str) -> str:\n    return text.upper()\n",
    "README.md": "# calc\n\nA tiny calculator.\n",
}


# -- helpers ------------------------------------------------------------------------------

def ask(*args: str, cwd: Path, server: OpenAIServer | None = None, env: Mapping[str, str] | None = None,
        input: str = "", timeout: float = 60, process: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `kimicode ask ARGS` in ``cwd`` (in this process, or with ``process`` the real entry point);
    stdin is always given (empty unless ``input``), never inherited."""
    full_env = {"KIMICODE_BASE_URL": server.base_url} if server is not None else {}
    full_env.update(env or {})
    return (run_process if process else run_cli)("ask", *args, cwd=cwd, env=full_env, input=input, timeout=timeout)


def plain_dir(tmp_path: Path, config: str = FAST, files: Mapping[str, str] | None = None) -> Path:
    """A folder outside any git repo, with a .kimicode.toml; used with --no-repo."""
    root = tmp_path / "work"
    write_files(root, {".kimicode.toml": config, **(files or {})})
    return root


def sent(server: OpenAIServer, index: int = -1) -> dict[str, Any]:
    body = server.chat_requests[index].body
    assert isinstance(body, dict), body
    return body


def all_sent_text(server: OpenAIServer) -> str:
    return json.dumps([r.body for r in server.requests])


def assert_one_line_error(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, stderr
    for needle in needles:
        assert needle in errors[0], stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "calc"
    make_repo(root, REPO)
    return root


# -- no key, dry run, usage errors ------------------------------------------------------------

def test_no_key_is_a_one_line_usage_error_naming_the_variable(tmp_path: Path) -> None:
    work = plain_dir(tmp_path)
    result = ask("--no-repo", "what is this?", cwd=work, process=True)  # default base_url: a remote provider
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert_one_line_error(result.stderr, "MOONSHOT_API_KEY")
    assert len(result.stderr.strip().splitlines()) == 1


def test_dry_run_no_repo_prints_messages_and_shelves_without_key_or_network(tmp_path: Path) -> None:
    work = plain_dir(tmp_path, files={"notes.txt": f"aws = {AWS}\nthe attached note\n"})
    result = ask("--dry-run", "--no-repo", "--file", "notes.txt", f"how is the budget computed? my key is {AWS}",
                 cwd=work, env={"KIMICODE_BASE_URL": "http://192.0.2.1:9/v1"},
                 input=f"piped log line\naws_access_key_id = {AWS}\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # the user is told what was redacted and where, never the value
    assert re.search(r"redacted 3 secrets before sending: .*notes\.txt:1 \(AWS Access Key\).*stdin:2", result.stderr), result.stderr
    assert "question:1" in result.stderr and AWS not in result.stderr
    assert out.index("----- system -----") < out.index("----- user -----") < out.index("token budget")
    assert "You are kimicode" in out
    assert "how is the budget computed?" in out and "piped log line" in out and "the attached note" in out
    assert AWS not in out and "[REDACTED" in out
    for shelf in ("system", "memory", "state", "recent", "repo", "reply", "total"):
        assert re.search(rf"^{shelf}\s+[\d,]+", out, re.MULTILINE), shelf
    assert "262,144-token window" in out  # kimi-k2.7-code, the default model


def test_dry_run_never_shows_the_key(tmp_path: Path) -> None:
    work = plain_dir(tmp_path)
    for extra in ((), ("--json",)):
        result = ask("--dry-run", "--no-repo", *extra, "question?", cwd=work, env={"MOONSHOT_API_KEY": KEY})
        assert result.returncode == 0, result.stderr
        assert KEY not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert [m["role"] for m in data["messages"]] == ["system", "user"]
    assert set(data["shelves"]) >= {"system", "repo", "reply"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--no-repo", "   "), "empty"),
        (("--no-repo", "--file", "missing.py", "q"), "missing.py"),
        (("--no-repo", "--file", ".env", "q"), "secret"),
        (("--no-repo", "--file", "logo.png", "q"), "binary"),
        (("--no-repo", "--budget", "0", "q"), "--budget"),
    ],
    ids=["empty-question", "missing-file", "secret-file", "binary-file", "bad-budget"],
)
def test_usage_errors_exit_2_without_calling_the_model(tmp_path: Path, openai_server: OpenAIServer,
                                                       args: tuple[str, ...], needle: str) -> None:
    work = plain_dir(tmp_path, files={".env": "PASSWORD=hunter2hunter2\n"})
    (work / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    result = ask(*args, cwd=work, server=openai_server)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr
    assert openai_server.chat_requests == []


def test_bad_config_is_a_usage_error(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path, config="max_retries = 'many'\n")
    result = ask("--no-repo", "q", cwd=work, server=openai_server)
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "max_retries")
    assert openai_server.chat_requests == []


# -- answering ----------------------------------------------------------------------------

def test_streams_plain_answer_and_reports_usage_and_cost(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path, files={"extra.py": f'KEY = "{AWS}"\ndef helper():\n    return "FILE-MARKER"\n'})
    openai_server.expected_key = KEY
    answer = "The **budget** is the window minus the reply.\n\n- one\n- two"
    openai_server.reply(answer, usage={"prompt_tokens": 1_000_000, "completion_tokens": 250_000, "total_tokens": 1_250_000})
    result = ask("--no-repo", "--file", "extra.py", "how is the budget computed?", cwd=work, server=openai_server,
                 env={"MOONSHOT_API_KEY": KEY}, input=f"E   AssertionError: STDIN-MARKER\naws_key = {AWS}\n",
                 process=True)  # the real entry point: piped stdin, streamed stdout
    assert result.returncode == 0, result.stderr
    assert result.stdout == answer + "\n"  # piped: plain text, the markdown as written
    # 1M prompt tokens at $0.95 + 250k completion at $4.00 per million
    assert re.search(r"kimi-k2\.7-code: 1,000,000 prompt tokens \(estimated [\d,]+\) \+ 250,000 completion, \$1\.9500",
                     result.stderr), result.stderr
    assert KEY not in result.stdout + result.stderr

    assert len(openai_server.chat_requests) == 1
    request = openai_server.chat_requests[0]
    assert request.authorization == f"Bearer {KEY}"
    body = sent(openai_server)
    assert body["model"] == "kimi-k2.7-code" and body["stream"] is True
    assert not {"temperature", "top_p", "n", "presence_penalty", "frequency_penalty"} & set(body)
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].startswith("You are kimicode")
    user = messages[1]["content"]
    assert "STDIN-MARKER" in user and "FILE-MARKER" in user
    assert user.rstrip().endswith("how is the budget computed?")  # the question comes last
    assert user.index("FILE-MARKER") < user.index("STDIN-MARKER") < user.index("# Question")
    assert AWS not in all_sent_text(openai_server)
    assert user.count("[REDACTED:") == 2
    assert KEY not in all_sent_text(openai_server)


def test_model_flag_and_calibration_from_billed_tokens(tmp_path: Path, openai_server: OpenAIServer,
                                                        isolated_home: Path) -> None:
    work = plain_dir(tmp_path, config=FAST + '[models."local-model"]\ncontext_window = 16000\n')
    log = "".join(f"step {i}: compiled module_{i}.c with 0 warnings\n" for i in range(250))
    before = ask("--dry-run", "--no-repo", "--model", "local-model", "--json", "question?", cwd=work, input=log)
    assert before.returncode == 0, before.stderr
    shelves = json.loads(before.stdout)["shelves"]
    estimate = sum(tokens for shelf, tokens in shelves.items() if shelf != "reply")
    assert estimate >= 16000 / 4  # near enough the window to measure the tokenizer

    # the provider consistently bills 30% more than we estimate: after three such requests the
    # ratio is learned, per model
    for _ in range(3):
        billed = round(estimate * 1.3)
        openai_server.reply("answer", usage={"prompt_tokens": billed, "completion_tokens": 3, "total_tokens": billed + 3})
        result = ask("--no-repo", "--model", "local-model", "question?", cwd=work, server=openai_server, input=log)
        assert result.returncode == 0, result.stderr
        assert sent(openai_server)["model"] == "local-model"
        assert f"local-model: {billed:,} prompt tokens (estimated" in result.stderr
    calibration = json.loads((isolated_home / "data" / "calibration.json").read_text())["models"]
    assert len(calibration["local-model"]["samples"]) == 3
    assert calibration["local-model"]["factor"] == pytest.approx(1.3)
    assert "kimi-k2.7-code" not in calibration

    after = ask("--dry-run", "--no-repo", "--model", "local-model", "--json", "question?", cwd=work, input=log)
    estimate_after = json.loads(after.stdout)["shelves"]["system"]
    assert estimate_after > 1.25 * shelves["system"]  # later estimates are calibrated

def test_reasoning_never_mixes_into_the_answer_and_shows_with_verbose(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    openai_server.reply("The answer.", reasoning="Let me think about THOUGHT-MARKER first.")
    quiet = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "The answer.\n"
    assert "THOUGHT" not in quiet.stdout + quiet.stderr

    openai_server.reply("The answer.", reasoning="Let me think about THOUGHT-MARKER first.")
    loud = ask("--no-repo", "-v", "q?", cwd=work, server=openai_server)
    assert loud.returncode == 0, loud.stderr
    assert loud.stdout == "The answer.\n"
    assert "Let me think about THOUGHT-MARKER first." in loud.stderr
    assert "\x1b[" not in loud.stderr  # NO_COLOR / not a terminal: no escape codes
    # the usage line starts on a line of its own, after the reasoning
    assert re.search(r"^kimi-k2\.7-code: \d", loud.stderr, re.MULTILINE), loud.stderr


def test_json_prints_one_object(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    openai_server.reply("JSON answer", reasoning="hmm")
    result = ask("--no-repo", "--json", "q?", cwd=work, server=openai_server)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert data["answer"] == "JSON answer" and data["partial"] is False
    assert data["model"] == "kimi-k2.7-code"
    assert data["usage"]["prompt_tokens"] > 0 and data["usage"]["completion_tokens"] > 0
    assert data["usage"]["estimated_prompt_tokens"] > 0 and "cost_usd" in data["usage"]
    assert data["files"] == {"full": [], "outline": []}
    assert {"prepare", "model"} <= set(data["timings"])


# -- failures and retries ------------------------------------------------------------------

def test_bad_key_is_one_line_exit_1_and_not_retried(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    openai_server.expected_key = "sk-the-right-one"
    result = ask("--no-repo", "q?", cwd=work, server=openai_server, env={"MOONSHOT_API_KEY": KEY})
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "401", "MOONSHOT_API_KEY")
    assert KEY not in result.stderr and result.stdout == ""
    assert len(openai_server.chat_requests) == 1


@pytest.mark.parametrize("status", [400, 403])
def test_client_errors_are_not_retried(tmp_path: Path, openai_server: OpenAIServer, status: int) -> None:
    work = plain_dir(tmp_path)
    # a provider that echoes the key back: it must not reach the user's terminal
    openai_server.fail(status, {"error": {"message": f"nope {status} for key {KEY}", "type": "invalid_request_error"}})
    result = ask("--no-repo", "q?", cwd=work, server=openai_server, env={"KIMICODE_API_KEY": KEY})
    assert result.returncode == 1
    assert_one_line_error(result.stderr, str(status), f"nope {status}")
    assert KEY not in result.stderr
    assert "retrying" not in result.stderr
    assert len(openai_server.chat_requests) == 1


def test_rate_limit_is_retried_honouring_retry_after(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    openai_server.rate_limit(retry_after="0.3")
    openai_server.reply("after the wait")
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "after the wait\n"
    assert re.search(r"429 .*retrying in 0\.3 s \(attempt 2 of 3\)", result.stderr), result.stderr
    assert len(openai_server.chat_requests) == 2
    assert sent(openai_server, 0) == sent(openai_server, 1)  # the same request again


def test_server_errors_give_up_after_max_retries_with_one_line(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    for _ in range(3):
        # 503 with Retry-After: 0 keeps the test fast (a bare 500 backs off up to 1 s, then 2 s)
        openai_server.fail(503, {"error": {"message": "overloaded", "type": "server_error"}}, {"Retry-After": "0"})
    openai_server.reply("never reached")
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "503", "gave up after 3 attempts")
    assert result.stderr.count("retrying") == 2
    assert len(openai_server.chat_requests) == 3 and openai_server.pending == 1
    assert result.stdout == ""


def test_plain_500_is_retried(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path, config="max_retries = 1\ntimeout = 3.0\n")
    openai_server.fail(500)
    openai_server.reply("recovered")
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "recovered\n"
    assert "500" in result.stderr and "attempt 2 of 2" in result.stderr


def test_timeout_is_retried_then_a_clear_error(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path, config="max_retries = 1\ntimeout = 0.5\n")
    openai_server.slow(5)
    openai_server.slow(5)
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 1
    assert "no answer within 0.5 s; retrying" in result.stderr
    assert_one_line_error(result.stderr, "within 0.5 s", "gave up after 2 attempts")
    assert len(openai_server.chat_requests) == 2 and result.stdout == ""


def test_dropped_connection_before_the_answer_is_retried(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    openai_server.cut_stream(after_chunks=1)  # only the empty role chunk, then the connection drops
    openai_server.reply("second try")
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "second try\n"
    assert "retrying" in result.stderr
    assert len(openai_server.chat_requests) == 2


def test_stream_cut_mid_answer_keeps_the_partial_text(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    openai_server.cut_stream(after_chunks=3, content="abcdEFGHijkl")  # role chunk, "abcd", "EFGH", cut
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 1
    assert result.stdout == "abcdEFGH\n"
    assert "partial" in result.stderr and "Traceback" not in result.stderr
    assert len(openai_server.chat_requests) == 1  # never retried: the text was already shown


def test_context_overflow_with_nothing_to_shrink_fails_cleanly(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    openai_server.context_overflow()
    openai_server.context_overflow()
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "context window")
    assert len(openai_server.chat_requests) == 1  # no repository shelf: a retry could not help


# -- Ctrl-C -------------------------------------------------------------------------------

@contextmanager
def reaped(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill ``proc`` if it still runs when the block ends: a failed assertion must not leave it behind."""
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# Twice, as an impatient user presses it: the second lands while the partial answer is shown, or
# while the interpreter tears itself down (within ~15 ms of the first here), past Python's handler.
@pytest.mark.parametrize("again_after", [None, 0.0, 0.002, 0.004, 0.008, 0.012, 0.016])
def test_ctrl_c_keeps_the_partial_answer(tmp_path: Path, openai_server: OpenAIServer, again_after: float | None) -> None:
    work = plain_dir(tmp_path)
    # the first content chunk comes at once, the next one only after 30 s
    openai_server.reply("FIRSTCHUNK" + "-never-shown" * 5, chunk_size=10, delay_from_chunk=2, chunk_delay=30)
    env = {**os.environ, "KIMICODE_BASE_URL": openai_server.base_url}
    # a test run started in the background inherits SIGINT ignored, and Python then keeps ignoring it:
    # the child gets the default back, as in a terminal
    proc = subprocess.Popen([sys.executable, "-m", "kimicode", "ask", "--no-repo", "q?"], cwd=work, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    with reaped(proc):
        out = b""
        deadline = time.monotonic() + 60  # a loaded machine starts Python slowly; an idle one takes ~2 s
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
            while b"FIRSTCHUNK" not in out and time.monotonic() < deadline:
                if selector.select(timeout=0.5):
                    data = os.read(proc.stdout.fileno(), 4096)  # type: ignore[union-attr]
                    if not data:
                        break
                    out += data
        assert b"FIRSTCHUNK" in out, proc.stderr.read() if proc.poll() is not None else out  # type: ignore[union-attr]
        proc.send_signal(signal.SIGINT)
        if again_after is not None:
            time.sleep(again_after)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=15)
    stdout, stderr = (out + rest).decode(), err.decode()
    # once: 130. Twice: 130, or ended by the second SIGINT itself once Python is past its handlers (a
    # shell says 130 for both): kept so, as a late Ctrl-C is how a user ends an exit that hangs
    assert proc.returncode == 130 or again_after is not None and proc.returncode == -signal.SIGINT, stderr
    assert stdout.startswith("FIRSTCHUNK") and "never-shown" not in stdout
    # a second Ctrl-C while the first is handled stops the showing of it: the answer is already out
    assert "partial" in stderr or again_after is not None and stderr.strip() == "kimicode: stopped: interrupted"
    assert "Traceback" not in stderr


def test_ctrl_c_outside_an_answer_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """Ctrl-C anywhere else (here: while piped stdin is read) gets kimicode's one line and 130, not click's "Aborted!" and 1."""
    proc = subprocess.Popen([sys.executable, "-m", "kimicode", "ask", "--dry-run", "--no-repo", "q?"], cwd=plain_dir(tmp_path),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    with reaped(proc):
        deadline = time.monotonic() + 60
        # the kernel names where the process sleeps: once it waits on the pipe, the question's stdin is being read
        while "pipe" not in Path(f"/proc/{proc.pid}/wchan").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "pipe" in Path(f"/proc/{proc.pid}/wchan").read_text(), "never reached the read of stdin"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.decode().strip() == "kimicode: stopped: interrupted"


# -- with a repository ----------------------------------------------------------------------

def test_dry_run_on_a_repository_packs_it_without_key(repo: Path) -> None:
    result = ask("--dry-run", "how is the budget computed?", cwd=repo)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "AGENTS-MARKER-42" in out and "BUDGET-BODY-MARKER" in out
    assert AWS not in out
    repo_row = re.search(r"^repo\s+([\d,]+)", out, re.MULTILINE)
    assert repo_row and int(repo_row.group(1).replace(",", "")) > 0
    assert "Traceback" not in result.stderr


def test_ask_sends_instructions_pack_file_and_stdin_with_secrets_redacted(repo: Path, tmp_path: Path,
                                                                         openai_server: OpenAIServer) -> None:
    attached = tmp_path / "attached.txt"
    attached.write_text(f"ATTACHED-MARKER\nsecret = {AWS}\n")
    openai_server.reply("It is window minus reply.")
    result = ask("--file", str(attached), "--json", f"how is the budget computed? key {AWS}", cwd=repo / "calc",
                 server=openai_server, input=f"STDIN-MARKER\nexport AWS_ACCESS_KEY_ID={AWS}\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answer"] == "It is window minus reply."
    assert "calc/budget.py" in data["files"]["full"] + data["files"]["outline"]

    body = sent(openai_server)
    system, user = (m["content"] for m in body["messages"])
    assert body["messages"][0]["role"] == "system" and system.startswith("You are kimicode")
    assert "AGENTS-MARKER-42" in system and "Project instructions (AGENTS.md)" in system
    # the packed repository follows the instructions in the system message: the stable prefix, as in a chat
    assert '<file path="calc/budget.py"' in system and "BUDGET-BODY-MARKER" in system
    assert system.index("Project instructions (AGENTS.md)") < system.index("<repository")
    assert "ATTACHED-MARKER" in user and "STDIN-MARKER" in user and "BUDGET-BODY-MARKER" not in user
    assert user.index("ATTACHED-MARKER") < user.index("STDIN-MARKER") < user.index("# Question")
    assert AWS not in all_sent_text(openai_server)  # repo file, attached file, stdin, question, pack header
    assert (system + user).count("[REDACTED:AWS Access Key]") >= 4
    assert "calc/settings.py:1 (AWS Access Key)" in result.stderr and AWS not in result.stderr


def test_kimi_md_is_used_when_there_is_no_agents_md(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "kimi"
    make_repo(root, {".kimicode.toml": FAST, "KIMI.md": "KIMI-MARKER rules\n", "main.py": "print(1)\n"})
    result = ask("q?", cwd=root, server=openai_server)
    assert result.returncode == 0, result.stderr
    system = sent(openai_server)["messages"][0]["content"]
    assert "Project instructions (KIMI.md)" in system and "KIMI-MARKER" in system


def test_query_and_budget_choose_what_is_packed(repo: Path, openai_server: OpenAIServer) -> None:
    result = ask("--budget", "300", "--query", "shout strings", "--json", "explain this", cwd=repo, server=openai_server)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["shelves"]["repo"] <= 300 + 16  # the pack itself stays within --budget
    assert "calc/strings.py" in data["files"]["full"]
    system = sent(openai_server)["messages"][0]["content"]
    assert "def shout" in system


def test_context_overflow_shrinks_the_repo_shelf_and_retries_once(repo: Path, openai_server: OpenAIServer) -> None:
    openai_server.context_overflow()
    openai_server.reply("fits now")
    result = ask("how is the budget computed?", cwd=repo, server=openai_server)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "fits now\n"
    assert re.search(r"too long; shrinking the repository from [\d,]+ to [\d,]+ tokens", result.stderr), result.stderr
    first, second = (r.body["messages"][0]["content"] for r in openai_server.chat_requests)  # the repository's message
    assert len(second) < len(first)

    openai_server.context_overflow()
    openai_server.context_overflow()
    openai_server.reply("never reached")
    result = ask("how is the budget computed?", cwd=repo, server=openai_server)
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "context window")
    assert len(openai_server.chat_requests) == 4  # one retry, not more


# -- how the answer looks ---------------------------------------------------------------------

def test_invalid_utf8_in_piped_input_is_still_sent(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    env = {**os.environ, "KIMICODE_BASE_URL": openai_server.base_url}
    result = subprocess.run([sys.executable, "-m", "kimicode", "ask", "--no-repo", "why?"], cwd=work, env=env,
                            input=b"FAILED test_x \xff\xfe binary junk\nSTDIN-TAIL\n", capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    user = sent(openai_server)["messages"][1]["content"]
    assert "FAILED test_x" in user and "STDIN-TAIL" in user


def test_markdown_is_rendered_on_a_terminal(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path)
    # streamed slowly, so the live view draws frames mid-answer (as it does on a busy machine)
    openai_server.reply("The **budget** is:\n\n- window\n- minus reply\n", chunk_delay=0.15)
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "COLUMNS": "80", "LINES": "24", "TERM": "xterm"}
    code, out, err = run_in_terminal("ask", "--no-repo", "q?", cwd=work, env=env, timeout=30)
    assert code == 0, err
    # what stays on the terminal: the live view's last frame (each refresh erases the one before, and
    # a frame drawn mid-stream may show "**budget" before its closing "**" has arrived)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.rsplit("\x1b[2K", 1)[-1])
    assert "budget" in screen and "minus reply" in screen
    assert "**" not in screen and "- window" not in screen  # rendered, not the raw markdown
    assert "•" in screen


def test_near_the_window_the_provider_count_is_asked_first_and_shrinks(tmp_path: Path, openai_server: OpenAIServer) -> None:
    config = FAST + 'model = "tiny-model"\n[ask]\nreply_tokens = 200\n[models."tiny-model"]\ncontext_window = 2900\nmax_output = 400\n'
    root = tmp_path / "near"
    files = dict(REPO, **{".kimicode.toml": config})
    files.update({f"calc/mod{i}.py": f'"""Module {i}."""\n\n\ndef helper_{i}(x: int) -> int:\n    return x * {i}\n' for i in range(40)})
    make_repo(root, files)
    openai_server.estimate_tokens = 3000  # the provider counts more than fits: 3000 + 200 reply > 2900
    openai_server.reply("short answer")
    result = ask("how is the budget computed?", cwd=root, server=openai_server, env={"MOONSHOT_API_KEY": KEY})
    assert result.returncode == 0, result.stderr
    assert [r.path for r in openai_server.requests][:2] == ["/v1/tokenizers/estimate-token-count", "/v1/chat/completions"]
    assert re.search(r"provider counts 3,000 prompt tokens; shrinking the repository from [\d,]+ to [\d,]+ tokens", result.stderr), result.stderr
    calibration = json.loads((Path(os.environ["KIMICODE_HOME"]) / "data" / "calibration.json").read_text())
    assert len(calibration["models"]["tiny-model"]["samples"]) >= 1


def test_the_reply_shelf_bounds_the_answer(tmp_path: Path, openai_server: OpenAIServer) -> None:
    work = plain_dir(tmp_path, config=FAST + "[ask]\nreply_tokens = 777\n")
    openai_server.reply("ok")
    result = ask("--no-repo", "q?", cwd=work, server=openai_server)
    assert result.returncode == 0, result.stderr
    assert sent(openai_server)["max_tokens"] == 777


def test_home_directory_is_not_packed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_files(home, {"notes.txt": "HOME-NOTES-MARKER\n"})
    result = ask("--dry-run", "what is here?", cwd=home, env={"HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "is your home directory, not a project: not packing it" in result.stderr
    assert "HOME-NOTES-MARKER" not in result.stdout
