"""A model on this machine answers within a time target: its speed is timed on first contact, and
the reply cap and the packed prompt of every request follow it (issue 11); Kimi's requests do not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kimicode.discovery import store
from kimicode.models import MIN_PROMPT, MIN_REPLY
from tests.cli.runner import run_cli
from tests.cli.test_ask_limits import MANY_FILES
from tests.openai_server import OpenAIServer
from tests.repos import make_repo

LLAMA_CPP = [{"id": "slow", "object": "model", "owned_by": "llamacpp"}]
COUNT = " ".join(str(n) for n in range(1, 41))


def _local(server: OpenAIServer) -> dict[str, str]:
    server.model_entries = LLAMA_CPP
    server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    return {"KIMICODE_BASE_URL": server.base_url, "KIMICODE_MODEL": "slow"}


def _data_dir() -> Path:
    return Path(os.environ["KIMICODE_HOME"]) / "data"


def _planned(stdout: str) -> int:
    return sum(tokens for shelf, tokens in json.loads(stdout)["shelves"].items() if shelf != "reply")


def test_the_first_question_to_a_local_model_is_sized_to_its_timed_speed(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = Path(make_repo(tmp_path / "r", MANY_FILES).working_tree_dir)
    env = _local(openai_server)
    # the timed request: 200 prompt tokens read in >= 2 s (<= 100 a second), 40 written in >= 0.8 s
    openai_server.reply(COUNT, chunk_size=3, prefill=2.0, chunk_delay=0.02,
                        usage={"prompt_tokens": 200, "completion_tokens": 40, "total_tokens": 240})
    openai_server.reply("f returns x.")
    result = run_cli("ask", "--json", "what does the code do?", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    timed, asked = openai_server.chat_requests
    assert timed.body["max_tokens"] == 33
    planned = _planned(result.stdout)
    # at <= 100 tokens a second, at most 30 s of reading: 3,000 tokens, far below the 6K the window leaves
    assert MIN_PROMPT // 2 < planned <= 3_000 and MIN_REPLY <= asked.body["max_tokens"] < 2_048
    line = next(line for line in result.stderr.splitlines() if "local model reads" in line)
    packed = int(line.split("packed ")[1].split(" tokens")[0].replace(",", ""))
    assert abs(packed - planned) <= 8 and f"(of a 8,192-token window) and at most {asked.body['max_tokens']:,} of answer" in line
    speed = store.recall(_data_dir(), openai_server.base_url, "slow").speed
    assert speed is not None and speed["prefill"] <= 100


def test_with_no_time_target_a_local_model_is_sized_by_its_window(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = Path(make_repo(tmp_path / "r", MANY_FILES).working_tree_dir)
    (Path(os.environ["KIMICODE_HOME"]) / "config").mkdir(parents=True, exist_ok=True)
    (Path(os.environ["KIMICODE_HOME"]) / "config" / "config.toml").write_text("[local]\ntarget_seconds = 0\n")
    openai_server.reply("f returns x.")
    result = run_cli("ask", "--json", "what does the code do?", cwd=root, env=_local(openai_server))
    assert result.returncode == 0, result.stderr
    (asked,) = openai_server.chat_requests  # nothing timed
    assert asked.body["max_tokens"] == 2_048 and _planned(result.stdout) > 5_000
    assert "local model reads" not in result.stderr


def test_kimi_requests_do_not_change_with_a_measured_speed(tmp_path: Path, remote_server: OpenAIServer) -> None:
    root = Path(make_repo(tmp_path / "r", MANY_FILES).working_tree_dir)
    env = {"KIMICODE_BASE_URL": remote_server.base_url, "MOONSHOT_API_KEY": "sk-test", "KIMICODE_MODEL": "kimi-k2.7-code"}
    for _ in range(2):
        remote_server.reply("f returns x.")
    first = run_cli("ask", "what does the code do?", cwd=root, env=env)
    # as slow as a local model on a busy machine: nothing Kimi sends may follow it
    store.remember(_data_dir(), remote_server.base_url, "kimi-k2.7-code", speed={"prefill": 20.0, "generate": 5.0})
    second = run_cli("ask", "what does the code do?", cwd=root, env=env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    before, after = remote_server.chat_requests
    assert before.body == after.body and before.body["max_tokens"] == 16_384
    assert "local model reads" not in second.stderr


def test_a_slow_local_review_begins_no_part_that_cannot_end_before_the_deadline(tmp_path: Path, openai_server: OpenAIServer) -> None:
    big = {f"mod{n}.py": "".join(f"def handler_{n}_{i}(request, context):\n    return request.value_{i} * context.scale_{n}\n\n"
                                   for i in range(20)) for n in range(3)}
    repo = make_repo(tmp_path / "r", {"README.md": "x\n"})
    root = Path(repo.working_tree_dir)
    for name, text in big.items():
        (root / name).write_text(text)
    repo.git.add(A=True)
    env = _local(openai_server)
    config = Path(os.environ["KIMICODE_HOME"]) / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text("[review]\ndeadline = 30.0\n")
    # measured earlier: 50 prompt and 10 answer tokens a second, so a part of ~1K tokens takes ~45 s
    store.remember(_data_dir(), openai_server.base_url, "slow", speed={"prefill": 50.0, "generate": 10.0})
    openai_server.reply(json.dumps({"findings": []}))
    result = run_cli("review", "--json", cwd=root, env=env)
    assert result.stdout.startswith("{"), result.stderr
    report = json.loads(result.stdout)
    assert report["parts"] >= 2, result.stderr
    sent = [r for r in openai_server.chat_requests if r.body.get("max_tokens") != 33]
    assert len(sent) == 1, result.stderr + result.stdout  # the first part only
    assert sent[0].body["max_tokens"] == MIN_REPLY
    assert f"part 1 of {report['parts']}: ~" in result.stderr and " s…" in result.stderr  # progress, with the estimate
    assert f"parts 2 to {report['parts']} of {report['parts']} not sent: at this model's speed" in result.stdout
    assert "would not end within review.deadline = 30 s" in result.stdout
