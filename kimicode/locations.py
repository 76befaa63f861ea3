"""Where kimicode keeps its files.

platformdirs gives the per-OS user dirs (and honours XDG_* on Linux);
``KIMICODE_HOME`` overrides all three at once, so tests and portable installs
can point every user file at one folder.
"""

from __future__ import annotations

import os
import tempfile
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


PRIVATE_DIR = 0o700  # what kimicode stores quotes private code, conversations and errors
PRIVATE_FILE = 0o600


def private_dir(path: Path, root: Path) -> Path:
    """``path`` as a folder only its owner can enter, created if missing.

    ``root`` is the user folder it lies in (data, cache or config dir): it and every folder
    between it and ``path`` are 0700 too, created or tightened (mkdir's mode is masked by the
    umask, and folders made by an older version kept 0755). Folders above ``root`` are not ours.
    """
    root.parent.mkdir(parents=True, exist_ok=True)  # a first run (~/.local/share not made yet): made, left as they come
    chain = [path, *(p for p in path.parents if p == root or root in p.parents)]
    for folder in reversed(chain):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        if folder.stat().st_mode & 0o777 != PRIVATE_DIR:
            os.chmod(folder, PRIVATE_DIR)
    return path


def tighten(folder: Path) -> None:
    """Files a library wrote below ``folder`` (Chroma's database and index) made 0600."""
    for parent, folders, files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(parent, name), PRIVATE_DIR)
        for name in files:
            os.chmod(os.path.join(parent, name), PRIVATE_FILE)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only: a temp file, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def prompts_dir() -> Path:
    """prompts/: inside the package when installed from a wheel (kimicode/prompts is a link to the
    top-level folder, followed when the wheel is built), else the checkout's own folder."""
    packaged = Path(__file__).resolve().parent / "prompts"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "prompts"


def read_prompt(name: str) -> str:
    return (prompts_dir() / name).read_text(encoding="utf-8")
