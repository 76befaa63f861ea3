"""Per-model correction of our offline token estimate, learned from the provider's counts.

The factor scales every count we make (provider tokens / our tokens), so a wrong one either
wastes the window or overflows it. It therefore moves only on evidence that is both
plausible and consistent:

- a sample is kept only if the request was large (fixed per-request overhead such as chat
  template tokens would otherwise dominate the ratio) and, when the caller gives the window,
  a fair share of it: the counts matter near the window, and that is where they are checked;
- a ratio outside PLAUSIBLE is a measuring error, never a tokenizer difference: a server
  whose template drops the system message, one that truncates the prompt, or one that
  misreports. It is rejected (and counted as evidence), not clamped into the factor;
- the factor changes only once AGREE recent samples lie within SPREAD of each other, and it
  takes the largest of them: every count made with it is then at least what the provider
  counted for each of those requests, so calibrating never sends more than fits;
- it stays within [LOW, HIGH] whatever the samples say.

Stored as JSON in the user data dir, versioned (see _load for what older files become).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "calibration.json"
VERSION = 2
LOW, HIGH = 0.8, 1.6  # the factor's range: tokenizers of current models differ from cl100k by less
PLAUSIBLE = (0.5, 2.0)  # a provider/ours ratio outside this is a measuring error
MIN_SAMPLE_TOKENS = 2_000  # below this our estimate of a request is dominated by fixed overhead
NEAR_WINDOW = 0.25  # with the window known, learn only from requests using at least this share of it
AGREE = 3  # this many recent samples must agree before the factor moves...
SPREAD = 0.10  # ...their largest ratio at most this much above their smallest
KEEP = 8  # samples kept per model, newest last
RESOLUTION = 0.01  # smaller changes are noise; ignoring them keeps budgets, and so cached packs, stable


@dataclass
class Evidence:
    """What the factor for one model rests on (shown by `kimicode models`)."""

    factor: float = 1.0
    samples: list[tuple[int, int]] = field(default_factory=list)  # (our estimate, provider count), newest last
    rejected: int = 0
    last_rejected: str = ""  # one line: why the last rejected sample was not learned from

    def describe(self) -> str:
        kept = len(self.samples)
        parts = [f"x{self.factor:.2f}"]
        if kept:
            ratios = [actual / estimated for estimated, actual in self.samples]
            parts.append(f"{kept} sample{'s' if kept != 1 else ''} (ratios {min(ratios):.2f}-{max(ratios):.2f})")
        else:
            parts.append("no samples")
        if kept < AGREE:
            parts.append(f"{AGREE} agreeing samples needed before it moves")
        if self.rejected:
            parts.append(f"{self.rejected} rejected, last: {self.last_rejected}")
        return "; ".join(parts)


def _load(data_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((data_dir / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    # Version 1 ({model: {"ratio", "samples"}}) learned from any single request, implausible
    # ones included (a x0.5 factor from one misreporting server): its ratios are not evidence
    # under the rules above, so they are dropped rather than migrated.
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("models"), dict):
        return {}
    return data["models"]


def _evidence(entry: Any) -> Evidence:
    if not isinstance(entry, dict):
        return Evidence()
    samples = [(int(s[0]), int(s[1])) for s in entry.get("samples", [])
               if isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) and v > 0 for v in s)]
    raw = entry.get("factor", 1.0)
    factor = min(max(float(raw), LOW), HIGH) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else 1.0
    rejected = entry.get("rejected", 0)
    return Evidence(factor, samples[-KEEP:], rejected if isinstance(rejected, int) else 0, str(entry.get("last_rejected", "")))


def evidence(data_dir: Path, model: str) -> Evidence:
    return _evidence(_load(data_dir).get(model))


def factor(data_dir: Path, model: str) -> float:
    return evidence(data_dir, model).factor


def rejection(estimated: int, actual: int, window: int | None = None) -> str | None:
    """Why this sample must not be learned from, or None if it is plausible."""
    if estimated < MIN_SAMPLE_TOKENS:
        return f"a {estimated:,}-token request is too small to measure the tokenizer"
    if window and estimated < NEAR_WINDOW * window:
        return f"a {estimated:,}-token request is far from the {window:,}-token window"
    ratio = actual / estimated
    if ratio < PLAUSIBLE[0]:
        return (f"the provider counted {actual:,} tokens where we sent ~{estimated:,}: its template may drop "
                "the system message, or it truncates or misreports the prompt")
    if ratio > PLAUSIBLE[1]:
        return f"the provider counted {actual:,} tokens where we sent ~{estimated:,}: not a tokenizer difference"
    return None


def settle(samples: list[tuple[int, int]], current: float) -> float:
    """The factor the newest samples support: the largest of AGREE agreeing ratios, clamped; else ``current``."""
    if len(samples) < AGREE:
        return current
    ratios = [actual / estimated for estimated, actual in samples[-AGREE:]]
    if max(ratios) > min(ratios) * (1 + SPREAD):
        return current  # inconsistent evidence: wait for more
    new = round(min(max(max(ratios), LOW), HIGH), 2)
    return current if abs(new - current) < RESOLUTION else new


def record(data_dir: Path, model: str, estimated: int, actual: int, window: int | None = None) -> float:
    """Remember that the provider counted ``actual`` where we counted ``estimated`` (uncalibrated);
    returns the factor now in force. ``window``, when given, lets only near-window requests count."""
    if estimated <= 0 or actual <= 0:
        return factor(data_dir, model)
    models = _load(data_dir)
    known = _evidence(models.get(model))
    why = rejection(estimated, actual, window)
    if why is not None:
        known.rejected += 1
        known.last_rejected = why
    else:
        known.samples = (known.samples + [(estimated, actual)])[-KEEP:]
        known.factor = settle(known.samples, known.factor)
    models[model] = {"factor": known.factor, "samples": [list(s) for s in known.samples],
                     "rejected": known.rejected, "last_rejected": known.last_rejected, "updated": int(time.time())}
    _write(data_dir, {"version": VERSION, "models": models})
    return known.factor


def _write(data_dir: Path, data: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    # write-then-rename: a crash never leaves a half-written file
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".calibration-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, data_dir / FILE_NAME)
