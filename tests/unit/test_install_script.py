"""install.sh: options, and the editable-install warning filtered (and only that one)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

INSTALL = Path(__file__).resolve().parents[2] / "install.sh"
BACKEND_WARNING = ("Editable installation.\n!!\n\n        Please be careful with folders in your working directory with the same\n"
                   "        name as your package as they may take precedence during imports.\n!!")


def _warn(env_filter: str | None, message: str) -> str:
    """stderr of a Python re-emitting a build backend's warning as pip 26 does (warn_explicit)."""
    code = f"import warnings; warnings.warn_explicit({message!r}, UserWarning, 'editable_wheel.py', 354)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    if env_filter is not None:
        env["PYTHONWARNINGS"] = env_filter
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stderr


def test_the_editable_install_warning_is_filtered_and_nothing_else() -> None:
    (spec,) = re.findall(r'^PYTHONWARNINGS="([^"]+)" \\$', INSTALL.read_text(), re.MULTILINE)
    assert "Editable installation" in _warn(None, BACKEND_WARNING)  # what users saw before
    assert _warn(spec, BACKEND_WARNING) == ""
    assert "deprecated" in _warn(spec, "License classifiers are deprecated.")  # other warnings still show


def test_options() -> None:
    help_text = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--local" in help_text.stdout and "5-8 minutes" in help_text.stdout
    bad = subprocess.run(["bash", str(INSTALL), "--nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option --nope" in bad.stderr
