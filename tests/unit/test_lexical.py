"""The words of files (terms.py) and BM25 over them (lexical.py)."""

from __future__ import annotations

from pathlib import Path

from kimicode.repo.cache import PackCache
from kimicode.repo.files import list_files
from kimicode.repo.lexical import LexicalIndex, load_index
from kimicode.repo.scan import scan_files
from kimicode.repo.terms import definition_hash, file_terms, split_identifier, term_hash, words
from tests.repos import make_repo


def test_words_split_snake_case_keep_camel_case_whole() -> None:
    assert words(b"def parse_http_Response(x): # Parse the HTTPResponse!") == [
        b"def", b"parse", b"http", b"response", b"x", b"parse", b"the", b"httpresponse"]
    assert split_identifier("parseHTTPResponse_v2") == ["parse", "http", "response", "v2"]


def _index(texts: list[str], defines: list[list[str]] | None = None) -> LexicalIndex:
    defines = defines or [[] for _ in texts]
    return LexicalIndex([file_terms(t.encode(), d) for t, d in zip(texts, defines)] + [None])


def test_bm25_prefers_rare_words_and_counts_only_files_with_them() -> None:
    index = _index(["the parser reads tokens", "the renderer writes tokens", "tokens tokens everywhere"])
    weights = {term_hash("parser"): 1.0, term_hash("tokens"): 1.0}
    scores = index.bm25(index.match(weights))
    assert scores.argmax() == 0  # "parser" is in one file only: it weighs more than "tokens"
    assert scores[3] == 0.0 and index.files == 4  # the file without words
    coverage = index.coverage(index.match(weights), weights)
    assert coverage[0] == 1.0 and 0 < coverage[1] < 1


def test_definitions_are_indexed_apart_from_words() -> None:
    index = _index(["compute_budget(1)", "def compute_budget(): pass"], [[], ["compute_budget"]])
    found = index.match({definition_hash("Compute_Budget"): 1.0})
    assert list(found.doc) == [1]  # a use of the name is not its definition


def test_load_index_reads_terms_cached_by_the_scan(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_repo(root, {"a.py": "def alpha():\n    return 'needle'\n", "b.py": "def beta():\n    pass\n"})
    cache = PackCache(tmp_path / "cache.sqlite")
    listing = list_files(root)
    records = sorted(scan_files(root, listing.files, cache).records, key=lambda r: r.path)
    assert set(cache.terms(r.digest for r in records)) == {r.digest for r in records}
    index = load_index(root, records, cache)
    assert list(index.bm25(index.match({term_hash("needle"): 1.0})) > 0) == [True, False]
    # an edited file's old words go: only contents some file still has are kept
    (root / "a.py").write_text("def alpha():\n    return 'haystack'\n")
    scan_files(root, list_files(root).files, cache)
    assert len(cache.terms(r.digest for r in records)) == 1
    cache.close()


def test_scanned_records_share_one_string_per_import_name(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_repo(root, {f"m{i}.py": "import os\nimport json\n" for i in range(3)})
    records = scan_files(root, list_files(root).files, PackCache(None)).records
    assert [r.imports for r in records] == [("json", "os")] * 3
    assert all(r.imports[0] is records[0].imports[0] and r.imports[1] is records[0].imports[1] for r in records)


def test_words_made_by_another_terms_version_are_made_again(tmp_path: Path) -> None:
    import sqlite3

    root = tmp_path / "repo"
    make_repo(root, {"a.py": "def alpha():\n    pass\n", "empty.py": "", "b.py": "x = 1\n"})
    db = tmp_path / "cache.sqlite"
    cache = PackCache(db)
    assert scan_files(root, list_files(root).files, cache).scanned == 3
    assert scan_files(root, list_files(root).files, cache).scanned == 0  # an empty file is not read again either
    cache.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE terms SET version = version - 1 WHERE rowid = (SELECT min(rowid) FROM terms)")
        # as after a new terms.VERSION: no snapshot of the records under the new version's name
        conn.execute("DELETE FROM state WHERE name LIKE 'records:%'")
    cache = PackCache(db)
    assert scan_files(root, list_files(root).files, cache).scanned == 1
    cache.close()
