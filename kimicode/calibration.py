"""Per-model correction of our offline token estimate, learned from the provider's counts.

Stored as JSON in the user data dir: {model: {"ratio": provider/ours, "samples": n}}.
The ratio is an exponential moving average so one odd request cannot swing it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

FILE_NAME = "calibration.json"
LOW, HIGH = 0.5, 2.0  # a ratio outside this is a measuring error, not a tokenizer difference
SMOOTHING = 0.3
# Changes smaller than this are noise; ignoring them keeps budgets, and so cached packs, stable.
RESOLUTION = 0.01


def _load(data_dir: Path) -> dict[str, dict[str, float]]:
    try:
        data = json.loads((data_dir / FILE_NAME).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def factor(data_dir: Path, model: str) -> float:
    entry = _load(data_dir).get(model)
    if not isinstance(entry, dict):
        return 1.0
    ratio = entry.get("ratio", 1.0)
    return min(max(float(ratio), LOW), HIGH) if isinstance(ratio, (int, float)) else 1.0


def update(ratio: float, previous: float | None) -> float:
    """Blend a new provider/ours ratio into the stored one."""
    ratio = min(max(ratio, LOW), HIGH)
    if previous is None:
        return round(ratio, 2)
    blended = round(previous + SMOOTHING * (ratio - previous), 2)
    return previous if abs(blended - previous) < RESOLUTION else blended


def record(data_dir: Path, model: str, estimated: int, actual: int) -> float:
    """Remember that the provider counted ``actual`` where we counted ``estimated``; returns the new factor."""
    if estimated <= 0 or actual <= 0:
        return factor(data_dir, model)
    data = _load(data_dir)
    entry = data.get(model) if isinstance(data.get(model), dict) else None
    new = update(actual / estimated, entry.get("ratio") if entry else None)
    data[model] = {"ratio": round(new, 4), "samples": int(entry.get("samples", 0)) + 1 if entry else 1}
    data_dir.mkdir(parents=True, exist_ok=True)
    # write-then-rename: a crash never leaves a half-written file
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".calibration-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, data_dir / FILE_NAME)
    return new
