"""`kimicode models`, `kimicode config path|init`, shell completion."""

from __future__ import annotations

import dataclasses
import json
import re
import stat
from pathlib import Path

from kimicode import calibration
from kimicode.config import Settings, load_settings
from kimicode.locations import user_locations
from tests.cli.runner import run_cli, run_process
from tests.openai_server import OpenAIServer
from tests.repos import make_repo


def test_models_lists_the_configured_model_from_its_server_then_config_and_table(tmp_path: Path,
                                                                                  openai_server: OpenAIServer,
                                                                                  isolated_home: Path) -> None:
    openai_server.model_entries = [{"id": "gemma", "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}}]
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    make_repo(tmp_path, {".kimicode.toml": '[models."qwen-local"]\ncontext_window = 32768\nprice_input = 0.1\n'})
    for _ in range(3):
        calibration.record(isolated_home / "data", "gemma", 5_000, 5_500)
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "gemma"}
    result = run_cli("models", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["endpoint"] == openai_server.base_url and data["server_kind"] == "llama.cpp" and data["served"] == ["gemma"]
    rows = {r["name"]: r for r in data["models"]}
    assert [r["name"] for r in data["models"]][:2] == ["gemma", "qwen-local"]
    gemma = rows["gemma"]
    assert gemma["current"] and (gemma["window"], gemma["window_source"]) == (8192, "server /props n_ctx")
    assert gemma["max_output"] == 2048 and gemma["price_source"].startswith("none")
    assert gemma["calibration"]["factor"] == 1.1 and len(gemma["calibration"]["samples"]) == 3
    qwen = rows["qwen-local"]
    assert (qwen["window"], qwen["window_source"]) == (32768, f"config ({tmp_path.resolve() / '.kimicode.toml'})")
    assert qwen["price"]["input"] == 0.1 and qwen["price_source"].startswith("config")
    assert (rows["kimi-k3"]["window"], rows["kimi-k3"]["window_source"], rows["kimi-k3"]["price_source"]) == (1_048_576, "table", "table")
    # only the configured model is asked (and, on this machine, timed once: discovery.speed)
    assert [r.path for r in openai_server.requests] == ["/v1/models", "/props", "/v1/chat/completions"]

    text = run_cli("models", cwd=tmp_path, env=env)
    assert re.search(r"^\*\s+gemma\s+8,192\s+server /props n_ctx\s+2,048", text.stdout, re.MULTILINE), text.stdout
    assert "gemma: x1.10; 3 samples (ratios 1.10-1.10)" in text.stdout


def test_models_shows_what_was_remembered_when_the_server_is_down(tmp_path: Path, openai_server: OpenAIServer) -> None:
    openai_server.model_entries = [{"id": "gemma", "owned_by": "llamacpp"}]
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 4096}}
    env = {"KIMICODE_BASE_URL": openai_server.base_url, "KIMICODE_MODEL": "gemma"}
    assert run_cli("models", cwd=tmp_path, env=env).returncode == 0
    openai_server.close()
    result = run_cli("models", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "not reached: cannot connect" in result.stdout and "connection refused" in result.stdout
    assert re.search(r"^\*\s+gemma\s+4,096\s+server /props n_ctx", result.stdout, re.MULTILINE)


def test_config_path_names_both_files(tmp_path: Path, isolated_home: Path) -> None:
    make_repo(tmp_path, {".kimicode.toml": "[pack]\nbudget = 1000\n"})
    data = json.loads(run_cli("config", "path", "--json", cwd=tmp_path).stdout)
    assert data == [{"scope": "user", "path": str(isolated_home / "config" / "config.toml"), "exists": False},
                    {"scope": "repo", "path": str(tmp_path.resolve() / ".kimicode.toml"), "exists": True}]
    text = run_cli("config", "path", cwd=tmp_path).stdout
    assert f"user  {isolated_home / 'config' / 'config.toml'}  (missing)" in text and "(exists)" in text


def test_config_init_writes_a_private_commented_file_and_never_overwrites(tmp_path: Path, isolated_home: Path) -> None:
    target = isolated_home / "config" / "config.toml"
    first = run_cli("config", "init", cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.strip() == f"wrote {target}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert load_settings(None) == Settings()  # everything is commented out: the defaults hold
    target.write_text('model = "mine"\n')
    again = run_cli("config", "init", cwd=tmp_path)
    assert again.returncode == 1 and "already exists; not overwritten" in again.stderr
    assert target.read_text() == 'model = "mine"\n'


def test_the_template_names_every_setting_and_each_uncommented_value_is_valid(tmp_path: Path) -> None:
    from kimicode.commands.config_cmd import TEMPLATE

    text = TEMPLATE.read_text(encoding="utf-8")
    # uncomment "# key = value" lines (not the prose ones): the result must load as a config
    active = re.sub(r"^# (\[models\.|[a-z_]+ = )", r"\1", text, flags=re.MULTILINE)
    locations = dataclasses.replace(user_locations(), config_dir=tmp_path)
    (tmp_path / "config.toml").write_text(active)
    loaded = load_settings(None, env={}, locations=locations)
    assert dataclasses.replace(loaded, models={}, sources={}) == Settings()  # the commented values are the defaults
    assert "gemma3-270m" in loaded.models
    sections = ("pack", "ask", "review", "local", "memory", "tools", "edits", "mcp")
    for section in ("", *sections):
        holder = getattr(Settings(), section) if section else Settings()
        for field in dataclasses.fields(holder):
            if field.name not in ("sources", "warnings", "models", "retention", "servers", *sections):
                assert f"# {field.name} = " in text, field.name


def test_shell_completion_as_the_readme_says(tmp_path: Path) -> None:
    # completion is the real entry point's business (click reads the variable named after the program)
    script = run_process(cwd=tmp_path, env={"_KIMICODE_COMPLETE": "bash_source"})
    assert "_kimicode_completion()" in script.stdout and "complete -o nosort -F _kimicode_completion kimicode" in script.stdout
    words = run_process(cwd=tmp_path, env={"_KIMICODE_COMPLETE": "bash_complete", "COMP_WORDS": "kimicode mo", "COMP_CWORD": "1"})
    assert words.stdout.split() == ["plain,models"]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert 'eval "$(_KIMICODE_COMPLETE=bash_source kimicode)"' in readme
