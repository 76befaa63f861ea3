"""Windows remembered per (endpoint, model), with where each came from.

What a server reported (so a remote one need not be asked on every command, and `kimicode
models` can show it), what a "request too long" answer taught us (it cannot be asked again),
whether the server's chat template keeps the system message, and how fast it answered (the
reply cap of a slow local model follows it).

One JSON file in its own 0700 directory under the user data dir, written 0600 through a temp
file and a rename. Endpoints are keyed by their URL without userinfo: a password in
``base_url`` never reaches the disk. Two commands writing at once may lose one update: this is
a cache of facts that are found again, not user data.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kimicode.urls import without_userinfo

DIR_NAME = "endpoints"
FILE_NAME = "windows.json"
VERSION = 1
RECORDS = ("server", "learned", "template", "speed")


@dataclass(frozen=True)
class Remembered:
    """The records kept for one (endpoint, model); each a dict with an ``at`` time (epoch seconds)."""

    server: dict[str, Any] | None = None  # window, source, trained, max_output, max_output_source, kind
    learned: dict[str, Any] | None = None  # window, source, said, server_window (the server's figure then)
    template: dict[str, Any] | None = None  # system_kept, prompt_tokens, expected
    speed: dict[str, Any] | None = None  # prefill, generate: tokens per second of the last answer measured


def path(data_dir: Path) -> Path:
    return data_dir / DIR_NAME / FILE_NAME


def endpoint_key(base_url: str) -> str:
    return without_userinfo(base_url).rstrip("/")


def _load(data_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("endpoints"), dict):
        return {}
    return data["endpoints"]


def recall(data_dir: Path, base_url: str, model: str) -> Remembered:
    entry = _load(data_dir).get(endpoint_key(base_url), {}).get(model)
    if not isinstance(entry, dict):
        return Remembered()
    records = {name: entry.get(name) if isinstance(entry.get(name), dict) else None for name in RECORDS}
    return Remembered(**records)


def recall_all(data_dir: Path) -> dict[str, dict[str, Remembered]]:
    """Every remembered (endpoint -> model -> records), for listings."""
    found: dict[str, dict[str, Remembered]] = {}
    for endpoint, models in _load(data_dir).items():
        if isinstance(models, dict):
            found[endpoint] = {model: recall(data_dir, endpoint, model) for model in models}
    return found


def remember(data_dir: Path, base_url: str, model: str, **records: dict[str, Any] | None) -> None:
    """Replace the named records (server=, learned=, template=, speed=) for this endpoint and model; None forgets one."""
    endpoints = _load(data_dir)
    entry = endpoints.setdefault(endpoint_key(base_url), {}).setdefault(model, {})
    now = int(time.time())
    for name, record in records.items():
        if record is None:
            entry.pop(name, None)
        else:
            entry[name] = {**record, "at": record.get("at", now)}
    _write(data_dir, {"version": VERSION, "endpoints": endpoints})


def _write(data_dir: Path, data: dict[str, Any]) -> None:
    folder = data_dir / DIR_NAME
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # an existing folder too: it names the servers this user talks to
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".windows-")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, folder / FILE_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
