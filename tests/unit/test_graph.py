from kimicode.repo.cache import FileRecord, digest_bytes
from kimicode.repo.graph import ImportGraph, import_graph
from kimicode.repo.symbols import RepoPathIndex, resolve_imports


def record(path: str, imports: tuple[str, ...], language: str = "python") -> FileRecord:
    # the digest stands for the content, which the imports come from
    return FileRecord(path, 10, 1, digest_bytes(repr((path, imports)).encode()), language, None, 1, True, imports)


def fresh(records: list[FileRecord]) -> dict[str, tuple[str, ...]]:
    index = RepoPathIndex([r.path for r in records])
    return {r.path: resolve_imports(r.path, r.language, r.imports, index) for r in records}


def targets(graph: ImportGraph) -> dict[str, tuple[str, ...]]:
    return {p: graph.of(p) for p in graph.paths}


RECORDS = [record("app/main.py", ("app.util", "app.models")), record("app/models.py", ("app.util",)),
           record("app/util.py", ()), record("lib/types.h", (), "c"), record("src/x.c", ('"types.h"',), "c")]


def test_an_unchanged_repository_resolves_nothing_and_the_graph_survives_storage() -> None:
    first = import_graph(RECORDS)
    assert first.resolved == len(RECORDS) and targets(first) == fresh(RECORDS)
    again = import_graph(RECORDS, first.to_bytes())
    assert again.resolved == 0 and targets(again) == fresh(RECORDS)


def test_an_edit_that_changes_imports_resolves_that_file_only() -> None:
    first = import_graph(RECORDS)
    edited = [record("app/main.py", ("app.util",)) if r.path == "app/main.py" else r for r in RECORDS]
    after = import_graph(edited, first.to_bytes())
    assert after.resolved == 1 and targets(after) == fresh(edited)


def test_an_edit_that_keeps_the_imports_resolves_nothing() -> None:
    first = import_graph(RECORDS)
    edited = [FileRecord(r.path, 11, 2, digest_bytes(b"new content"), r.language, None, 2, True, r.imports)
              if r.path == "app/main.py" else r for r in RECORDS]
    after = import_graph(edited, first.to_bytes())
    assert after.resolved == 0 and not after.stored and targets(after) == fresh(edited)
    assert import_graph(edited, after.to_bytes()).stored


def test_an_added_file_can_change_other_files_resolutions() -> None:
    first = import_graph(RECORDS)
    added = sorted(RECORDS + [record("src/types.h", (), "c")], key=lambda r: r.path)
    after = import_graph(added, first.to_bytes())
    assert targets(after) == fresh(added)
    assert after.of("src/x.c") == ("src/types.h",) != first.of("src/x.c")  # the closer one


def test_a_damaged_or_foreign_state_is_ignored() -> None:
    paths = sorted(r.path for r in RECORDS)
    assert ImportGraph.from_bytes(b"not marshal", paths) is None
    assert ImportGraph.from_bytes(None, paths) is None
    stored = import_graph(RECORDS).to_bytes()
    assert ImportGraph.from_bytes(stored, paths) is not None
    assert ImportGraph.from_bytes(stored, paths[1:]) is None  # made for other files
