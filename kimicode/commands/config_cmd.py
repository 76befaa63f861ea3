"""`kimicode config path|init`: where settings are read from, and a commented file to start from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from kimicode.commands.common import Failure

TEMPLATE = Path(__file__).resolve().parent.parent / "config_template.toml"


@click.group("config")
def command() -> None:
    """Where kimicode reads its settings from, and a commented config file to start from."""


@command.command("path")
@click.option("--json", "as_json", is_flag=True, help="Print the paths as JSON.")
def path_command(as_json: bool) -> None:
    """Print the config files kimicode reads, lowest priority first, and whether each exists."""
    from kimicode.commands.common import repo_root_of
    from kimicode.config import ENV_KEYS, REPO_CONFIG_NAME
    from kimicode.locations import user_locations

    places = [("user", user_locations().user_config_file), ("repo", repo_root_of(Path.cwd()) / REPO_CONFIG_NAME)]
    if as_json:
        click.echo(json.dumps([{"scope": scope, "path": str(p), "exists": p.is_file()} for scope, p in places], indent=1))
        return
    for scope, p in places:
        click.echo(f"{scope}  {p}  ({'exists' if p.is_file() else 'missing'})")
    names = ", ".join(name for names in ENV_KEYS.values() for name in names)
    click.echo(f"then the environment ({names}), then flags")


@command.command("init")
def init_command() -> None:
    """Write a commented user config file (mode 0600); an existing file is never overwritten."""
    from kimicode.locations import user_locations

    target = user_locations().user_config_file
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: the check and the creation are one step, so a file made meanwhile is not clobbered
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Failure(f"{target} already exists; not overwritten (edit it, or remove it first)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(TEMPLATE.read_text(encoding="utf-8"))
    click.echo(f"wrote {target}")
