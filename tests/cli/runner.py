"""Run the real CLI as a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping


def run_cli(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kimicode", *args], cwd=cwd, env=full_env, input=input,
        capture_output=True, text=True, timeout=timeout,
    )


def run_in_terminal(*args: str, cwd: Path, env: Mapping[str, str], terminal: str = "stdout",
                    timeout: float = 60) -> tuple[int, str, str]:
    """Run the CLI with ``terminal`` ("stdout" or "stderr") on a pseudo-terminal and the other stream piped;
    returns (exit code, what the terminal received, the piped stream)."""
    import pty

    master, slave = pty.openpty()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, terminal: slave}
    proc = subprocess.Popen([sys.executable, "-m", "kimicode", *args], cwd=cwd, env={**os.environ, **env},
                            stdin=subprocess.DEVNULL, **streams)
    os.close(slave)
    seen = b""
    try:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            seen += data
        out, err = proc.communicate(timeout=timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    piped = err if terminal == "stdout" else out
    return proc.returncode, seen.decode("utf-8", errors="replace"), piped.decode("utf-8", errors="replace")
