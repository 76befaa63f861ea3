"""bench/needles.py runs end to end against the loopback server (the scripted model answers wrongly:
what is checked is the planting, the three modes' requests and the report, not the accuracy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.openai_server import OpenAIServer
from tests.repos import make_repo

BENCH = Path(__file__).resolve().parent.parent.parent / "bench" / "needles.py"


def test_without_an_endpoint_the_benchmark_is_skipped() -> None:
    result = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "skipped" in result.stdout


def test_the_benchmark_plants_needles_and_reports_each_mode(tmp_path: Path, openai_server: OpenAIServer) -> None:
    files = {f"pkg/mod{n}.py": "".join(f"def f{n}_{i}(x):\n    return x + {i}\n\n\n" for i in range(60)) for n in range(4)}
    make_repo(tmp_path / "src", files)
    openai_server.reply("port 12345")
    openai_server.reply("port 12345")
    result = subprocess.run([sys.executable, str(BENCH), "--base-url", openai_server.base_url, "--repo", str(tmp_path / "src"),
                             "--keys", "1", "--revisions", "2", "--modes", "full,lean+tools", "--budget", "4000"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert rows == ["full", "lean+tools"], result.stdout
    assert "0/1" in result.stdout.splitlines()[2]
    bodies = [r.body for r in openai_server.chat_requests]
    assert len(bodies) == 2 and "tools" not in bodies[0] and "tools" in bodies[1]
    sent = json.dumps(bodies[0])
    assert "the port of relay-" in sent  # a planted revision reached the full pack
    system = bodies[1]["messages"][0]["content"]
    assert 'mode="outline">' in system and '.py" mode="full">' not in system  # lean: outlines and tree only
