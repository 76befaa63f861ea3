"""Every model call carries max_tokens from one policy (the model's reply cap), and a window the
provider names in a "too long" answer is learned (issue 11).

Each test reads the max_tokens of every request the loopback server received: ask, its
--remember summary, a chat turn, a compaction's summary, a review and its JSON retry.
"""

from __future__ import annotations

import json
from pathlib import Path

from kimicode.chat import open_conversation
from kimicode.config import load_settings
from tests.cli.runner import run_cli
from tests.cli.test_ask_cli import REPO
from tests.cli.test_ask_limits import MANY_FILES
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

CAP = 1_000  # the model's reply cap: below every task's own wish (16K ask, 4K fix record, 2K summary at 8K)
SMALL = f'model = "small"\nmax_retries = 0\ntimeout = 10.0\n[models."small"]\ncontext_window = 8192\nmax_output = {CAP}\n'
ERROR = 'Traceback (most recent call last):\n  File "app.py", line 2, in f\n    return x["id"]\nKeyError: \'id\'\n'


def _caps(server: OpenAIServer) -> list[int | None]:
    return [r.body.get("max_tokens") for r in server.chat_requests]


def test_ask_and_its_remember_summary_are_capped_by_the_model(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo = make_repo(tmp_path / "r", {"app.py": "def f(x):\n    return x['id']\n", ".kimicode.toml": SMALL})
    root = Path(repo.working_tree_dir)
    openai_server.reply("x has no 'id' key: use x.get('id').")
    openai_server.reply(json.dumps({"fixed": True, "root_cause": "a missing key", "fix": "use x.get('id')", "files": ["app.py"]}))
    result = run_cli("ask", "--remember", "why?", cwd=root, input=ERROR, env={"KIMICODE_BASE_URL": openai_server.base_url})
    assert result.returncode == 0, result.stderr
    assert "remembered KeyError" in result.stderr
    assert _caps(openai_server) == [CAP, CAP]  # the fix record asked 4,096 whatever the model's cap was


def test_a_chat_turn_and_a_compaction_summary_are_capped_by_the_model(tmp_path: Path, openai_server: OpenAIServer) -> None:
    write_files(tmp_path, {".kimicode.toml": SMALL})
    settings = load_settings(tmp_path, {"base_url": openai_server.base_url})
    with open_conversation(settings, tmp_path, use_repo=False, use_memory=False) as chat:
        assert any(w.startswith("a small window (8,192 tokens): the repository shelf holds") for w in chat.warnings)
        for n in range(3):
            chat.send(f"question {n}")
        openai_server.reply(json.dumps({"items": []}))
        chat.compact()
    assert len(openai_server.chat_requests) == 4
    assert _caps(openai_server) == [CAP] * 4  # the summary asked min(8,192, a quarter of the window) = 2,048


def test_a_review_and_its_json_retry_are_capped_by_the_model(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo = make_repo(tmp_path / "r", {"app.py": "def f(x):\n    return x\n", ".kimicode.toml": SMALL})
    root = Path(repo.working_tree_dir)
    write_files(root, {"app.py": "def f(x):\n    return x + 1\n"})
    repo.git.add("app.py")
    openai_server.reply("Looks fine to me!")  # not JSON: the review asks once more
    openai_server.reply(json.dumps({"findings": []}))
    result = run_cli("review", "--json", cwd=root, env={"KIMICODE_BASE_URL": openai_server.base_url})
    assert result.returncode == 0, result.stderr
    assert _caps(openai_server) == [CAP, CAP]


def test_a_window_the_provider_names_is_learned_and_the_retry_fits_it(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = tmp_path / "repo"
    make_repo(root, {**REPO, **MANY_FILES, ".kimicode.toml": "max_retries = 0\ntimeout = 10.0\n"})
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "mystery-model"}
    openai_server.context_overflow("This model's maximum context length is 4096 tokens. However, you requested 30000 tokens.")
    openai_server.reply("The budget is the window minus the reply.")
    result = run_cli("ask", "--json", "how is the budget computed?", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert "the provider says the model's window is 4,096 tokens; shrinking the repository" in result.stderr
    first, second = openai_server.chat_requests
    assert first.body["max_tokens"] > 2_048 and second.body["max_tokens"] == 2_048  # half the window at most
    assert len(json.dumps(second.body["messages"])) // 4 < 4_096 - 2_048
    planned = run_cli("ask", "--dry-run", "--json", "again?", cwd=root, env=env)  # the next command knows it
    assert json.loads(planned.stdout)["window"] == 4_096, planned.stderr


def test_a_chat_keeps_to_the_window_the_provider_named(tmp_path: Path, openai_server: OpenAIServer) -> None:
    write_files(tmp_path, {".kimicode.toml": SMALL.replace("8192", "16384")})
    settings = load_settings(tmp_path, {"base_url": openai_server.base_url})
    long = "The calculator adds numbers and keeps a running total for each session. " * 40
    with open_conversation(settings, tmp_path, use_repo=False, use_memory=False) as chat:
        for n in range(5):
            openai_server.reply(long)
            chat.send(f"question {n}: " + long)
        openai_server.context_overflow("This model's maximum context length is 4096 tokens. However, you requested 9000 tokens.")
        openai_server.reply(json.dumps({"items": []}))  # the compaction's summary
        openai_server.reply("short answer")
        exchange = chat.send("and now?")
        assert any("the provider says the model's window is 4,096 tokens" in note for note in exchange.notes)
        openai_server.reply("another")
        chat.send("one more?")
    retried, following = openai_server.chat_requests[-2], openai_server.chat_requests[-1]
    for sent in (retried, following):  # the retry and the next turn both fit the named window
        assert sent.body["max_tokens"] == CAP and len(json.dumps(sent.body["messages"])) // 4 + CAP < 4_096


def test_a_slow_local_model_gets_a_reply_cap_from_its_measured_pace(tmp_path: Path, openai_server: OpenAIServer) -> None:
    """No reply cap configured: the model is timed on first contact (one small request), and the first
    question's reply cap is already about half the time target at that pace, the question asking
    for an answer that ends before it; every answer refines the pace."""
    from kimicode.models import MIN_REPLY

    repo = make_repo(tmp_path / "r", {"app.py": "def f(x):\n    return x\n"})
    root = Path(repo.working_tree_dir)
    openai_server.model_entries = [{"id": "slow", "owned_by": "llamacpp"}]
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "slow"}
    # the timed request: 40 tokens in at least 2 s, at most ~20 tokens a second, as a 270M model on two busy cores
    openai_server.reply("a" * 160, usage={"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540},
                        chunk_delay=0.05)
    openai_server.reply("short")
    openai_server.reply("short")
    for question in ("what does f do?", "and now?"):
        result = run_cli("ask", question, cwd=root, env=env)
        assert result.returncode == 0, result.stderr
    timed, first, second = _caps(openai_server)
    assert timed == 33
    assert MIN_REPLY <= first <= 20 * 15 < 2_048  # 15 s (half the 30 s target) at <= 20 tokens/s
    assert second == first  # a short answer says nothing new about the pace
    words = int(first * 0.6)
    told = openai_server.chat_requests[1].body["messages"][-1]["content"]
    assert f"Answer briefly, in at most about {words} words: the answer is cut off after {first} tokens." in told
    listing = run_cli("models", "--json", cwd=root, env=env)
    (row,) = [r for r in json.loads(listing.stdout)["models"] if r["current"]]
    assert row["max_output"] == second and "tokens/s measured" in row["max_output_source"]
    assert 0 < row["speed"]["generate"] <= 20


def test_a_configured_reply_cap_wins_over_the_measured_pace(tmp_path: Path, openai_server: OpenAIServer) -> None:
    repo = make_repo(tmp_path / "r", {"app.py": "def f(x):\n    return x\n", ".kimicode.toml": SMALL})
    root = Path(repo.working_tree_dir)
    env = {"KIMICODE_BASE_URL": openai_server.base_url}
    openai_server.reply("a" * 160, usage={"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540},
                        chunk_delay=0.05)
    openai_server.reply("short")
    for question in ("what does f do?", "and now?"):
        assert run_cli("ask", question, cwd=root, env=env).returncode == 0
    assert _caps(openai_server) == [CAP, CAP]
