"""The fingerprint store on real Chroma: a local PersistentClient in temp dirs.

Dedup, filters, ids, export/import, recall through Chroma's own index (the recall set),
and every way memory can be unavailable: corrupt, locked, deleted, unreachable, off.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kimicode.config import MemorySettings, Settings
from kimicode.engine.memory import SessionMemory
from kimicode.memory.capture import CaptureError, build_fingerprint, parse_fix_summary
from kimicode.memory.fingerprint import Fingerprint
from kimicode.memory.recall import MIN_SCORE, memory_status, recall_for_text
from kimicode.memory.store import Filters, MemoryStore, MemoryUnavailable
from kimicode.tokens import TokenCounter
from tests.e2e.recall_set import NOVEL, PAIRS, UNRELATED
from tests.repos import make_repo

ROOT = Path(__file__).resolve().parents[2]
LOCAL = Settings()


def _repo(path: Path) -> Path:
    make_repo(path, {"app/models.py": "USERS = {}\n"})
    return path


def _record(text: str, repo: Path, seen: str = "2026-01-01T00:00:00Z", **kw) -> Fingerprint:  # type: ignore[no-untyped-def]
    return build_fingerprint(text, repo, seen=seen, commit="c0ffee", **kw)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return _repo(tmp_path / "repo")


@pytest.fixture
def store(tmp_path: Path, repo: Path) -> MemoryStore:
    return MemoryStore.open(LOCAL, repo, tmp_path / "data")


# -- dedup, ids, filters ----------------------------------------------------------------------

class TestRecords:
    def test_same_signature_updates_instead_of_duplicating(self, store: MemoryStore, repo: Path) -> None:
        first, new = store.add(_record(PAIRS[0].first, repo, fix="guard the lookup"))
        assert new and first.times_seen == 1
        again, new = store.add(_record(PAIRS[0].second, repo, seen="2026-02-01T00:00:00Z"))
        assert not new and again.id == first.id
        assert (again.times_seen, again.fix, again.last_seen) == (2, "guard the lookup", "2026-02-01T00:00:00Z")
        store.add(_record(PAIRS[1].first, repo))
        assert store.count() == 2

    def test_get_by_prefix_and_forget(self, store: MemoryStore, repo: Path) -> None:
        record, _ = store.add(_record(PAIRS[2].first, repo))
        assert store.get(record.id) == store.get(record.id[:6].upper()) == record
        assert store.get(record.id[:3]) is None  # too short to be taken as a prefix
        assert store.get("0000") is None
        assert store.forget(record.id[:8]) == record
        assert store.count() == 0 and store.forget(record.id) is None

    def test_filters(self, store: MemoryStore, repo: Path) -> None:
        store.add_many([_record(p.first, repo, files=["app/fix.py"] if n == 0 else ()) for n, p in enumerate(PAIRS)])
        python = store.records(Filters(language="python"))
        assert python and {r.language for r in python} == {"python"}
        assert {r.error_type for r in store.records(Filters(error_type="KeyError"))} == {"KeyError"}
        by_name = store.records(Filters(file="models.py"))
        assert by_name == store.records(Filters(file="app/models.py")) and len(by_name) == 1
        assert [r.id for r in store.records(Filters(file="app/fix.py"))] == [by_name[0].id]
        hits = store.search(PAIRS[0].second, filters=Filters(language="go"))
        assert hits and all(h.fingerprint.language == "go" for h in hits)
        assert store.records(limit=3) == store.records()[:3]

    def test_export_import_round_trip_is_idempotent(self, store: MemoryStore, repo: Path, tmp_path: Path) -> None:
        store.add_many([_record(p.first, repo) for p in PAIRS[:5]])
        store.add(_record(PAIRS[0].second, repo, seen="2026-03-01T00:00:00Z", fix="f"))
        exported = store.export()
        lines = [json.dumps(r.to_dict()) for r in exported]
        other = MemoryStore.open(LOCAL, _repo(tmp_path / "other"), tmp_path / "data2")
        records = [Fingerprint.from_dict(json.loads(line)) for line in lines]
        _, new = other.add_many(records)
        assert new == 5
        _, new = other.add_many(records)
        assert new == 0
        assert other.export() == exported  # counts not doubled, nothing lost

    def test_clones_share_one_collection(self, tmp_path: Path, repo: Path) -> None:
        import git

        clone = tmp_path / "clone"
        git.Repo.clone_from(str(repo), str(clone))
        data = tmp_path / "data"
        MemoryStore.open(LOCAL, repo, data).add(_record(PAIRS[0].first, repo))
        assert MemoryStore.open(LOCAL, clone, data).count() == 1
        other = tmp_path / "unrelated"
        make_repo(other, {"main.go": "package main\n"})  # another root commit (same content would be the same commit)
        assert MemoryStore.open(LOCAL, other, data).count() == 0


# -- recall through Chroma -------------------------------------------------------------------

@pytest.fixture(scope="module")
def recall_store(tmp_path_factory: pytest.TempPathFactory) -> MemoryStore:
    base = tmp_path_factory.mktemp("recall")
    repo = _repo(base / "repo")
    store = MemoryStore.open(LOCAL, repo, base / "data")
    store.add_many([_record(p.first, repo) for p in PAIRS] + [_record(t, repo) for t in UNRELATED])
    return store


def test_recall_set_through_chroma(recall_store: MemoryStore) -> None:
    names = {_record(p.first, Path("/nowhere")).id: p.name for p in PAIRS}
    at1 = at3 = 0
    for pair in PAIRS:
        hits = recall_store.search(pair.second, n=3)
        ranked = [names.get(h.fingerprint.id, "unrelated") for h in hits]
        assert ranked[0] != "unrelated", pair.name
        at1 += ranked[0] == pair.name
        at3 += pair.name in ranked
    assert at1 / len(PAIRS) >= 0.95 and at3 == len(PAIRS)
    for text in NOVEL:
        assert recall_store.search(text, min_score=MIN_SCORE) == [], text


def test_free_text_search(recall_store: MemoryStore) -> None:
    hits = recall_store.search("Cannot read properties of undefined reading map in renderList", n=1)
    assert hits and hits[0].fingerprint.frames[0] == "src/list.js in renderList"


def test_another_process_write_is_seen_by_an_open_store(tmp_path: Path, repo: Path) -> None:
    data = tmp_path / "data"
    store = MemoryStore.open(LOCAL, repo, data)
    store.add(_record(UNRELATED[0], repo))
    assert store.search(PAIRS[5].second, min_score=MIN_SCORE) == []  # the client is open and warm now
    code = (
        "import sys; from pathlib import Path; from kimicode.config import Settings;"
        "from kimicode.memory.capture import build_fingerprint; from kimicode.memory.store import MemoryStore;"
        "repo, data = Path(sys.argv[1]), Path(sys.argv[2]);"
        "MemoryStore.open(Settings(), repo, data).add(build_fingerprint(sys.stdin.read(), repo))"
    )
    subprocess.run([sys.executable, "-c", code, str(repo), str(data)], input=PAIRS[5].first, text=True,
                   check=True, cwd=ROOT, timeout=120)
    hits = store.search(PAIRS[5].second, min_score=MIN_SCORE)
    assert hits and hits[0].exact


# -- unavailable, with one warning -----------------------------------------------------------

def test_corrupt_index(tmp_path: Path, repo: Path) -> None:
    data = tmp_path / "data"
    (data / "memory" / "chroma").mkdir(parents=True)
    (data / "memory" / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(MemoryUnavailable, match="unusable"):
        MemoryStore.open(LOCAL, repo, data)
    recall = recall_for_text(PAIRS[0].first, repo, LOCAL, data_dir=data)
    assert recall.text == "" and recall.warning.startswith("memory unavailable: ") and "\n" not in recall.warning
    ok, detail = memory_status(LOCAL, repo, data)
    assert not ok and "unusable" in detail


def test_locked_index(tmp_path: Path, repo: Path) -> None:
    data = tmp_path / "data"
    MemoryStore.open(LOCAL, repo, data)
    with open(data / "memory" / "chroma.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another writer, stuck
        started = time.monotonic()
        with pytest.raises(MemoryUnavailable, match="locked by another process"):
            MemoryStore.open(LOCAL, repo, data, lock_timeout=0.3)
        assert time.monotonic() - started < 5
    assert MemoryStore.open(LOCAL, repo, data).count() == 0  # usable again once released


def test_deleted_index_starts_empty(tmp_path: Path, repo: Path) -> None:
    import shutil

    data = tmp_path / "data"
    store = MemoryStore.open(LOCAL, repo, data)
    store.add(_record(PAIRS[0].first, repo))
    shutil.rmtree(data / "memory")
    try:
        assert store.count() == 0
    except MemoryUnavailable:
        pass  # also acceptable: one warning, no crash
    assert MemoryStore.open(LOCAL, repo, data).count() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server(repo: Path) -> None:
    settings = Settings(memory=MemorySettings(chroma_url=f"http://127.0.0.1:{_free_port()}"))
    started = time.monotonic()
    with pytest.raises(MemoryUnavailable, match="cannot reach the Chroma server"):
        MemoryStore.open(settings, repo)
    assert time.monotonic() - started < 5
    memory = SessionMemory(repo, settings)
    with pytest.raises(MemoryUnavailable):
        memory.shelf(PAIRS[0].first, 4000)  # the chat session shows this once...
    assert memory.shelf(PAIRS[0].first, 4000) == "" and memory.warning  # ...and then stays quiet


def test_memory_off(repo: Path, tmp_path: Path) -> None:
    off = Settings(memory=MemorySettings(enabled=False))
    with pytest.raises(MemoryUnavailable, match="turned off"):
        MemoryStore.open(off, repo, tmp_path / "data")
    assert recall_for_text(PAIRS[0].first, repo, off) == recall_for_text(PAIRS[0].first, None, LOCAL)
    assert recall_for_text(PAIRS[0].first, repo, off).warning == ""
    assert memory_status(off, repo) == (True, "turned off (memory.enabled = false)")


# -- recall for ask and chat -----------------------------------------------------------------

def test_recall_renders_the_memory_shelf(tmp_path: Path, repo: Path) -> None:
    data = tmp_path / "data"
    ok, detail = memory_status(LOCAL, repo, data)
    assert ok and "no local index yet" in detail and not data.exists()  # a health check creates nothing
    store = MemoryStore.open(LOCAL, repo, data)
    store.add(_record(PAIRS[0].first, repo, root_cause="ids from the old API are strings", fix="use USERS.get and raise UserNotFound",
                      files=["app/models.py"]))
    store.add(_record(UNRELATED[0], repo))
    recall = recall_for_text(f"it fails again:\n{PAIRS[0].second}", repo, LOCAL, data_dir=data)
    assert recall.warning == "" and len(recall.hits) == 1 and recall.hits[0].exact
    assert recall.text.startswith("# Memory: errors seen before in this repository")
    for part in ("KeyError: 'user_<n>'", "ids from the old API are strings", "use USERS.get and raise UserNotFound",
                 "Files: app/models.py", "the same error"):
        assert part in recall.text
    memory = SessionMemory(repo, LOCAL, data)  # what ask, chat and review call for each request
    assert memory.shelf(f"it fails again:\n{PAIRS[0].second}", 4000) == recall.text
    small = memory.shelf(f"it fails again:\n{PAIRS[0].second}", 200)  # a smaller budget: fewer hits, never more tokens
    assert small == "" or TokenCounter().count(small) <= 200
    assert memory.shelf("thanks, that worked", 4000) == "" and memory.warning == ""
    memory.close()
    ok, detail = memory_status(LOCAL, repo, data)
    assert ok and "2 fingerprints for this repository" in detail and "local index" in detail


def test_no_error_no_chromadb(repo: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from kimicode.config import Settings;"
        "from kimicode.memory.recall import recall_for_text;"
        "r = recall_for_text('How is the budget computed?', Path(sys.argv[1]), Settings());"
        "print(r.text == '' and r.warning == '', 'chromadb' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["True", "False"]


def test_fix_summary_parsing() -> None:
    summary = parse_fix_summary('```json\n{"fixed": true, "root_cause": "r", "fix": "f", "files": ["a.py"]}\n```')
    assert (summary.fixed, summary.root_cause, summary.fix, summary.files) == (True, "r", "f", ("a.py",))
    unfixed = parse_fix_summary('Here: {"fixed": false, "root_cause": "unknown", "fix": "tried x"}')
    assert (unfixed.root_cause, unfixed.fix) == ("", "")  # no fix was reached: none is recorded
    for bad in ("no json", "{not json}", "[1, 2]"):
        with pytest.raises(CaptureError):
            parse_fix_summary(bad)


def test_nothing_to_fingerprint(repo: Path) -> None:
    with pytest.raises(CaptureError, match="no error found"):
        build_fingerprint("all tests passed", repo)
    assert os.environ["KIMICODE_HOME"]  # the autouse fixture isolates every user dir


# -- an OpenAI-compatible embeddings endpoint instead of the hashing --------------------------

class _Embeddings(BaseHTTPRequestHandler):
    """POST /v1/embeddings answered with the hashed vectors, so results stay meaningful."""

    calls: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        from kimicode.memory.features import embed

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"path": self.path, "model": body["model"], "auth": self.headers.get("Authorization")})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(embed(texts))]
        payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def test_embeddings_endpoint(tmp_path: Path, repo: Path) -> None:
    from kimicode.memory.embedding import EndpointEmbedding
    from kimicode.memory.identity import repo_identity

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        store = MemoryStore(repo_identity(repo), folder=tmp_path / "data" / "memory" / "chroma", embeddings_url=url,
                            embeddings_model="embed-small", api_key="sk-embed-test-key-123456")
        store.add(_record(PAIRS[0].first, repo))
        store.add(_record(UNRELATED[0], repo))
        hits = store.search(PAIRS[0].second, n=2)
        assert hits[0].exact and hits[0].fingerprint.message == "'user_<n>'"
        calls = _Embeddings.calls
        assert calls and all(c["path"] == "/v1/embeddings" and c["model"] == "embed-small" for c in calls)
        assert calls[0]["auth"] == "Bearer sk-embed-test-key-123456"
        assert "sk-embed" not in json.dumps(EndpointEmbedding(url, "embed-small", "sk-embed-test-key-123456").get_config())
        hashed = MemoryStore.open(LOCAL, repo, tmp_path / "data")  # other vectors, other collection
        assert hashed.count() == 0
    finally:
        server.shutdown()
        server.server_close()
