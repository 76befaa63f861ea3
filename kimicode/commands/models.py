"""`kimicode models`: each model kimicode knows, its window, reply cap and prices, and where each came from.

The configured model is looked up at its server (as doctor does); the others (config entries,
the built-in table) are shown from what is configured, remembered and built in, without
asking anything. The measured pace of the configured model, the calibration factor and the
evidence behind it close the listing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click


def _row(settings: Any, data_dir: Path, current: bool) -> tuple[dict[str, Any], Any]:
    from kimicode import calibration
    from kimicode.discovery import resolve_limits

    spec, limits = resolve_limits(settings, data_dir, probe=True if current else False)
    evidence = calibration.evidence(data_dir, spec.name)
    row = {
        "name": spec.name, "current": current,
        "window": spec.context_window, "window_source": limits.window,
        "max_output": spec.max_output, "max_output_source": limits.max_output,
        "price": {"input": spec.price_input, "cached_input": spec.price_cached_input, "output": spec.price_output},
        "price_source": limits.price,
        # tokens per second of its last answers here (prefill: the prompt; generate: the answer)
        "speed": {k: v for k, v in (limits.remembered.speed or {}).items() if k in ("prefill", "generate")} or None,
        "calibration": {"factor": evidence.factor, "samples": [list(s) for s in evidence.samples],
                        "rejected": evidence.rejected, "last_rejected": evidence.last_rejected,
                        "summary": evidence.describe()},
    }
    return row, limits


def listing(settings: Any, data_dir: Path) -> dict[str, Any]:
    from kimicode.models import BUILTIN
    from kimicode.urls import shown

    names = [settings.model] + [n for n in settings.models if n != settings.model]
    names += [n for n in BUILTIN if n not in names]
    rows, notices, kind, facts = [], (), None, None
    for name in names:
        current = name == settings.model
        row, limits = _row(dataclasses.replace(settings, model=name), data_dir, current)
        rows.append(row)
        if current:
            notices, kind, facts = limits.notices, (limits.remembered.server or {}).get("kind") or None, limits.facts
    unreached = facts.error if facts is not None and not facts.reachable else None
    return {"endpoint": shown(settings.base_url), "server_kind": kind, "server_error": unreached,
            "served": list(facts.served) if facts is not None and facts.served else None,
            "models": rows, "notices": list(notices)}


def _price(row: dict[str, Any]) -> str:
    price = row["price"]
    if not any(price.values()):
        return "-"
    return f"{price['input']:.2f}/{price['cached_input']:.2f}/{price['output']:.2f}"


def _print(data: dict[str, Any]) -> None:
    head = ("", "model", "window", "from", "reply", "from", "$/M in/cached/out", "from")
    lines = [head] + [("*" if r["current"] else "", r["name"], f"{r['window']:,}", r["window_source"],
                       f"{r['max_output']:,}", r["max_output_source"], _price(r), r["price_source"]) for r in data["models"]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    kind = f" ({data['server_kind']})" if data["server_kind"] else ""
    click.echo(f"\n* the configured model, at {data['endpoint']}{kind}")
    if data["server_error"]:
        click.echo(f"  not reached: {data['server_error']} (figures from the config, the table and what was remembered)")
    if data["served"]:
        click.echo(f"  it serves: {', '.join(data['served'])}")
    for row in data["models"]:
        if row["current"] and row["speed"]:
            pace = ", ".join(f"{what} {rate:,.1f} tokens/s" for what, rate in row["speed"].items())
            click.echo(f"  measured pace of its answers here: {pace}")
    click.echo("calibration (provider tokens / ours):")
    for row in data["models"]:
        calibration = row["calibration"]
        if row["current"] or calibration["samples"] or calibration["rejected"]:
            click.echo(f"  {row['name']}: {calibration['summary']}")


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.option("--model", help="Model name [config model, KIMICODE_MODEL].")
@click.option("--base-url", help="OpenAI-compatible endpoint [config base_url, KIMICODE_BASE_URL].")
def command(as_json: bool, model: str | None, base_url: str | None) -> None:
    """List each model: window, reply cap, prices, where each figure came from, and its calibration."""
    from kimicode.commands.common import repo_root_of, settings_or_exit
    from kimicode.locations import user_locations

    settings = settings_or_exit(repo_root_of(Path.cwd()), {"model": model, "base_url": base_url})
    data = listing(settings, user_locations().data_dir)
    for notice in data["notices"]:
        click.echo(f"kimicode: {notice}", err=True)
    if as_json:
        click.echo(json.dumps(data, indent=1))
    else:
        _print(data)
