"""`kimicode review` in process (click's CliRunner) against the loopback server.

Each test checks both sides: what the server received and what the user saw (stdout,
stderr, exit code). The end-to-end runs through a real `git commit` are in
tests/e2e/test_review_hook.py.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import git
import pytest
from click.testing import CliRunner, Result

from kimicode.cli import cli
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

AWS = "AKIAIOSFODNN7EXAMPLE"
FAST = "max_retries = 0\ntimeout = 5.0\n"
BASE = {
    ".kimicode.toml": FAST,
    "calc/ops.py": "def divide(a: float, b: float) -> float:\n    return a / b\n",
    "calc/main.py": "from calc.ops import divide\n\n\ndef run() -> float:\n    return divide(6, 3)\n",
}
ERROR = {"file": "calc/main.py", "line": 5, "severity": "error", "message": "Always divides by zero.", "suggestion": "Use 3."}
WARNING = {"file": "calc/main.py", "line": 5, "severity": "warning", "message": "Magic numbers.", "suggestion": ""}


def findings(*items: dict[str, Any]) -> str:
    return json.dumps({"findings": list(items)})


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> git.Repo:
    repo = make_repo(tmp_path / "repo", BASE)
    write_files(Path(repo.working_tree_dir), {"calc/main.py": BASE["calc/main.py"].replace("divide(6, 3)", "divide(6, 0)")})
    repo.git.add("-A")
    monkeypatch.chdir(repo.working_tree_dir)
    return repo


@pytest.fixture
def server(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    monkeypatch.setenv("KIMICODE_BASE_URL", openai_server.base_url)
    return openai_server


def review(*args: str) -> Result:
    return CliRunner().invoke(cli, ["review", *args], catch_exceptions=False)


def sent(server: OpenAIServer, index: int = -1) -> dict[str, Any]:
    body = server.chat_requests[index].body
    assert isinstance(body, dict)
    return body


def skip_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "review skipped" in line or "review required" in line]


# -- verdicts ---------------------------------------------------------------------------------


def test_a_clean_review_passes(repo: git.Repo, server: OpenAIServer) -> None:
    server.reply(findings())
    result = review()
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "review passed: no findings" in result.stderr
    user = sent(server)["messages"][1]["content"]
    assert '<diff path="calc/main.py"' in user and "return divide(6, 0)" in user
    assert '<file path="calc/ops.py" mode="outline">' in user  # the imported module
    assert "response_format" not in sent(server)


def test_an_error_finding_blocks_and_is_shown(repo: git.Repo, server: OpenAIServer) -> None:
    server.reply(findings(ERROR, WARNING))
    result = review("--staged")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "calc/main.py"
    assert lines[1].split()[:3] == ["5", "error", "Always"]
    assert "suggestion: Use 3." in result.stdout and "Magic numbers." in result.stdout
    assert "commit blocked: 1 error at or above review.block_on = error" in result.stderr
    assert "git commit --no-verify" in result.stderr


def test_block_on_from_flag_and_config(repo: git.Repo, server: OpenAIServer) -> None:
    server.reply(findings(WARNING))
    result = review()
    assert result.exit_code == 0 and "1 warning, below review.block_on = error" in result.stderr
    server.reply(findings(WARNING))
    assert review("--block-on", "warning").exit_code == 1
    Path(".kimicode.toml").write_text(FAST + '[review]\nblock_on = "warning"\n')
    server.reply(findings(WARNING))
    assert review().exit_code == 1


def test_json_output(repo: git.Repo, server: OpenAIServer) -> None:
    write_files(Path.cwd(), {"img.png": b"\x89PNG\x00"})
    repo.git.add("-A")
    server.reply(findings(ERROR))
    result = review("--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["status"] == "blocked" and data["blocking"] == 1 and data["parts"] == 1
    assert data["findings"] == [ERROR]
    assert data["skipped"] == [{"file": "img.png", "reason": "binary"}]
    assert data["usage"]["requests"] == 1 and data["model"] == "kimi-k2.7-code"


def test_nothing_staged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: OpenAIServer) -> None:
    repo = make_repo(tmp_path / "clean", BASE)
    monkeypatch.chdir(repo.working_tree_dir)
    result = review()
    assert result.exit_code == 0 and "nothing to review: no staged changes" in result.stderr
    assert server.chat_requests == []


# -- local checks -----------------------------------------------------------------------------


def test_a_staged_secret_blocks_without_a_request(repo: git.Repo, server: OpenAIServer) -> None:
    Path("calc/keys.py").write_text(f'AWS_ACCESS_KEY_ID = "{AWS}"\n')
    repo.git.add("-A")
    result = review("--json")
    assert result.exit_code == 1
    assert server.requests == []
    data = json.loads(result.stdout)
    assert data["status"] == "blocked" and data["reason"] == "secrets"
    assert data["secrets"] == [{"file": "calc/keys.py", "line": 1, "kind": "AWS Access Key", "commit": None}]
    assert AWS not in result.stdout + result.stderr
    text = review()
    assert "calc/keys.py:1  AWS Access Key" in text.stdout
    assert "commit blocked: 1 secret in the changes; nothing was sent" in text.stderr


# -- failing open -----------------------------------------------------------------------------


def test_no_key_skips_with_one_line(repo: git.Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIMICODE_BASE_URL", "https://api.example.invalid/v1")
    result = review()
    assert result.exit_code == 0
    assert skip_lines(result) == ["kimicode: review skipped: no API key (set MOONSHOT_API_KEY or KIMICODE_API_KEY)"]
    required = review("--require")
    assert required.exit_code == 1
    assert "review required but not done: no API key" in required.stderr
    Path(".kimicode.toml").write_text(FAST + "[review]\nrequire = true\n")
    assert json.loads(review("--json").stdout)["status"] == "failed"


def test_no_network_skips(repo: git.Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("KIMICODE_BASE_URL", f"http://127.0.0.1:{port}/v1")
    result = review()
    assert result.exit_code == 0
    assert len(skip_lines(result)) == 1 and "cannot reach" in skip_lines(result)[0]
    assert review("--require").exit_code == 1


def test_a_server_error_fails_open_unless_required(repo: git.Repo, server: OpenAIServer) -> None:
    server.fail(500)
    result = review()
    assert result.exit_code == 0 and "review skipped: the API answered 500" in result.stderr
    server.fail(503)
    assert review("--require").exit_code == 1


def test_invalid_json_is_retried_once_in_json_mode(repo: git.Repo, server: OpenAIServer) -> None:
    server.reply("Looks fine to me!", reasoning="let me think")
    server.reply(findings(ERROR))
    result = review()
    assert result.exit_code == 1
    assert "not valid findings JSON" in result.stderr and "asking once more" in result.stderr
    assert len(server.chat_requests) == 2
    retry = sent(server, 1)
    assert retry["response_format"] == {"type": "json_object"}
    assistant, correction = retry["messages"][2], retry["messages"][3]
    assert assistant == {"role": "assistant", "content": "Looks fine to me!", "reasoning_content": "let me think"}
    assert correction["role"] == "user" and "could not be used" in correction["content"]


def test_invalid_json_twice_fails_open_unless_required(repo: git.Repo, server: OpenAIServer) -> None:
    server.reply("no json")
    server.reply('{"findings": [{"file": "x"}]}')
    result = review()
    assert result.exit_code == 0
    assert skip_lines(result) == ["kimicode: review skipped: the model did not return valid findings JSON twice (finding 1 has no message)"]
    server.reply("no json")
    server.reply("still none")
    assert review("--require").exit_code == 1


def test_an_endpoint_without_response_format_still_gets_its_retry(repo: git.Repo, server: OpenAIServer) -> None:
    server.reply("no json")
    server.fail(400, {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}})
    server.reply(findings(WARNING))
    result = review()
    assert result.exit_code == 0 and "1 warning" in result.stderr
    assert [("response_format" in r.body) for r in server.chat_requests] == [False, True, False]


def test_a_cut_stream_is_retried(repo: git.Repo, server: OpenAIServer) -> None:
    server.cut_stream(after_chunks=3, content='{"findings": [{"file": "calc/main.py", "line": 5, "severity": "error"')
    server.reply(findings(ERROR))
    assert review().exit_code == 1
    assert len(server.chat_requests) == 2


# -- large diffs ------------------------------------------------------------------------------


def _many_files(repo: git.Repo) -> None:
    """Six new files: about 7,000 tokens of diff, several parts with --budget 2500."""
    write_files(Path.cwd(), {f"mod/m{i}.py": "".join(f"v{i}_{j} = {j}\n" for j in range(60)) for i in range(6)})
    repo.git.add("-A")


def test_a_large_diff_is_reviewed_in_parts_and_merged(repo: git.Repo, server: OpenAIServer) -> None:
    _many_files(repo)
    answers = [findings(dict(ERROR, file=f"mod/m{i}.py", line=1, message=f"Problem {i}.")) for i in range(20)]
    for answer in answers:
        server.reply(answer)
    result = review("--budget", "2500", "--json")
    data = json.loads(result.stdout)
    parts = data["parts"]
    assert parts > 2 and len(server.chat_requests) == parts
    assert f"split by file into {parts} parts" in result.stderr
    assert len(data["findings"]) == parts and result.exit_code == 1
    for number, request in enumerate(server.chat_requests, start=1):
        assert f"This is part {number} of {parts}" in request.body["messages"][1]["content"]


def test_a_part_that_fails_does_not_hide_the_others_findings(repo: git.Repo, server: OpenAIServer) -> None:
    _many_files(repo)
    server.reply(findings(dict(ERROR, file="mod/m0.py", line=1)))
    server.fail(500)
    result = review("--budget", "2500")
    assert result.exit_code == 1 and "commit blocked: 1 error" in result.stderr
    assert len(server.chat_requests) == 2  # after a failed request the other parts are not sent


def test_a_partial_review_fails_open_and_says_so(repo: git.Repo, server: OpenAIServer) -> None:
    _many_files(repo)
    server.reply(findings(WARNING))
    server.fail(500)
    result = review("--budget", "2500", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["status"] == "skipped" and data["reason"].startswith(f"1 of {data['parts']} parts reviewed; part 2 of")
    assert data["failures"][-1] == f"parts 3 to {data['parts']} of {data['parts']} not sent"
    assert data["findings"] == [WARNING]


def test_a_context_overflow_replans_smaller(repo: git.Repo, server: OpenAIServer) -> None:
    server.context_overflow()
    server.reply(findings())
    server.reply(findings())
    result = review()
    assert result.exit_code == 0
    assert "too long; shrinking the review budget from" in result.stderr
    assert len(server.chat_requests) >= 2


# -- other modes and usage --------------------------------------------------------------------


def test_range_and_files_modes(repo: git.Repo, server: OpenAIServer) -> None:
    repo.git.commit("-m", "divide by zero", "--no-verify")
    server.reply(findings(ERROR))
    result = review("--range", "HEAD~1..HEAD")
    assert result.exit_code == 1 and "blocked: 1 error" in result.stderr and "--no-verify" not in result.stderr
    assert "Changes to review (HEAD~1..HEAD)" in sent(server)["messages"][1]["content"]
    server.reply(findings())
    result = review("--files", "calc/ops.py")
    assert result.exit_code == 0
    user = sent(server)["messages"][1]["content"]
    assert '<diff path="calc/ops.py" status="file" added="2" removed="0">' in user


def test_pre_push_from_the_pre_commit_framework_reviews_the_range(repo: git.Repo, server: OpenAIServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo.git.commit("-m", "divide by zero", "--no-verify")
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", repo.commit("HEAD~1").hexsha)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", repo.head.commit.hexsha)
    server.reply(findings())
    assert review().exit_code == 0
    assert "return divide(6, 0)" in sent(server)["messages"][1]["content"]


def test_dry_run_needs_no_key_and_sends_nothing(repo: git.Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIMICODE_BASE_URL", "https://api.example.invalid/v1")
    result = review("--dry-run")
    assert result.exit_code == 0
    assert "----- part 1 of 1: system -----" in result.stdout
    assert "part 1: ~" in result.stdout and "context: calc/main.py (full), calc/ops.py (outline)" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("--staged", "--range", "a..b"), "cannot be combined"),
    (("calc/ops.py",), "need --files"),
    (("--files",), "needs at least one PATH"),
    (("--range", "nope..HEAD"), "unknown revision"),
    (("--files", "missing.py"), "No such file"),
    (("--budget", "100", "--dry-run"), "leaves no room"),
])
def test_usage_errors_exit_2(repo: git.Repo, args: tuple[str, ...], message: str) -> None:
    result = review(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = review()
    assert result.exit_code == 2 and "not inside a git repository" in result.stderr
