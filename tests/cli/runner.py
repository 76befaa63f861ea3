"""Run the CLI as a user would: in this process (click's CliRunner) or as a real subprocess.

``run_cli`` runs the command in-process, which costs no interpreter start-up: most CLI tests
use it. Its result looks like a finished process (exit code, stdout, stderr; an unexpected
exception's traceback lands on stderr, as Python would print it). ``run_process`` starts
``python -m kimicode``: the few tests that are about the real entry point (start-up, pipes,
signals, the installed command) use it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Mapping


def run_cli(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            input: str | bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``kimicode ARGS`` in this process, in ``cwd``; ``timeout`` is for parity with run_process
    (an in-process command cannot be killed: pytest's own timeout bounds it)."""
    from click.testing import CliRunner

    from kimicode.cli import cli

    before = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), input=input, env=dict(env or {}), catch_exceptions=True)
    finally:
        os.chdir(before)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exc_info[1], SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(["kimicode", *args], result.exit_code, result.stdout, stderr)


def run_process(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None,
                input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m kimicode ARGS`` as a subprocess, in ``cwd``, with ``env`` over this environment."""
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
