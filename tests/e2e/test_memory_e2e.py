"""Error memory end to end: real Chroma (local files and a `chroma run` server), real processes.

The issue's "done when": an error stored by one process is recalled by another from a
different traceback of the same bug, and shows up in the memory shelf of `ask --dry-run`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from click.testing import CliRunner, Result

from kimicode.cli import cli
from kimicode.config import MemorySettings, Settings
from kimicode.memory.capture import build_fingerprint
from kimicode.memory.store import MemoryStore
from tests.cli.runner import run_cli
from tests.e2e.recall_set import PAIRS, UNRELATED
from tests.processes import background_server, free_port
from tests.repos import make_repo

ROOT = Path(__file__).resolve().parents[2]
BUG = PAIRS[0]  # KeyError in load_user: stored from one machine's traceback, recalled from another's
FIX = "load_user indexed USERS directly; use USERS.get(uid) and raise UserNotFound"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server from the package's own `chroma run`, on loopback, for this module."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.skip("the chroma command is not installed next to this interpreter")
    base = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"}
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    command = [str(chroma), "run", "--path", str(base / "db"), "--host", "127.0.0.1", "--port", str(port)]
    with background_server(command, ready=ready, log_path=base / "server.log", env=env, timeout=60, what="chroma run"):
        yield url


def kc(*args: str, cwd: Path, input: str = "") -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, input=input, timeout=120)


def _repo(path: Path, config: str = "") -> Path:
    files = {"app/models.py": "USERS = {}\n\ndef load_user(cfg, uid):\n    return USERS[uid]['name']\n"}
    if config:
        files[".kimicode.toml"] = config
    make_repo(path, files)
    return path


# -- a shared server -----------------------------------------------------------------------------

def test_server_store_shared_by_two_clones(chroma_server: str, tmp_path: Path) -> None:
    import git

    settings = Settings(memory=MemorySettings(chroma_url=chroma_server))
    mine = _repo(tmp_path / "mine")
    theirs = tmp_path / "theirs"
    git.Repo.clone_from(str(mine), str(theirs))
    store = MemoryStore.open(settings, mine)
    assert store.where == chroma_server
    stored, new = store.add(build_fingerprint(BUG.first, mine, fix=FIX))
    assert new
    teammate = MemoryStore.open(settings, theirs)
    hits = teammate.search(BUG.second)
    assert hits[0].exact and hits[0].fingerprint.fix == FIX
    again, new = teammate.add(build_fingerprint(BUG.second, theirs))
    assert not new and again.times_seen == 2 and again.fix == FIX
    assert store.forget(stored.id) is not None and teammate.count() == 0


def test_cli_processes_share_the_server(chroma_server: str, tmp_path: Path, isolated_home: Path) -> None:
    # the user's own config: a repository's .kimicode.toml may not choose where memory goes
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[memory]\nchroma_url = "{chroma_server}"\n')
    repo = _repo(tmp_path / "repo")
    added = kc("memory", "add", "--fix", FIX, "--json", cwd=repo, input=BUG.first)
    assert added.returncode == 0, added.stderr
    record = json.loads(added.stdout)
    found = kc("memory", "search", "-", "--json", cwd=repo, input=BUG.second)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits[0]["id"] == record["id"] and hits[0]["exact"] and hits[0]["fix"] == FIX
    on_server = MemoryStore.open(Settings(memory=MemorySettings(chroma_url=chroma_server)), repo)
    assert on_server.count() == 1  # the server holds it, not a local index


# -- two processes, local index: the "done when" -------------------------------------------

def _ask_has_memory() -> bool:
    out = kc("ask", "--help", cwd=ROOT)
    return "--remember" in out.stdout


def test_stored_in_one_process_recalled_in_another(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    added = kc("memory", "add", "--root-cause", "ids from the old API are strings", "--fix", FIX,
               "--file", "app/models.py", cwd=repo, input=BUG.first)
    assert added.returncode == 0, added.stderr
    assert "new record" in added.stdout
    found = kc("memory", "search", BUG.second, cwd=repo)
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("1.00=") and FIX[:40] in found.stdout
    if not _ask_has_memory():
        pytest.skip("kimicode ask does not recall memory yet (integration pending in request.py/ask.py)")
    asked = kc("ask", "--dry-run", "--json", "why does this fail?", cwd=repo, input=BUG.second)
    assert asked.returncode == 0, asked.stderr
    dry = json.loads(asked.stdout)
    user = dry["messages"][-1]["content"]
    assert "# Memory: errors seen before in this repository" in user
    assert FIX in user and "ids from the old API are strings" in user
    assert dry["shelves"]["memory"] > 0
    # the memory shelf comes after the packed repository (the cached prefix, in the system message), before the question
    assert "</repository>" in dry["messages"][0]["content"] and "</repository>" not in user
    assert user.index("# Memory:") < user.rindex("# Question")


def test_ask_remember_stores_what_the_model_found(tmp_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F821
    if not _ask_has_memory():
        pytest.skip("kimicode ask has no --remember yet (integration pending in ask.py)")
    repo = _repo(tmp_path / "repo", "max_retries = 1\ntimeout = 10.0\n")
    openai_server.reply("USERS has no such id: use USERS.get(uid) and raise UserNotFound.")
    openai_server.reply(json.dumps({"fixed": True, "root_cause": "ids from the old API are strings", "fix": FIX,
                                    "files": ["app/models.py"]}))
    result = run_cli("ask", "--remember", "why does this fail?", cwd=repo, input=BUG.first,
                     env={"KIMICODE_BASE_URL": openai_server.base_url}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "kimicode: remembered KeyError: 'user_<n>'" in result.stderr
    summary_request = openai_server.chat_requests[-1].body["messages"][0]["content"]
    assert "Record what\nwas learned" in summary_request and "KeyError: 'user_17'" in summary_request
    monkeypatch.chdir(repo)
    hits = json.loads(mem("search", "--json", BUG.second).stdout)
    assert hits[0]["fix"] == FIX and hits[0]["files"] == ["app/models.py"] and hits[0]["exact"]


# -- concurrent writers -------------------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from kimicode.config import Settings
from kimicode.memory.capture import build_fingerprint
from kimicode.memory.store import MemoryStore

repo, data, worker, count = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
shared = sys.stdin.read()
store = MemoryStore.open(Settings(), repo, data, lock_timeout=60)
if worker == "reader":  # reads between the writes must neither fail nor block them for good
    for i in range(count * 2):
        store.search(shared, n=3)
        store.count()
    count = 0
for i in range(count):
    own = ('Traceback (most recent call last):\\n  File "/w/app/jobs.py", line 3, in job_%s_%d\\n    x\\n'
           'ValueError: job %s failed\\n') % (worker, i, worker)
    store.add(build_fingerprint(own, repo, commit="c0ffee"))
    store.add(build_fingerprint(shared, repo, commit="c0ffee"))
print("done")
"""


def test_two_writers_and_a_reader_do_not_corrupt_the_index(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    data = tmp_path / "data"
    MemoryStore.open(Settings(), repo, data)  # create the index first, as the first kimicode would
    n = 12
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(repo), str(data), w, str(n)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in ("a", "b", "reader")]
    outs = [p.communicate(input=BUG.first, timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0 and out.strip() == "done", err[-3000:]
    store = MemoryStore.open(Settings(), repo, data)
    assert store.count() == 2 * n + 1
    shared = store.search(BUG.second, n=1)[0]
    assert shared.exact and shared.fingerprint.times_seen == 2 * n  # no lost update
    job = store.search('Traceback (most recent call last):\n  File "/x/app/jobs.py", line 9, in job_b_7\n    x\n'
                       "ValueError: job b failed\n", n=1)[0]
    assert job.exact


# -- the memory command, in process (one chromadb import for all its calls) ----------------------

def mem(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["memory", *args], input=input)


def test_memory_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    by_parts = mem("add", "--type", "KeyError", "--message", "'user_17'", "--language", "python", "--fix", "guard it", "--json")
    assert by_parts.exit_code == 0, by_parts.output
    assert json.loads(by_parts.stdout)["message"] == "'user_<n>'"
    export_file = tmp_path / "export.jsonl"
    lines = [json.dumps(build_fingerprint(t, repo, commit="c0ffee", seen=f"2026-01-0{n + 1}T00:00:00Z").to_dict())
             for n, t in enumerate(UNRELATED[:3])]
    export_file.write_text("\n".join(lines) + "\n")
    imported = mem("import", str(export_file))
    assert imported.exit_code == 0 and "3 new, 0 merged" in imported.stderr, imported.output
    assert "0 new, 3 merged" in mem("import", "-", input=export_file.read_text()).stderr
    records = json.loads(mem("list", "--json", "--language", "python").stdout)
    assert sorted(r["error_type"] for r in records) == ["AttributeError", "KeyError", "KeyError", "TypeError"]
    assert all(r["times_seen"] == 1 for r in records)  # importing twice counted nothing twice
    target = next(r for r in records if r["error_type"] == "TypeError")
    assert json.loads(mem("show", target["id"][:8], "--json").stdout) == target
    assert "excerpt:" in mem("show", target["id"]).stdout
    found = json.loads(mem("search", "--json", "--type", "TypeError", "send() missing 1 required positional argument").stdout)
    assert [h["id"] for h in found] == [target["id"]]
    forgot = mem("forget", target["id"])
    assert forgot.exit_code == 0 and forgot.stdout.startswith("forgot ")
    exported = mem("export")
    assert exported.exit_code == 0 and len(exported.stdout.splitlines()) == 3 and target["id"] not in exported.stdout
    missing = mem("show", target["id"])
    assert missing.exit_code == 2 and missing.stderr.startswith("kimicode: error: no remembered error")


def test_memory_command_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"error_type": "KeyError", "message": "x"}\nnot json\n')
    result = mem("import", str(bad))
    assert result.exit_code == 2 and "nothing imported: line 2" in result.stderr
    nothing = mem("add", input="all 12 tests passed\n")
    assert nothing.exit_code == 2 and "no error found" in nothing.stderr
    assert mem("search", "   ").exit_code == 2
    data = Path(os.environ["KIMICODE_HOME"]) / "data" / "memory" / "chroma"
    data.mkdir(parents=True)
    (data / "chroma.sqlite3").write_bytes(b"garbage" * 500)
    broken = kc("memory", "list", cwd=repo)  # a real process: the one line a user sees, and no traceback
    assert broken.returncode == 1 and len(broken.stderr.strip().splitlines()) == 1
    assert broken.stderr.startswith("kimicode: error: memory unavailable: ") and "Traceback" not in broken.stderr
    shutil.rmtree(data)
