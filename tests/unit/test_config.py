from pathlib import Path

import pytest

from kimicode.config import ConfigError, load_settings
from kimicode.locations import Locations


@pytest.fixture
def locs(tmp_path: Path) -> Locations:
    return Locations(tmp_path / "cfg", tmp_path / "data", tmp_path / "cache")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(locs: Locations) -> None:
    s = load_settings(None, env={}, locations=locs)
    assert s.model == "kimi-k2.7-code"
    assert s.base_url == "https://api.moonshot.ai/v1"
    assert s.pack.budget == 128_000 and s.pack.format == "xml"
    assert s.api_key == ""


def test_precedence_user_repo_env_flag(tmp_path: Path, locs: Locations) -> None:
    write(locs.user_config_file, 'model = "user-model"\n[pack]\nbudget = 1000\nformat = "markdown"\n')
    repo = tmp_path / "repo"
    write(repo / ".kimicode.toml", "[pack]\nbudget = 2000\n")
    s = load_settings(repo, env={}, locations=locs)
    assert (s.model, s.pack.budget, s.pack.format) == ("user-model", 2000, "markdown")
    s = load_settings(repo, env={"KIMICODE_BUDGET": "3000", "KIMICODE_MODEL": "env-model"}, locations=locs)
    assert (s.model, s.pack.budget) == ("env-model", 3000)
    assert s.sources["pack.budget"] == "KIMICODE_BUDGET"
    s = load_settings(repo, flags={"pack.budget": 4000, "model": None}, env={"KIMICODE_BUDGET": "3000"}, locations=locs)
    assert s.pack.budget == 4000 and s.model == "user-model"


def test_api_key_order_and_never_in_repr(locs: Locations) -> None:
    s = load_settings(None, env={"KIMICODE_API_KEY": "sk-two", "MOONSHOT_API_KEY": "sk-one"}, locations=locs)
    assert s.api_key == "sk-one" and s.sources["api_key"] == "MOONSHOT_API_KEY"
    assert "sk-one" not in repr(s)


@pytest.mark.parametrize(
    "text, message",
    [
        ("budgt = 3\n", "unknown key 'budgt'"),
        ("[pack]\nbudgett = 3\n", "unknown key 'pack.budgett'"),
        ("[pack]\nbudget = 'lots'\n", "pack.budget must be a whole number"),
        ("[pack]\nformat = 'html'\n", "pack.format must be one of xml, markdown"),
        ("[review]\nrequire = 'maybe'\n", "review.require must be true or false"),
        ("pack = 3\n", "[pack] must be a table"),
        ("[pack\n", "invalid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, locs: Locations, text: str, message: str) -> None:
    path = write(tmp_path / "repo" / ".kimicode.toml", text)
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "repo", env={}, locations=locs)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_env_value_names_variable(locs: Locations) -> None:
    with pytest.raises(ConfigError, match="KIMICODE_BUDGET: pack.budget must be a whole number"):
        load_settings(None, env={"KIMICODE_BUDGET": "big"}, locations=locs)


def test_model_override_table(tmp_path: Path, locs: Locations) -> None:
    write(locs.user_config_file, '[models."my-llama"]\ncontext_window = 8192\nfixed_sampling = true\n')
    s = load_settings(None, env={}, locations=locs)
    assert s.models["my-llama"].context_window == 8192 and s.models["my-llama"].fixed_sampling
    write(locs.user_config_file, '[models."my-llama"]\nwindow = 8192\n')
    with pytest.raises(ConfigError, match="unknown key 'models.my-llama.window'"):
        load_settings(None, env={}, locations=locs)


def test_a_binary_user_config_is_a_config_error_naming_the_file(locs: Locations) -> None:
    locs.user_config_file.parent.mkdir(parents=True)
    locs.user_config_file.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01model = 1\n\xc3\x28")
    with pytest.raises(ConfigError) as err:
        load_settings(None, env={}, locations=locs)
    assert str(err.value) == f"{locs.user_config_file}: not a TOML file: it is not UTF-8 text"


@pytest.mark.parametrize("url, problem", [
    ("not-a-url", "is not an http:// or https:// URL"),
    ("ftp://example.com/v1", "is not an http:// or https:// URL"),
    ("http:///v1", "is a URL without a host"),
    ("https://api.example.com:port/v1", "is not a valid URL"),
])
def test_base_url_must_be_http_with_a_host_wherever_it_is_set(tmp_path: Path, locs: Locations, url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, env={"KIMICODE_BASE_URL": url}, locations=locs)
    assert str(err.value).startswith("KIMICODE_BASE_URL: base_url must be an http:// or https:// URL with a host;")
    assert problem in str(err.value)
    write(locs.user_config_file, f"base_url = {url!r}\n")
    with pytest.raises(ConfigError, match=f"^{locs.user_config_file}: base_url must be"):
        load_settings(None, env={}, locations=locs)
    with pytest.raises(ConfigError, match="^flag: base_url must be"):
        load_settings(None, flags={"base_url": url}, env={}, locations=locs.__class__(tmp_path / "x", tmp_path / "y", tmp_path / "z"))


def test_good_urls_pass_and_credentials_are_masked_in_errors(locs: Locations) -> None:
    write(locs.user_config_file, 'base_url = ""\n')
    with pytest.raises(ConfigError, match="base_url must be an http"):
        load_settings(None, env={}, locations=locs)
    locs.user_config_file.unlink()
    for url in ("https://api.moonshot.ai/v1", "http://127.0.0.1:8080/v1", "HTTP://[::1]:9/v1"):
        assert load_settings(None, env={"KIMICODE_BASE_URL": url}, locations=locs).base_url == url
    with pytest.raises(ConfigError) as err:
        load_settings(None, env={"KIMICODE_BASE_URL": "https://user:sk-very-secret@:99/v1"}, locations=locs)
    assert "sk-very-secret" not in str(err.value) and "***@" in str(err.value)


def test_chroma_url_is_checked_when_set(locs: Locations) -> None:
    write(locs.user_config_file, '[memory]\nchroma_url = ""\n')
    assert load_settings(None, env={}, locations=locs).memory.chroma_url == ""
    write(locs.user_config_file, '[memory]\nchroma_url = "http://chroma.internal:8000"\n')
    assert load_settings(None, env={}, locations=locs).memory.chroma_url == "http://chroma.internal:8000"
    write(locs.user_config_file, '[memory]\nchroma_url = "chroma internal"\n')
    with pytest.raises(ConfigError, match=r"memory\.chroma_url must be an http:// or https:// URL with a host; 'chroma internal'"):
        load_settings(None, env={}, locations=locs)


def test_the_embeddings_endpoint_the_store_reads_is_a_setting(tmp_path: Path, locs: Locations) -> None:
    write(locs.user_config_file, '[memory]\nembeddings_url = "http://127.0.0.1:9/v1"\nembeddings_model = "nomic-embed"\n')
    memory = load_settings(None, env={}, locations=locs).memory
    assert (memory.embeddings_url, memory.embeddings_model) == ("http://127.0.0.1:9/v1", "nomic-embed")
    write(locs.user_config_file, '[memory]\nembeddings_url = "embeddings please"\n')
    with pytest.raises(ConfigError, match=r"memory\.embeddings_url must be an http:// or https:// URL"):
        load_settings(None, env={}, locations=locs)
    write(locs.user_config_file, "")
    repo = tmp_path / "repo"
    write(repo / ".kimicode.toml", '[memory]\nembeddings_url = "https://collector.example/v1"\n')
    settings = load_settings(repo, env={}, locations=locs)  # a repository does not choose where text goes
    assert settings.memory.embeddings_url == "" and any("memory.embeddings_url" in w for w in settings.warnings)


def test_deadline_settings_have_generous_defaults_and_are_checked(locs: Locations) -> None:
    s = load_settings(None, env={}, locations=locs)
    assert (s.idle_timeout, s.request_deadline) == (120.0, 1800.0)
    assert (s.review.deadline, s.review.max_tokens, s.review.max_parts) == (120.0, 500_000, 8)
    write(locs.user_config_file, "idle_timeout = -1\n")
    with pytest.raises(ConfigError, match="idle_timeout must be a number >= 0"):
        load_settings(None, env={}, locations=locs)
