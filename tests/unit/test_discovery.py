"""Window discovery: what each kind of server says, probed over real HTTP, resolved and remembered."""

from __future__ import annotations

import json
import socket
import stat
import time
from pathlib import Path

import pytest

from kimicode import calibration
from kimicode.config import ModelOverride, Settings
from kimicode.discovery import learn_window, remember_template, resolve_limits, store
from kimicode.discovery.probe import (
    Figure,
    parse_models,
    parse_ollama_ps,
    parse_ollama_show,
    parse_props,
    probe_server,
)
from kimicode.discovery.resolve import LOCAL_FRESH, REMOTE_FRESH, learn_speed, should_probe
from kimicode.tokens import TokenCounter
from kimicode.urls import is_local, server_root, shown, without_userinfo
from tests.openai_server import OpenAIServer

LLAMA_CPP_MODELS = [{"id": "gemma", "object": "model", "owned_by": "llamacpp",
                     "meta": {"vocab_type": 2, "n_vocab": 262144, "n_ctx_train": 32768, "n_embd": 640}}]


# -- what each server says (pure parsers) ------------------------------------------------------

def test_llama_cpp_models_meta_prefers_the_allocated_window_over_the_trained_one() -> None:
    payload = {"data": [{"id": "q", "owned_by": "llamacpp", "meta": {"n_ctx": 32768, "n_ctx_train": 262144}}]}
    facts = parse_models(payload, "q")
    assert facts.window == Figure(32768, "server /models meta.n_ctx")
    assert facts.trained == Figure(262144, "server /models meta.n_ctx_train")
    assert facts.kind == "llama.cpp" and facts.served == ("q",)


def test_a_training_window_alone_is_no_window() -> None:
    facts = parse_models({"data": LLAMA_CPP_MODELS}, "any-name")  # llama.cpp serves its one model by any name
    assert facts.window is None and facts.trained is not None and facts.trained.value == 32768


def test_vllm_and_openrouter_listings() -> None:
    vllm = parse_models({"data": [{"id": "m", "owned_by": "vllm", "max_model_len": 16384}]}, "m")
    assert vllm.window == Figure(16384, "server /models max_model_len") and vllm.kind == "vllm"
    router = parse_models({"data": [{"id": "a/b", "context_length": 200000,
                                     "top_provider": {"max_completion_tokens": 64000}}]}, "a/b")
    assert router.window == Figure(200000, "server /models context_length")
    assert router.max_output == Figure(64000, "server /models top_provider.max_completion_tokens")
    assert parse_models({"data": [{"id": "other", "context_length": 5}]}, "a/b").window is None
    assert parse_models({"error": "nope"}, "m").served is None


def test_llama_cpp_props_and_ollama() -> None:
    assert parse_props({"default_generation_settings": {"n_ctx": 8192}, "total_slots": 1}) == Figure(8192, "server /props n_ctx")
    assert parse_props({"default_generation_settings": {}}) is None
    ps = {"models": [{"name": "gemma3:270m", "model": "gemma3:270m", "context_length": 4096}]}
    assert parse_ollama_ps(ps, "gemma3:270m") == Figure(4096, "server /api/ps context_length")
    assert parse_ollama_ps({"models": [{"model": "llama3:latest", "context_length": 2048}]}, "llama3").value == 2048  # type: ignore[union-attr]
    assert parse_ollama_ps(ps, "other") is None
    window, trained = parse_ollama_show({"parameters": "stop <end>\nnum_ctx 16384\ntemperature 1",
                                         "model_info": {"gemma3.context_length": 32768, "general.architecture": "gemma3"}})
    assert window == Figure(16384, "server /api/show num_ctx") and trained is not None and trained.value == 32768
    assert parse_ollama_show({"parameters": "temperature 1"})[0] is None


def test_urls() -> None:
    assert shown("http://user:s3cret@example.com:8080/v1") == "http://***@example.com:8080/v1"
    assert without_userinfo("http://user:s3cret@example.com:8080/v1") == "http://example.com:8080/v1"
    assert shown("http://example.com/v1") == "http://example.com/v1"
    assert server_root("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080"
    assert server_root("http://h/api") == "http://h/api"
    assert is_local("http://localhost:11434/v1") and not is_local("https://api.moonshot.ai/v1")


# -- probing real servers ------------------------------------------------------------------------

def test_probe_llama_cpp_server_reads_props(openai_server: OpenAIServer) -> None:
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    facts = probe_server(openai_server.base_url, "", "gemma")
    assert facts.reachable and facts.kind == "llama.cpp"
    assert facts.window == Figure(8192, "server /props n_ctx") and facts.trained.value == 32768  # type: ignore[union-attr]
    assert [r.path for r in openai_server.requests] == ["/v1/models", "/props"]


def test_probe_ollama_loaded_then_not_loaded(openai_server: OpenAIServer) -> None:
    openai_server.model_entries = [{"id": "gemma3:270m", "object": "model", "owned_by": "library"}]
    openai_server.routes[("GET", "/api/ps")] = {"models": [{"model": "gemma3:270m", "context_length": 4096}]}
    assert probe_server(openai_server.base_url, "", "gemma3:270m").window == Figure(4096, "server /api/ps context_length")
    openai_server.routes[("GET", "/api/ps")] = {"models": []}
    openai_server.routes[("POST", "/api/show")] = {"parameters": "num_ctx 8192", "model_info": {"gemma3.context_length": 32768}}
    facts = probe_server(openai_server.base_url, "", "gemma3:270m")
    assert facts.kind == "ollama" and facts.window == Figure(8192, "server /api/show num_ctx")
    openai_server.routes[("POST", "/api/show")] = {"parameters": "", "model_info": {"gemma3.context_length": 32768}}
    facts = probe_server(openai_server.base_url, "", "gemma3:270m")
    assert facts.window is not None and facts.window.value == 4096 and "not loaded" in facts.window.source
    assert not [r for r in openai_server.requests if r.path in ("/props", "/extras/tokenize/count")]  # Ollama said so


def test_probe_llama_cpp_python_learns_the_window_from_an_overflow_probe(openai_server: OpenAIServer) -> None:
    openai_server.model_entries = [{"id": "gemma", "object": "model", "owned_by": "me", "permissions": []}]
    openai_server.routes[("POST", "/extras/tokenize/count")] = {"count": 100}
    openai_server.context_window = 8192
    quiet = probe_server(openai_server.base_url, "", "gemma")
    assert quiet.kind == "llama-cpp-python" and quiet.window is None and quiet.overflow is None
    assert openai_server.chat_requests == []  # no overflow probe unless asked for
    facts = probe_server(openai_server.base_url, "", "gemma", oversize=True)
    assert facts.overflow == Figure(8192, "server 400 to an overflow probe")
    (probe,) = openai_server.chat_requests
    assert probe.body["max_tokens"] == 1 and probe.body["stream"] is False
    assert len(probe.body["messages"][0]["content"]) > 1_000_000  # longer than any local window (one token a digit here)


def test_a_refused_connection_fails_fast_after_one_retry() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        facts = probe_server(f"http://127.0.0.1:{port}/v1", "", "m")
    assert not facts.reachable and "connection refused" in facts.error
    assert facts.tried == [f"http://127.0.0.1:{port}/v1/models"]  # nothing else is tried on a server that is down
    assert facts.attempts == 2  # one quick retry, no backoff


def test_a_probe_never_shows_userinfo() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        facts = probe_server(f"http://user:s3cret@127.0.0.1:{sock.getsockname()[1]}/v1", "", "m")
    assert "s3cret" not in facts.error and "user" not in facts.error


# -- resolving ------------------------------------------------------------------------------------

def _settings(server: OpenAIServer | None, model: str = "gemma", **changes: object) -> Settings:
    changes.setdefault("base_url", server.base_url if server else "https://api.moonshot.ai/v1")
    return Settings(model=model, **changes)  # type: ignore[arg-type]


def test_server_window_is_used_and_remembered_privately(openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    url = openai_server.base_url.replace("http://", "http://user:s3cret@")
    spec, sources = resolve_limits(_settings(None, base_url=url), tmp_path)
    assert (spec.context_window, spec.max_output, spec.known) == (8192, 2048, True)
    assert sources.window == "server /props n_ctx" and sources.max_output.startswith("default: a quarter")
    assert sources.price.startswith("none") and sources.notices == ()
    saved = store.path(tmp_path)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert "s3cret" not in saved.read_text() and openai_server.base_url in saved.read_text()


def test_config_window_wins_and_nothing_is_asked(openai_server: OpenAIServer, tmp_path: Path) -> None:
    settings = _settings(openai_server, models={"gemma": ModelOverride(context_window=4096)},
                         sources={"models.gemma.context_window": "/x/config.toml"})
    spec, sources = resolve_limits(settings, tmp_path)
    assert spec.context_window == 4096 and sources.window == "config (/x/config.toml)"
    assert openai_server.requests == []


def test_table_model_on_a_remote_endpoint_is_not_probed(tmp_path: Path) -> None:
    spec, sources = resolve_limits(_settings(None, model="kimi-k2.6"), tmp_path)
    assert spec.context_window == 262_144 and sources.window == "table" and sources.facts is None
    assert sources.price == "table"


def test_unknown_window_is_a_conservative_guess_with_a_notice(openai_server: OpenAIServer, tmp_path: Path) -> None:
    spec, sources = resolve_limits(_settings(openai_server, model="mystery"), tmp_path)
    assert spec.context_window == 32_768 and not spec.known and sources.window == "default (a guess)"
    (notice,) = sources.notices
    assert "mystery: window unknown" in notice and 'set [models."mystery"] context_window' in notice


def test_a_training_window_caps_the_guess(openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.model_entries = [{"id": "small", "owned_by": "llamacpp", "meta": {"n_ctx_train": 2048}}]
    spec, _ = resolve_limits(_settings(openai_server, model="small"), tmp_path)
    assert spec.context_window == 2048


def test_a_learned_window_lowers_the_server_figure_until_the_server_changes(openai_server: OpenAIServer,
                                                                            tmp_path: Path) -> None:
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    settings = _settings(openai_server)
    resolve_limits(settings, tmp_path)
    learn_window(tmp_path, settings.base_url, "gemma", 4096, "context size (4096 tokens)")
    spec, sources = resolve_limits(settings, tmp_path)
    assert spec.context_window == 4096 and sources.window.startswith("learned from a 400")
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 16384}}  # restarted
    spec, _ = resolve_limits(settings, tmp_path)
    assert spec.context_window == 4096  # what it said a moment ago still holds (LOCAL_FRESH)
    spec, sources = resolve_limits(settings, tmp_path, probe=True)  # asked again (later, or by doctor and models)
    assert spec.context_window == 16384 and sources.window == "server /props n_ctx"


def test_llama_cpp_python_window_is_probed_once_then_remembered(openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.model_entries = [{"id": "gemma", "object": "model", "owned_by": "me", "permissions": []}]
    counter = TokenCounter()
    # its tokenizer counts 20% more than ours, like Gemma's on code
    openai_server.routes[("POST", "/extras/tokenize/count")] = lambda body: {"count": round(counter.raw(body["input"]) * 1.2)}
    openai_server.context_window = 8192
    spec, sources = resolve_limits(_settings(openai_server), tmp_path)
    assert spec.context_window == 8192 and sources.window.startswith("server 400 to an overflow probe")
    assert calibration.factor(tmp_path, "gemma") == 1.2  # measured on the server's own tokenizer
    counted = len(openai_server.requests)
    spec, _ = resolve_limits(_settings(openai_server), tmp_path, probe=True)  # asked again (doctor, or minutes later)
    # the overflow probe and the chat-template check (one token of answer each) and the timed request
    # (discovery.speed), none made again
    assert [r.body["max_tokens"] for r in openai_server.chat_requests] == [1, 1, 33]
    assert spec.context_window == 8192 and spec.system_role  # the loopback server counts the system message
    assert len([r for r in openai_server.requests[counted:] if r.path == "/extras/tokenize/count"]) == 1  # nor measured


def test_a_server_that_is_down_keeps_what_was_remembered(openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    settings = _settings(openai_server)
    resolve_limits(settings, tmp_path)
    openai_server.close()
    spec, sources = resolve_limits(settings, tmp_path, probe=True)
    assert spec.context_window == 8192 and sources.facts is not None and not sources.facts.reachable


def test_a_local_server_is_asked_again_only_after_a_few_minutes(openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    settings = _settings(openai_server)
    resolve_limits(settings, tmp_path)
    asked = len(openai_server.requests)
    spec, sources = resolve_limits(settings, tmp_path)  # `ask --dry-run` right after: nothing asked
    assert len(openai_server.requests) == asked and spec.context_window == 8192 and sources.facts is None
    old = store.Remembered(server={"window": 8192, "at": time.time() - LOCAL_FRESH - 1})
    assert should_probe(settings, old, time.time())
    assert not should_probe(settings, store.Remembered(server={"window": 8192, "at": time.time() - 5}), time.time())


def test_remote_unknown_models_are_asked_at_most_once_a_day() -> None:
    settings = Settings(model="deepseek-chat", base_url="https://api.deepseek.com/v1")
    assert should_probe(settings, store.Remembered(), time.time())
    fresh = store.Remembered(server={"window": None, "at": time.time() - 60})
    assert not should_probe(settings, fresh, time.time())
    stale = store.Remembered(server={"window": None, "at": time.time() - REMOTE_FRESH - 1})
    assert should_probe(settings, stale, time.time())
    assert not should_probe(Settings(model="kimi-k3"), store.Remembered(), time.time())


def test_a_template_that_drops_the_system_message_is_a_notice(tmp_path: Path) -> None:
    settings = Settings(model="kimi-k3")
    remember_template(tmp_path, settings.base_url, "kimi-k3", system_kept=False, prompt_tokens=12, expected=300)
    _, sources = resolve_limits(settings, tmp_path)
    assert any("drops the system message" in n for n in sources.notices)


def test_a_corrupt_store_is_ignored(tmp_path: Path) -> None:
    store.path(tmp_path).parent.mkdir(parents=True)
    store.path(tmp_path).write_text("{not json")
    assert store.recall(tmp_path, "http://x/v1", "m") == store.Remembered()
    store.remember(tmp_path, "http://x/v1", "m", learned={"window": 1000})
    assert json.loads(store.path(tmp_path).read_text())["endpoints"]["http://x/v1"]["m"]["learned"]["window"] == 1000


@pytest.mark.parametrize("message, body, expected", [
    ("This model's maximum context length is 8192 tokens. However, you requested 9000 tokens", None, 8192),
    ("the request exceeds the available context size, try increasing it",
     {"error": {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 9000, "n_ctx": 4096}}, 4096),
    ("request (9000 tokens) exceeds the available context size (8192 tokens), try increasing it", None, 8192),
    ("Invalid request: Your request exceeded model token limit: 262144", None, 262144),
    ("the request exceeds the available context size, try increasing it", None, None),
])
def test_the_window_a_refusal_names(message: str, body: object, expected: int | None) -> None:
    from kimicode.llm_failures import overflow_limit

    assert overflow_limit(message, body) == expected


def test_the_servers_tokenizer_is_measured_on_code(openai_server: OpenAIServer) -> None:
    from kimicode.discovery.tokenizer import parse_count, sample_texts, tokenize_request

    texts = sample_texts()
    assert len(texts) == 3 and all(TokenCounter().raw(t) > calibration.MIN_SAMPLE_TOKENS for t in texts)
    assert tokenize_request("ollama", "http://h", "m", "x") is None
    assert tokenize_request("llama.cpp", "http://h", "m", "x") == ("http://h/tokenize", {"content": "x"})
    assert parse_count({"tokens": [1, 2, 3]}) == 3 and parse_count({"count": 7, "tokens": []}) == 7
    assert parse_count({"error": "x"}) is None
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    openai_server.routes[("POST", "/tokenize")] = lambda body: {"tokens": [0] * (len(body["content"]) // 3)}
    facts = probe_server(openai_server.base_url, "", "gemma", measure=lambda text: len(text) // 4)
    assert [round(theirs / ours, 2) for ours, theirs in facts.token_samples] == [1.33, 1.33, 1.33]


def test_a_data_dir_that_cannot_be_written_does_not_stop_discovery(openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data folder should be")
    spec, sources = resolve_limits(_settings(openai_server), blocked)
    assert spec.context_window == 8192 and sources.window == "server /props n_ctx"


def test_the_reply_cap_and_prompt_of_a_local_model_follow_its_measured_speed(openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.model_entries = LLAMA_CPP_MODELS
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    settings = _settings(openai_server)
    openai_server.reply("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", chunk_size=3, prefill=0.5, chunk_delay=0.02,
                        usage={"prompt_tokens": 50, "completion_tokens": 17, "total_tokens": 67})
    spec, sources = resolve_limits(settings, tmp_path)  # first contact: one timed request
    (timed,) = openai_server.chat_requests
    assert timed.body["max_tokens"] == 33 and timed.body["stream"] is True
    speed = store.recall(tmp_path, settings.base_url, "gemma").speed
    assert speed is not None and speed["source"] == "a timed request" and 0 < speed["prefill"] <= 100  # 50 in >= 0.5 s
    assert spec.prefill_rate == speed["prefill"] and spec.prompt_cap is not None and spec.prompt_cap <= 100 * 30
    store.remember(tmp_path, settings.base_url, "gemma", speed=None)
    learn_speed(tmp_path, settings.base_url, "gemma", 4000, 40.0, 101, 10.0)  # 100 prompt, 10 answer tokens/s
    learn_speed(tmp_path, settings.base_url, "gemma", 10, 1.0, 5, 1.0)  # too short to say anything: ignored
    speed = store.recall(tmp_path, settings.base_url, "gemma").speed
    assert speed is not None and speed["generate"] == 10.0 and speed["prefill"] == 100.0
    spec, sources = resolve_limits(settings, tmp_path)
    # 15 s of answer is 150 tokens, under the floor; 4.4 s of reading is 440, under the prompt's floor
    assert (spec.max_output, spec.prompt_cap) == (256, 1024) and "10.0 tokens/s" in sources.max_output
    learn_speed(tmp_path, settings.base_url, "gemma", 4000, 40.0, 1001, 10.0)  # 100 tokens/s: blended to 55
    spec, _ = resolve_limits(settings, tmp_path)
    assert spec.max_output == 825 and spec.prompt_cap == 100 * 15  # 15 s each
    learn_speed(tmp_path, settings.base_url, "gemma", 400_000, 40.0, 100_001, 10.0)  # a fast server
    learn_speed(tmp_path, settings.base_url, "gemma", 400_000, 40.0, 100_001, 10.0)
    spec, _ = resolve_limits(settings, tmp_path)
    assert spec.max_output == 2048 and spec.prompt_cap == 8192 - 2048  # the window's share and room at most
