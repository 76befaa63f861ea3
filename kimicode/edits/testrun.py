"""The test command of the test loop: run with a timeout, its output made into the model's next message."""

from __future__ import annotations

import os
import signal
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

KILL_WAIT = 5.0  # seconds to collect what a killed command printed


@dataclass(frozen=True)
class TestRun:
    command: str
    code: int | None  # None: stopped at the timeout
    output: str  # stdout and stderr, interleaved as printed
    seconds: float

    @property
    def passed(self) -> bool:
        return self.code == 0

    @property
    def outcome(self) -> str:
        """``exited with 1 after 2.3 s`` / ``was stopped after 600 s (the timeout)``."""
        if self.code is None:
            return f"was stopped after {self.seconds:.0f} s (the timeout)"
        return f"exited with {self.code} after {self.seconds:.1f} s"


def run_tests(root: Path, command: str, timeout: float) -> TestRun:
    """Run ``command`` in a shell at ``root``; the whole process group is killed at the timeout."""
    started = time.perf_counter()
    try:
        process = subprocess.Popen(command, shell=True, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        return TestRun(command, 127, f"cannot start it: {exc.strerror}", 0.0)
    try:
        out, _ = process.communicate(timeout=timeout if timeout > 0 else None)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            out, _ = process.communicate(timeout=KILL_WAIT)
        except subprocess.TimeoutExpired:  # a grandchild holds the pipe open: what was read is all there is
            out = b""
        code = None
    return TestRun(command, code, out.decode("utf-8", errors="replace"), time.perf_counter() - started)


def failure_message(template: str, run: TestRun, number: int, most: int, memory: str, budget: int,
                    count: Callable[[str], int]) -> str:
    """The message that sends a failed run back to the model: its output redacted, middle-out within
    ``budget`` tokens, fenced so it cannot close the fence early, and what the error memory recalled for it."""
    from kimicode.prompt import middle_out
    from kimicode.repo.render import code_fence
    from kimicode.secrets import redact

    # a test run may print the environment or a fixture's key: redacted before it is sent
    output = middle_out(redact(run.output.strip() or "(no output)", "test output").text, budget, count)
    fence = code_fence(output)
    recalled = f"\nThe error memory holds similar failures:\n{memory.strip()}\n" if memory.strip() else ""
    return string.Template(template).substitute(command=run.command, outcome=run.outcome, number=number, most=most,
                                                output=f"{fence}\n{output}\n{fence}", memory=recalled)
