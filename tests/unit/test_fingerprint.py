"""Error fingerprints: parsing per language, normalization, signatures, records, the offline embedding.

All pure: no Chroma, no network. The recall set's pairs are checked here with the
embedding alone; tests/unit/test_memory_store.py checks them again through real Chroma.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from kimicode.memory.features import DIMENSIONS, features, similarity, vector
from kimicode.memory.fingerprint import (
    Fingerprint,
    error_shapes,
    fingerprint_of,
    safe_excerpt,
    shape_document,
    signature_of,
)
from kimicode.memory.identity import normalize_remote
from kimicode.memory.normalize import frame_path, is_library_frame, normalize_message
from kimicode.memory.recall import MIN_SCORE
from tests.e2e.recall_set import NOVEL, PAIRS, UNRELATED


def only(text: str):  # type: ignore[no-untyped-def]
    shapes = error_shapes(text)
    assert len(shapes) == 1, shapes
    return shapes[0]


# -- parsing, one class per source ----------------------------------------------------------

class TestPython:
    def test_traceback_keeps_project_frames_innermost_first(self) -> None:
        text = (
            "Traceback (most recent call last):\n"
            '  File "/home/a/proj/app/main.py", line 42, in <module>\n    main()\n'
            '  File "/home/a/proj/app/models.py", line 12, in load_user\n    return USERS[uid]\n'
            "           ~~~~~^^^^^\n"
            '  File "/usr/lib/python3.11/json/__init__.py", line 293, in load\n    x\n'
            "KeyError: 'user_17'\n"
        )
        shape = only(text)
        assert (shape.language, shape.error_type, shape.message) == ("python", "KeyError", "'user_<n>'")
        assert shape.frames == ("app/models.py in load_user", "app/main.py in <module>")

    def test_chained_exceptions_keep_the_final_one(self) -> None:
        text = (
            'Traceback (most recent call last):\n  File "/srv/app/db.py", line 10, in connect\n    x\nKeyError: \'primary\'\n\n'
            "During handling of the above exception, another exception occurred:\n\n"
            'Traceback (most recent call last):\n  File "/srv/app/db.py", line 12, in connect\n    raise X\n'
            "ConnectionError: no database configured\n"
        )
        assert only(text).error_type == "ConnectionError"

    def test_log_prefix_and_dotted_type(self) -> None:
        text = (
            "2024-05-01 12:00:01,123 ERROR worker crashed\nTraceback (most recent call last):\n"
            '  File "/srv/app/config.py", line 88, in read\n    return json.load(fh)\n'
            "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n"
        )
        shape = only(text)
        assert shape.error_type == "json.decoder.JSONDecodeError"
        assert shape.message == "Expecting value: line <n> column <n> (char <n>)"

    def test_syntax_error_frame_has_no_function(self) -> None:
        text = ('Traceback (most recent call last):\n  File "/p/run.py", line 1, in <module>\n    import app.util\n'
                '  File "/p/app/util.py", line 7\n    def f(:\n          ^\nSyntaxError: invalid syntax\n')
        assert only(text).frames[0] == "app/util.py"

    def test_windows_paths(self) -> None:
        text = ('Traceback (most recent call last):\n  File "C:\\Users\\c\\shop\\app\\orders.py", line 75, in total\n'
                "    return x\nTypeError: bad operand\n")
        assert only(text).frames == ("app/orders.py in total",)


class TestPytest:
    def test_long_form_with_summary_is_one_error(self) -> None:
        text = (
            "=================================== FAILURES ===================================\n"
            "__________________________________ test_parse __________________________________\n\n"
            "    def test_parse():\n>       assert parse('12') == 13\nE       AssertionError: assert 12 == 13\n\n"
            "tests/test_parse.py:7: AssertionError\n"
            "=========================== short test summary info ============================\n"
            "FAILED tests/test_parse.py::test_parse - AssertionError: assert 12 == 13\n"
        )
        shape = only(text)
        assert (shape.error_type, shape.message, shape.frames) == (
            "AssertionError", "assert <n> == <n>", ("tests/test_parse.py in test_parse",))

    def test_short_traceback_names_functions(self) -> None:
        text = (
            "__________________________________ test_total __________________________________\n"
            "tests/test_cart.py:22: in test_total\n    assert cart.total() == 30\n"
            "app/cart.py:41: in total\n    return self.shipping()\n"
            "E   AttributeError: 'Cart' object has no attribute 'shipping'\n"
        )
        shape = only(text)
        assert shape.frames == ("app/cart.py in total", "tests/test_cart.py in test_total")
        assert shape.message == "'Cart' object has no attribute 'shipping'"

    def test_collection_error(self) -> None:
        text = (
            "_____________________ ERROR collecting tests/test_api.py ______________________\n"
            "/usr/lib/python3.11/importlib/__init__.py:126: in import_module\n    return x\n"
            "tests/test_api.py:3: in <module>\n    import httpx_mock\n"
            "E   ModuleNotFoundError: No module named 'httpx_mock'\n"
        )
        shape = only(text)
        assert (shape.error_type, shape.frames) == ("ModuleNotFoundError", ("tests/test_api.py in <module>",))

    def test_summary_lines_drop_parameters_and_values(self) -> None:
        a = only("FAILED tests/test_text.py::test_slug[Hello-hello] - AssertionError: assert 'hello_' == 'hello'\n")
        b = only("FAILED tests/test_text.py::test_slug[Crème-creme] - AssertionError: assert 'creme_' == 'creme'\n")
        assert a.frames == ("tests/test_text.py in test_slug",)
        assert a.signature == b.signature

    def test_several_failures(self) -> None:
        text = ("FAILED tests/a.py::test_one - KeyError: 'x'\n"
                "FAILED tests/b.py::TestB::test_two - ValueError: bad\nERROR tests/c.py - ImportError: nope\n")
        assert [s.error_type for s in error_shapes(text)] == ["KeyError", "ValueError", "ImportError"]


class TestJavaScript:
    def test_node_trace_skips_internal_frames(self) -> None:
        text = (
            "/home/b/web/src/list.js:12\n    return items.map(render);\n                 ^\n\n"
            "TypeError: Cannot read properties of undefined (reading 'map')\n"
            "    at renderList (/home/b/web/src/list.js:12:18)\n"
            "    at Object.<anonymous> (/home/b/web/src/index.js:5:1)\n"
            "    at Module._compile (node:internal/modules/cjs/loader:1256:14)\n"
            "    at node:internal/main/run_main_module:23:47\n"
        )
        shape = only(text)
        assert shape.language == "javascript"
        assert shape.frames == ("src/list.js in renderList", "src/index.js in <anonymous>")

    def test_error_code_and_async_frames(self) -> None:
        text = ("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'express'\n"
                "    at async loadRoutes (file:///srv/app/src/routes.mjs:4:3)\n")
        shape = only(text)
        assert shape.error_type == "Error [ERR_MODULE_NOT_FOUND]"
        assert shape.frames == ("src/routes.mjs in loadRoutes",)


class TestJava:
    def test_deepest_cause_names_the_error(self) -> None:
        text = (
            'Exception in thread "main" java.lang.IllegalStateException: failed to start\n'
            "\tat com.example.App.main(App.java:8)\n"
            'Caused by: java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null\n'
            "\tat com.example.service.UserService.validate(UserService.java:45)\n"
            "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1511)\n\t... 1 more\n"
        )
        shape = only(text)
        assert shape.error_type == "java.lang.NullPointerException"
        assert shape.message == 'Cannot invoke "String.length()" because "name" is null'
        assert shape.frames == ("com/example/service/UserService.java in UserService.validate", "com/example/App.java in App.main")


class TestGo:
    def test_panic_with_goroutine_trace(self) -> None:
        text = (
            "panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\n"
            "main.(*Parser).next(0xc000010000, {0x4b2f3e, 0x5})\n\t/home/u/go/src/parser/parser.go:27 +0x1d\n"
            "main.main()\n\t/home/u/go/src/parser/main.go:9 +0x25\nexit status 2\n"
        )
        shape = only(text)
        assert (shape.error_type, shape.message) == ("runtime error", "index out of range [<n>] with length <n>")
        assert shape.frames == ("parser/parser.go in main.(*Parser).next", "parser/main.go in main.main")

    def test_recovered_panic_in_a_test_skips_runtime_frames(self) -> None:
        text = (
            "panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n"
            "\tpanic: runtime error: invalid memory address or nil pointer dereference\n"
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x5d8f2a]\n\ngoroutine 18 [running]:\n"
            "testing.tRunner.func1.2({0x6a3c40, 0x8b1e30})\n\t/usr/local/go/src/testing/testing.go:1545 +0x238\n"
            "panic({0x6a3c40?, 0x8b1e30?})\n\t/usr/local/go/src/runtime/panic.go:914 +0x21f\n"
            "example.com/shop/api.(*Handler).ServeHTTP(0x0, {0x7a1b20, 0xc000136000})\n\t/home/u/shop/api/handler.go:28 +0x2a\n"
        )
        assert only(text).frames == ("api/handler.go in example.com/shop/api.(*Handler).ServeHTTP",)

    def test_go_test_failure(self) -> None:
        shape = only("--- FAIL: TestParse (0.00s)\n    parse_test.go:18: got 3, want 4\nFAIL\n")
        assert (shape.error_type, shape.message, shape.frames) == ("test failure", "got <n>, want <n>", ("parse_test.go in TestParse",))


class TestRust:
    def test_panic_new_and_old_formats_agree(self) -> None:
        new = only("thread 'main' panicked at src/math.rs:8:5:\nattempt to divide by zero\nnote: run with `RUST_BACKTRACE=1`\n")
        old = only("thread 'worker' panicked at 'attempt to divide by zero', src/math.rs:9:5\n")
        assert new.message == "attempt to divide by zero"
        assert new.signature == old.signature

    def test_backtrace_frames_without_std(self) -> None:
        text = (
            "thread 'main' panicked at src/config.rs:17:41:\ncalled `Option::unwrap()` on a `None` value\nstack backtrace:\n"
            "   0: rust_begin_unwind\n             at /rustc/82e1608d/library/std/src/panicking.rs:645:5\n"
            "   1: shopd::config::load::h1a2b3c4d5e6f7a8b\n             at ./src/config.rs:17:41\n"
        )
        shape = only(text)
        assert shape.message == "called 'Option::unwrap()' on a 'None' value"
        assert shape.frames == ("src/config.rs", "src/config.rs in shopd::config::load")

    def test_compiler_error(self) -> None:
        shape = only("error[E0308]: mismatched types\n  --> src/price.rs:21:18\n   |\n")
        assert (shape.error_type, shape.frames) == ("error[E0308]", ("src/price.rs",))


class TestC:
    def test_gcc_error_with_function_context(self) -> None:
        text = ("src/net.c: In function \u2018open_socket\u2019:\n"
                "src/net.c:42:5: error: implicit declaration of function \u2018connect_to\u2019 [-Wimplicit-function-declaration]\n"
                "   42 |     connect_to(host, 8080);\n")
        shape = only(text)
        assert (shape.language, shape.error_type) == ("c", "error [-Wimplicit-function-declaration]")
        assert (shape.message, shape.frames) == ("implicit declaration of function 'connect_to'", ("src/net.c in open_socket",))

    def test_cpp_and_clang(self) -> None:
        cpp = only("src/render.cpp:120:18: error: no matching function for call to 'draw(Shape&, int)'\n")
        assert (cpp.language, cpp.message) == ("cpp", "no matching function for call to 'draw(Shape&, int)'")
        clang = only("/abs/src/q.c:77:12: fatal error: 'config.h' file not found\n")
        assert (clang.error_type, clang.frames) == ("fatal error", ("src/q.c",))

    def test_linker(self) -> None:
        text = ("/usr/bin/ld: build/main.o: in function `main':\n"
                "main.cpp:(.text+0x25): undefined reference to `Logger::init(std::string const&)'\n")
        shape = only(text)
        assert (shape.language, shape.message) == ("cpp", "undefined reference to 'Logger::init(std::string const&)'")


class TestAnythingElse:
    def test_a_bare_error_in_a_question(self) -> None:
        shape = only("why do I get ModuleNotFoundError: No module named 'requests' when I run it")
        assert (shape.language, shape.error_type, shape.frames) == ("python", "ModuleNotFoundError", ())

    def test_text_without_errors(self) -> None:
        assert error_shapes("How does the budget get computed? Explain compute_budget.") == []
        assert error_shapes("") == [] and error_shapes("plain words") == []

    def test_colour_codes_and_crlf(self) -> None:
        plain = only("FAILED tests/a.py::test_x - KeyError: 'k'\n")
        coloured = only("\x1b[31mFAILED\x1b[0m tests/a.py::test_x - KeyError: 'k'\r\n")
        assert plain.signature == coloured.signature


# -- normalization --------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "normalized"), [
    ("Connection refused: 10.0.3.17:5433", "Connection refused: <ip>:<n>"),
    ("object at 0x7f3a2b1c9d40 is gone", "object at <addr> is gone"),
    ("request 6f1c2e8a-1b2c-4d5e-8f90-a1b2c3d4e5f6 failed", "request <uuid> failed"),
    ("at 2024-03-01T12:30:45.123Z and 12:30:45", "at <time> and <time>"),
    ("No such file: '/tmp/tmpab12cd/out/data.json'", "No such file: '<path>/data.json'"),
    ("cannot open C:\\Users\\x\\proj\\cfg.ini", "cannot open <path>/cfg.ini"),
    ("lock held by pytest-123 in tmpk3j_x9q", "lock held by <tmp> in <tmp>"),
    ("commit 9fceb02d0ae598e95dc970b74767f19372d61af8 missing", "commit <hex> missing"),
    ("expected int64, got user_42 (3.14)", "expected int64, got user_<n> (<n>)"),
    ("invalid literal for int() with base 10: '80a80'", "invalid literal for int() with base <n>: '<str>'"),
    ("'NoneType' object has no attribute 'split'", "'NoneType' object has no attribute 'split'"),
    ("assert 'hello_world' == 'hello-world'", "assert '<str>' == '<str>'"),
    ("see https://example.com/a/b?c=1 for details", "see <url> for details"),
])
def test_normalize_message(raw: str, normalized: str) -> None:
    assert normalize_message(raw) == normalized


def test_frame_paths_and_library_frames() -> None:
    assert frame_path("/home/a/proj/app/models.py") == "app/models.py"
    assert frame_path("/home/a/proj/app/models.py", "/home/a/proj") == "app/models.py"
    assert frame_path("./src/lib/x.rs") == "src/lib/x.rs"
    assert frame_path("file:///srv/web/src/a.mjs") == "src/a.mjs"
    for path in ("/usr/lib/python3.11/json/decoder.py", "/v/.venv/lib/python3.12/site-packages/x/y.py",
                 "node:internal/process/task_queues", "/home/u/web/node_modules/react/index.js",
                 "/usr/local/go/src/runtime/panic.go", "/home/u/.cargo/registry/src/x/lib.rs"):
        assert is_library_frame(path), path
    assert is_library_frame("", "java.util.ArrayList.forEach")
    assert not is_library_frame("/home/a/proj/lib/python_compat.py")


# -- signatures and records -----------------------------------------------------------------

def test_signature_is_stable_across_machines_and_edits() -> None:
    a = only('Traceback (most recent call last):\n  File "/home/a/p/app/m.py", line 12, in load\n    x\nKeyError: \'u_1\'\n')
    b = only('Traceback (most recent call last):\n  File "/Users/b/w/p2/app/m.py", line 97, in load\n    x\nKeyError: \'u_2\'\n')
    c = only('Traceback (most recent call last):\n  File "/home/a/p/app/m.py", line 12, in save\n    x\nKeyError: \'u_1\'\n')
    assert a.signature == b.signature != c.signature
    assert len(a.signature) == 16
    assert signature_of("python", "KeyError", "'u_<n>'", ["app/m.py in load"]) == a.signature


def test_parsing_is_deterministic_and_pure_of_chromadb() -> None:
    text = PAIRS[0].first
    assert error_shapes(text) == error_shapes(text)
    code = "import sys, kimicode.memory.fingerprint, kimicode.memory.features; print('chromadb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _fp(**kw) -> Fingerprint:  # type: ignore[no-untyped-def]
    shape = only(PAIRS[0].first)
    return fingerprint_of(shape, **kw)


def test_merge_counts_dates_and_the_better_fix() -> None:
    old = _fp(seen="2026-01-01T00:00:00Z", fix="guard the lookup", files=["app/models.py"])
    newer = _fp(seen="2026-02-01T00:00:00Z", fix="", root_cause="ids from the old API", files=["app/api.py"])
    merged = old.merged(newer)
    assert merged.times_seen == 2
    assert (merged.first_seen, merged.last_seen) == ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
    assert merged.fix == "guard the lookup"  # an empty fix never replaces one
    assert merged.root_cause == "ids from the old API"
    assert merged.files == ("app/models.py", "app/api.py")
    fixed_again = merged.merged(_fp(seen="2026-03-01T00:00:00Z", fix="use USERS.get"))
    assert fixed_again.fix == "use USERS.get" and fixed_again.times_seen == 3
    assert merged.merged(merged, add_counts=False).times_seen == 2  # an import never double counts


def test_record_round_trip_and_validation() -> None:
    record = _fp(seen="2026-01-01T00:00:00Z", fix="x", files=["a.py"])
    data = record.to_dict()
    assert Fingerprint.from_dict(data) == record
    assert Fingerprint.from_dict({**data, "future_field": 1}).to_dict()["future_field"] == 1
    for bad in ({**data, "signature": "nothex"}, {**data, "times_seen": 0}, {"language": "python"}, {**data, "message": 3}):
        with pytest.raises(ValueError):
            Fingerprint.from_dict(bad)


def test_excerpt_is_redacted_and_home_shortened() -> None:
    text = "Traceback...\n  File \"/home/alice/p/a.py\"\nAWS_SECRET = 'AKIAIOSFODNN7EXAMPLE'\n"
    safe = safe_excerpt(text, "/home/alice")
    assert "AKIAIOSFODNN7EXAMPLE" not in safe and "[REDACTED:" in safe
    assert '"~/p/a.py"' in safe


def test_remote_urls_normalize_to_one_key() -> None:
    urls = ["git@github.com:Org/Repo.git", "https://github.com/org/repo", "https://user:tok@github.com/Org/Repo.git/",
            "ssh://git@github.com/Org/Repo.git"]
    assert {normalize_remote(u) for u in urls} == {"github.com/org/repo"}


# -- the embedding --------------------------------------------------------------------------

def test_vectors_are_unit_length_and_deterministic() -> None:
    doc = shape_document(only(PAIRS[3].first))
    v = vector(features(doc))
    assert len(v) == DIMENSIONS
    assert abs(sum(x * x for x in v) - 1.0) < 1e-9
    assert v == vector(features(doc))
    assert len(vector({})) == DIMENSIONS  # no features: still a valid vector


def test_free_text_finds_the_structured_record() -> None:
    doc = shape_document(only(PAIRS[0].first))
    assert similarity("KeyError in load_user", doc) > similarity("TypeError in render_page", doc)


def _documents() -> list[tuple[str, str]]:
    stored = [(p.name, shape_document(only(p.first))) for p in PAIRS]
    return stored + [(f"unrelated-{n}", shape_document(error_shapes(t)[0])) for n, t in enumerate(UNRELATED)]


def test_recall_set_with_the_embedding_alone() -> None:
    assert len(PAIRS) >= 30
    stored = _documents()
    firsts = []
    for pair in PAIRS:
        query = shape_document(error_shapes(pair.second)[0])
        ranked = sorted(stored, key=lambda item: similarity(query, item[1]), reverse=True)
        firsts.append(ranked[0][0])
        assert not ranked[0][0].startswith("unrelated-"), pair.name
    recall = sum(f == p.name for f, p in zip(firsts, PAIRS)) / len(PAIRS)
    assert recall >= 0.95
    for text in NOVEL:
        query = shape_document(error_shapes(text)[0])
        assert max(similarity(query, d) for _, d in stored) < MIN_SCORE, text
