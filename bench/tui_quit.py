"""How long the TUI takes to quit: Ctrl+Q to the end of the app, and to the end of its process.

    .venv/bin/python bench/tui_quit.py [--baseline main] [--repeat 3]

Each case runs in a new process (what a user feels: nothing imported yet), under Textual's
Pilot against the loopback OpenAI-compatible server (tests/openai_server.py), on a small
repository in a temp folder with a temp KIMICODE_HOME:

* memory off / on, after 0 turns and after 2 turns;
* after the last answer, ``--read`` seconds pass before Ctrl+Q (the user reads it);
* "seeded": memory on, in a home whose memory index exists already (an earlier session
  captured notes there): the daily user's case.

The baseline (a git ref, ``main`` by default) is checked out with ``git archive`` into a temp
folder and measured in the same run, case by case, beside this tree. Figures: wall seconds
from Ctrl+Q to the app's end and to the process's end, and the process's CPU seconds in that
span, min-max over the repeats. The machine is shared: compare columns of one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent.parent
CASES = [("off", 0), ("off", 2), ("on", 0), ("on", 2), ("seeded", 2)]
QUESTIONS = ["We decided to keep calc.py free of imports. What does calc.py do?", "What does sub return?"]


def child(base_url: str, root: str, memory: bool, turns: int, read: float) -> None:
    """In the measured process: open the app, ask ``turns`` questions, press Ctrl+Q; print JSON."""
    import asyncio
    import dataclasses

    from kimicode.config import MemorySettings, load_settings
    from kimicode.tui.app import KimicodeApp

    async def main() -> dict[str, float]:
        settings = load_settings(Path(root), {"base_url": base_url, "model": "kimi-k2.7-code", "max_retries": 0})
        settings = dataclasses.replace(settings, memory=MemorySettings(enabled=memory))
        app = KimicodeApp(settings, Path(root))
        async with app.run_test(size=(100, 32)) as pilot:
            await until(pilot, lambda: not app.busy and app.workspace.session is not None)
            for n, question in enumerate(QUESTIONS[:turns]):
                app.prompt.text = question
                app.prompt.focus()
                await pilot.press("end", "enter")
                await until(pilot, lambda done=2 * (n + 1): not app.busy and len(app.workspace.session.turns) >= done)
            if turns:
                await asyncio.sleep(read)  # the user reads the last answer
            wall, cpu = time.time(), time.process_time()
            await pilot.press("ctrl+q")
        return {"pressed": wall, "app": time.time() - wall, "cpu_app": time.process_time() - cpu}

    async def until(pilot: Any, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the app")
            await pilot.pause(0.02)

    print(json.dumps(asyncio.run(main())), flush=True)


def tree_of(ref: str, into: Path) -> Path:
    """The source tree at ``ref`` (kimicode/, tests/, prompts)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(HERE), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def demo_repo(root: Path) -> Path:
    from tests.repos import write_files
    from tests.tui.conftest import DEMO_FILES

    write_files(root, DEMO_FILES)
    return root


def measure(url: str, tree: Path, home: Path, root: Path, memory: bool, turns: int, read: float = 0.0) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree), KIMICODE_HOME=str(home), TIKTOKEN_CACHE_DIR=str(home / "tiktoken"))
    started = time.time()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", url, str(root),
                             str(int(memory)), str(turns), str(read)], cwd=tree, env=env, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    ended = time.time()
    if proc.returncode != 0 or not out.strip():
        raise SystemExit(f"the measured process failed (exit {proc.returncode}) in {tree}")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["process"] = ended - figures["pressed"]
    figures["total"] = ended - started
    return figures


def span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="main", help="git ref measured beside this tree (default main)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--read", type=float, default=2.0,
                        help="seconds between the last answer and Ctrl+Q (the user reads; default 2)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from tests.openai_server import OpenAIServer  # in this process: its shutdown is not the app's

    with tempfile.TemporaryDirectory() as tmp, OpenAIServer() as server:
        trees = {args.baseline: tree_of(args.baseline, Path(tmp) / "baseline"), "this tree": HERE}
        print(f"{'case':<14} {'tree':<10} {'Ctrl+Q->app end s':>18} {'->process end s':>16} {'cpu s':>10}")
        run = 0
        for kind, turns in CASES:
            for name, tree in trees.items():
                rows: dict[str, list[float]] = {"app": [], "process": [], "cpu_app": []}
                for _ in range(args.repeat):
                    run += 1
                    home, root = Path(tmp) / f"home{run}", demo_repo(Path(tmp) / f"repo{run}")
                    if kind == "seeded":  # an earlier session captured notes: the index exists
                        measure(server.base_url, tree, home, root, True, 1)
                    figures = measure(server.base_url, tree, home, root, kind != "off", turns, args.read)
                    for key in rows:
                        rows[key].append(figures[key])
                print(f"{kind + f' {turns} turns':<14} {name:<10} {span(rows['app']):>18} {span(rows['process']):>16} "
                      f"{span(rows['cpu_app']):>10}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "1", int(sys.argv[5]), float(sys.argv[6]))
    else:
        main()
