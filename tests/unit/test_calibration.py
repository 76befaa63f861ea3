"""Calibration moves only on plausible, consistent evidence and stays in a narrow range."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kimicode import calibration


def test_no_evidence_means_no_correction(tmp_path: Path) -> None:
    assert calibration.factor(tmp_path, "m") == 1.0
    assert calibration.evidence(tmp_path, "m").describe().startswith("x1.00; no samples")


def test_one_sample_never_moves_the_factor(tmp_path: Path) -> None:
    assert calibration.record(tmp_path, "m", 10_000, 12_000) == 1.0
    assert calibration.factor(tmp_path, "m") == 1.0
    assert calibration.evidence(tmp_path, "m").samples == [(10_000, 12_000)]


def test_consistent_samples_move_it_to_the_largest_ratio(tmp_path: Path) -> None:
    for actual in (11_800, 12_000, 11_900):
        new = calibration.record(tmp_path, "m", 10_000, actual)
    assert new == 1.2  # the largest of the three: every count made with it covers each request
    assert calibration.factor(tmp_path, "m") == 1.2
    assert calibration.factor(tmp_path, "other") == 1.0


def test_inconsistent_samples_keep_the_factor(tmp_path: Path) -> None:
    for actual in (12_000, 9_000, 14_000):
        calibration.record(tmp_path, "m", 10_000, actual)
    assert calibration.factor(tmp_path, "m") == 1.0


@pytest.mark.parametrize(("estimated", "actual", "window", "why"), [
    (128_000, 1_000, None, "may drop the system message"),  # issue 11: a server misreporting 1,000 tokens
    (10_000, 50_000, None, "not a tokenizer difference"),
    (600, 550, None, "too small"),
    (5_000, 5_500, 262_144, "far from the 262,144-token window"),
])
def test_implausible_samples_are_rejected_with_a_reason(tmp_path: Path, estimated: int, actual: int,
                                                       window: int | None, why: str) -> None:
    for _ in range(5):
        assert calibration.record(tmp_path, "m", estimated, actual, window=window) == 1.0
    found = calibration.evidence(tmp_path, "m")
    assert found.samples == [] and found.rejected == 5 and why in found.last_rejected
    assert why in found.describe()


def test_the_factor_is_clamped_to_a_narrow_range(tmp_path: Path) -> None:
    for _ in range(3):
        calibration.record(tmp_path, "up", 10_000, 19_000)
        calibration.record(tmp_path, "down", 10_000, 5_500)
    assert calibration.factor(tmp_path, "up") == calibration.HIGH
    assert calibration.factor(tmp_path, "down") == calibration.LOW
    assert (calibration.LOW, calibration.HIGH) == (0.8, 1.6)


def test_near_window_samples_count(tmp_path: Path) -> None:
    for _ in range(3):
        calibration.record(tmp_path, "m", 7_000, 7_700, window=8_192)
    assert calibration.factor(tmp_path, "m") == 1.1


def test_old_and_corrupt_files_mean_no_correction(tmp_path: Path) -> None:
    # version 1 learned x0.5 from one misreporting server: not evidence, dropped
    (tmp_path / calibration.FILE_NAME).write_text(json.dumps({"m": {"ratio": 0.5, "samples": 1}}))
    assert calibration.factor(tmp_path, "m") == 1.0
    (tmp_path / calibration.FILE_NAME).write_text("{corrupt")
    assert calibration.factor(tmp_path, "m") == 1.0
    calibration.record(tmp_path, "m", 10_000, 10_500)
    stored = json.loads((tmp_path / calibration.FILE_NAME).read_text())
    assert stored["version"] == calibration.VERSION and stored["models"]["m"]["samples"] == [[10_000, 10_500]]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".calibration-")]  # no temp file left behind


def test_only_the_newest_samples_are_kept(tmp_path: Path) -> None:
    for i in range(calibration.KEEP + 4):
        calibration.record(tmp_path, "m", 10_000, 10_000 + i)
    samples = calibration.evidence(tmp_path, "m").samples
    assert len(samples) == calibration.KEEP and samples[-1] == (10_000, 10_000 + calibration.KEEP + 3)
