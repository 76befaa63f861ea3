"""Where kimicode keeps its files.

platformdirs gives the per-OS user dirs (and honours XDG_* on Linux);
``KIMICODE_HOME`` overrides all three at once, so tests and portable installs
can point every user file at one folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

APP = "kimicode"


@dataclass(frozen=True)
class Locations:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def user_config_file(self) -> Path:
        return self.config_dir / "config.toml"


def user_locations(env: Mapping[str, str] | None = None) -> Locations:
    env = os.environ if env is None else env
    home = env.get("KIMICODE_HOME")
    if home:
        root = Path(home).expanduser()
        return Locations(root / "config", root / "data", root / "cache")
    import platformdirs

    return Locations(
        Path(platformdirs.user_config_dir(APP)),
        Path(platformdirs.user_data_dir(APP)),
        Path(platformdirs.user_cache_dir(APP)),
    )


def prompts_dir() -> Path:
    """prompts/: inside the package when installed from a wheel (kimicode/prompts is a link to the
    top-level folder, followed when the wheel is built), else the checkout's own folder."""
    packaged = Path(__file__).resolve().parent / "prompts"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "prompts"


def read_prompt(name: str) -> str:
    return (prompts_dir() / name).read_text(encoding="utf-8")
