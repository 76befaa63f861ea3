"""Ctrl-C during a pack that runs on worker processes: the terminal sends SIGINT to all of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BODY = "".join(f"def function_{n}(argument):\n    '''Docs of {n}.'''\n    return argument * {n}\n\n" for n in range(300))


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_twice_while_workers_scan_ends_with_one_line_and_no_worker_left(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for i in range(4000):  # distinct contents: ~60 MB, seconds of scanning on two cores
        folder = root / f"pkg{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i}.py").write_text(f"# module {i}\n" + BODY)
    # as in a terminal: its own process group, which Ctrl-C signals whole, and SIGINT not ignored
    proc = subprocess.Popen([sys.executable, "-m", "kimicode", "pack", str(root), "--query", "function argument",
                             "-o", str(tmp_path / "out.xml")], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
            workers = _children(proc.pid)
            time.sleep(0.02)
        assert len(workers) >= 2, "no workers seen" + proc.communicate()[1].decode()
        time.sleep(0.3)  # the workers are busy with their first parts
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.2)  # the second lands while the first is being handled (on main: a hang, or tracebacks)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    stderr = err.decode()
    # 130, or ended by the second SIGINT itself once Python is past its handlers (a shell says 130 for both)
    assert proc.returncode in (130, -signal.SIGINT), stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "kimicode: stopped: interrupted"
    # ended by the parent (SIGTERM): on a loaded machine one may take a moment to be scheduled and die
    deadline = time.monotonic() + 10
    while [pid for pid in workers if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _alive(pid)]
