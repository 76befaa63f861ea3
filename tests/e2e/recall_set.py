"""The recall set: the same bug seen twice, on different runs and machines, plus other bugs.

Each pair's ``first`` is what was stored; ``second`` is the same bug later: another
checkout path (another user, CI, Windows, a temp dir), other line numbers (the file was
edited), other values, addresses and temp names, sometimes another entry point or extra
library frames. ``UNRELATED`` errors are stored too and must never come first for a
pair's query; many share an error type with a pair (the hard case). ``NOVEL`` errors are
never stored: no stored record should match them well.

The texts are built by small functions that print each tool's real format, so the data
reads like the output it imitates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

A = "/home/alice/src/shop"
B = "/Users/bob/work/shop-clone"
CI = "/builds/team/shop"
TMP = "/tmp/tmpq8f3k2x/shop"
WIN = "C:\\Users\\carol\\code\\shop"
PYLIB_A = "/usr/lib/python3.11"
PYLIB_B = "/Users/bob/.pyenv/versions/3.12.1/lib/python3.12"
SITE_A = "/home/alice/src/shop/.venv/lib/python3.11/site-packages"
SITE_B = "/opt/hostedtoolcache/Python/3.12.3/x64/lib/python3.12/site-packages"


@dataclass(frozen=True)
class Pair:
    name: str
    first: str
    second: str


def _join(root: str, rel: str) -> str:
    if "\\" in root:
        return root + "\\" + rel.replace("/", "\\")
    return f"{root}/{rel}"


def py(root: str, frames: Sequence[tuple[str, int, str, str]], exc: str, lib: Sequence[tuple[str, int, str]] = ()) -> str:
    """A Python traceback: ``frames`` (repo-relative path, line, function, code) outermost first, then ``lib``."""
    out = ["Traceback (most recent call last):"]
    for rel, line, func, code in frames:
        out += [f'  File "{_join(root, rel)}", line {line}, in {func}', f"    {code}"]
    for path, line, func in lib:
        out += [f'  File "{path}", line {line}, in {func}', "    return fn(*args)"]
    return "\n".join(out + [exc]) + "\n"


def pytest_long(test: str, rel: str, line: int, code: str, e_lines: Sequence[str], kind: str, seconds: float) -> str:
    bar = "_" * 20
    out = ["=================================== FAILURES ===================================",
           f"{bar} {test} {bar}", "", f"    def {test.split('.')[-1].split('[')[0]}():", f">       {code}"]
    out += [f"E       {e}" for e in e_lines]
    out += ["", f"{rel}:{line}: {kind}", "=========================== short test summary info ============================",
            f"FAILED {rel}::{test.replace('.', '::')} - {e_lines[0]}",
            f"========================= 1 failed, 41 passed in {seconds}s ========================="]
    return "\n".join(out) + "\n"


def node(root: str, error: str, frames: Sequence[tuple[str, str, int, int]], version: str = "v20.11.1") -> str:
    """A Node stack trace; a frame with an empty path is printed as given (node:internal...)."""
    out = [error]
    for func, rel, line, col in frames:
        loc = rel if rel.startswith("node:") or rel.startswith("/") else f"{root}/{rel}"
        out.append(f"    at {func} ({loc}:{line}:{col})" if func else f"    at {loc}:{line}:{col}")
    return "\n".join(out + ["", f"Node.js {version}"]) + "\n"


def java(top: str, frames: Sequence[str], causes: Sequence[tuple[str, Sequence[str]]] = (), thread: str = "main") -> str:
    out = [f'Exception in thread "{thread}" {top}'] + [f"\tat {f}" for f in frames]
    for cause, cframes in causes:
        out += [f"Caused by: {cause}"] + [f"\tat {f}" for f in cframes] + ["\t... 3 more"]
    return "\n".join(out) + "\n"


def go(root: str, panic: str, frames: Sequence[tuple[str, str, int]], goroutine: int = 1) -> str:
    out = [f"panic: {panic}", "", f"goroutine {goroutine} [running]:"]
    for n, (func, rel, line) in enumerate(frames):
        path = rel if rel.startswith("/") else f"{root}/{rel}"
        out += [func, f"\t{path}:{line} +0x{0x1d + 7 * n + line:x}"]
    return "\n".join(out + ["exit status 2"]) + "\n"


def rust(path: str, line: int, col: int, message: str, thread: str = "main", backtrace: Sequence[tuple[str, str]] = ()) -> str:
    out = [f"thread '{thread}' panicked at {path}:{line}:{col}:", message]
    if backtrace:
        out.append("stack backtrace:")
        for n, (func, loc) in enumerate(backtrace):
            out.append(f"  {n:>2}: {func}")
            if loc:
                out.append(f"             at {loc}")
    else:
        out.append("note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace")
    return "\n".join(out) + "\n"


def gcc(path: str, line: int, col: int, message: str, code: str, function: str = "", flag: str = "") -> str:
    out = [f"{path}: In function \u2018{function}\u2019:"] if function else []
    out.append(f"{path}:{line}:{col}: error: {message}" + (f" [{flag}]" if flag else ""))
    out += [f"{line:>5} | {code}", "      |     ^~~~~~"]
    return "\n".join(out) + "\n"


PAIRS: tuple[Pair, ...] = (
    # -- Python --------------------------------------------------------------------------------
    Pair("py-keyerror-load-user",
         py(A, [("app/main.py", 42, "<module>", "main()"), ("app/main.py", 38, "main", "user = load_user(cfg, 17)"),
                ("app/models.py", 12, "load_user", 'return USERS[uid]["name"]')], "KeyError: 'user_17'"),
         py(B, [("app/cli.py", 9, "run", "show(load_user(cfg, 4211))"),
                ("app/models.py", 15, "load_user", 'return USERS[uid]["name"]')], "KeyError: 'user_4211'")),
    Pair("py-none-split-headers",
         py(A, [("app/http.py", 88, "handle", "hdrs = parse_headers(raw)"), ("app/http.py", 31, "parse_headers", "key, value = line.split(':', 1)")],
            "AttributeError: 'NoneType' object has no attribute 'split'"),
         py(CI, [("app/server.py", 140, "serve", "self.handle(conn)"), ("app/http.py", 90, "handle", "hdrs = parse_headers(raw)"),
                 ("app/http.py", 33, "parse_headers", "key, value = line.split(':', 1)")],
            "AttributeError: 'NoneType' object has no attribute 'split'")),
    Pair("py-jsondecode-config",
         py(A, [("app/config.py", 21, "read_config", "return json.load(fh)")],
            "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
            lib=[(f"{PYLIB_A}/json/__init__.py", 293, "load"), (f"{PYLIB_A}/json/decoder.py", 355, "raw_decode")]),
         py(B, [("app/boot.py", 7, "start", "cfg = read_config(path)"), ("app/config.py", 24, "read_config", "return json.load(fh)")],
            "json.decoder.JSONDecodeError: Expecting value: line 3 column 5 (char 41)",
            lib=[(f"{PYLIB_B}/json/__init__.py", 299, "load"), (f"{PYLIB_B}/json/decoder.py", 353, "raw_decode")])),
    Pair("py-filenotfound-cache",
         py(A, [("app/cache.py", 57, "load_cache", "with open(path) as fh:")],
            f"FileNotFoundError: [Errno 2] No such file or directory: '{A}/.cache/index-20240301.json'"),
         py(TMP, [("app/cache.py", 61, "load_cache", "with open(path) as fh:")],
            f"FileNotFoundError: [Errno 2] No such file or directory: '{TMP}/.cache/index-20250917.json'")),
    Pair("py-typeerror-total",
         py(A, [("app/orders.py", 73, "total", "return sum(item.price * item.qty for item in items)")],
            "TypeError: unsupported operand type(s) for *: 'decimal.Decimal' and 'float'"),
         py(WIN, [("app\\invoice.py", 18, "render", "amount = total(order.items)"),
                  ("app\\orders.py", 75, "total", "return sum(item.price * item.qty for item in items)")],
            "TypeError: unsupported operand type(s) for *: 'decimal.Decimal' and 'float'")),
    Pair("py-valueerror-port",
         py(A, [("app/settings.py", 14, "get_port", 'return int(os.environ["PORT"])')],
            "ValueError: invalid literal for int() with base 10: '80a80'"),
         py(CI, [("app/settings.py", 16, "get_port", 'return int(os.environ["PORT"])')],
            "ValueError: invalid literal for int() with base 10: '8080/tcp'")),
    Pair("py-recursion-tree",
         py(A, [("app/tree.py", 40, "depth", "return 1 + max(depth(c) for c in node.children)")] * 3,
            "RecursionError: maximum recursion depth exceeded while calling a Python object"),
         py(B, [("app/tree.py", 44, "depth", "return 1 + max(depth(c) for c in node.children)")] * 5,
            "RecursionError: maximum recursion depth exceeded")),
    Pair("py-modulenotfound-yaml",
         py(A, [("app/loaders.py", 3, "<module>", "import yaml")], "ModuleNotFoundError: No module named 'yaml'"),
         py(CI, [("app/__init__.py", 1, "<module>", "from app.loaders import load"), ("app/loaders.py", 3, "<module>", "import yaml")],
            "ModuleNotFoundError: No module named 'yaml'")),
    Pair("py-sqlalchemy-integrity",
         py(A, [("app/repo.py", 102, "save_user", "session.commit()")],
            "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: users.email",
            lib=[(f"{SITE_A}/sqlalchemy/orm/session.py", 1969, "commit")]),
         py(B, [("app/api.py", 55, "signup", "repo.save_user(u)"), ("app/repo.py", 106, "save_user", "session.commit()")],
            "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed: users.email",
            lib=[(f"{SITE_B}/sqlalchemy/orm/session.py", 2017, "commit"), (f"{SITE_B}/sqlalchemy/engine/base.py", 1967, "_exec")])),
    Pair("py-indexerror-pagination",
         py(A, [("app/pages.py", 19, "page", "return rows[start + size - 1]")], "IndexError: list index out of range"),
         py(TMP, [("app/views.py", 66, "listing", "last = page(rows, 3, 20)"), ("app/pages.py", 21, "page", "return rows[start + size - 1]")],
            "IndexError: list index out of range")),
    Pair("pytest-parse-amount",
         pytest_long("test_parse_amount", "tests/test_money.py", 12, 'assert parse_amount("12,50") == Decimal("12.50")',
                     ["AssertionError: assert Decimal('1250') == Decimal('12.50')"], "AssertionError", 0.84),
         pytest_long("test_parse_amount", "tests/test_money.py", 14, 'assert parse_amount("7,05") == Decimal("7.05")',
                     ["AssertionError: assert Decimal('705') == Decimal('7.05')"], "AssertionError", 1.21)),
    Pair("pytest-summary-slugify",
         "FAILED tests/test_text.py::test_slugify[Hello World-hello-world] - AssertionError: assert 'hello_world' == 'hello-world'\n",
         "FAILED tests/test_text.py::test_slugify[Crème brûlée-creme-brulee] - AssertionError: assert 'creme_brulee' == 'creme-brulee'\n"),
    # -- JavaScript / Node ---------------------------------------------------------------------
    Pair("js-map-undefined",
         node(A, "TypeError: Cannot read properties of undefined (reading 'map')",
              [("renderList", "src/list.js", 12, 18), ("Object.<anonymous>", "src/index.js", 5, 1),
               ("Module._compile", "node:internal/modules/cjs/loader", 1256, 14)]),
         node(B, "TypeError: Cannot read properties of undefined (reading 'map')",
              [("renderList", "src/list.js", 14, 22), ("App", "src/app.js", 31, 9),
               ("processTicksAndRejections", "node:internal/process/task_queues", 95, 5)], version="v18.19.0")),
    Pair("js-module-not-found",
         node(A, "Error: Cannot find module './routes/admin'\nRequire stack:\n- /home/alice/src/shop/server.js",
              [("Module._resolveFilename", "node:internal/modules/cjs/loader", 1048, 15),
               ("Object.<anonymous>", "server.js", 7, 15)]),
         node(CI, "Error: Cannot find module './routes/admin'\nRequire stack:\n- /builds/team/shop/server.js",
              [("Module._resolveFilename", "node:internal/modules/cjs/loader", 1145, 15),
               ("Object.<anonymous>", "server.js", 9, 15)])),
    Pair("js-json-parse-body",
         node(A, 'SyntaxError: Unexpected token < in JSON at position 0',
              [("parseBody", "src/api/client.js", 44, 21), ("async fetchOrders", "src/api/orders.js", 18, 16)]),
         node(B, 'SyntaxError: Unexpected token < in JSON at position 0',
              [("parseBody", "src/api/client.js", 47, 21), ("async fetchOrders", "src/api/orders.js", 20, 16)])),
    Pair("js-econnrefused",
         node(A, "Error: connect ECONNREFUSED 127.0.0.1:5432",
              [("TCPConnectWrap.afterConnect [as oncomplete]", "node:net", 1595, 16), ("connectDb", "src/db.js", 22, 11)]),
         node(CI, "Error: connect ECONNREFUSED 10.0.3.17:5433",
              [("TCPConnectWrap.afterConnect [as oncomplete]", "node:net", 1607, 16), ("connectDb", "src/db.js", 25, 11)])),
    Pair("js-not-a-function",
         node(A, "TypeError: user.getFullName is not a function",
              [("formatUser", "src/users/format.js", 9, 20)]),
         node(TMP, "TypeError: user.getFullName is not a function",
              [("formatUser", "src/users/format.js", 11, 20), ("renderProfile", "src/users/profile.js", 30, 5)])),
    # -- Java ------------------------------------------------------------------------------------
    Pair("java-npe-validate",
         java('java.lang.IllegalStateException: failed to start', ["com.example.App.main(App.java:8)"],
              [('java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null',
                ["com.example.service.UserService.validate(UserService.java:45)", "com.example.App.run(App.java:15)"])]),
         java('java.lang.IllegalStateException: failed to start', ["com.example.App.main(App.java:9)"],
              [('java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null',
                ["com.example.service.UserService.validate(UserService.java:51)", "com.example.App.run(App.java:17)",
                 "java.base/java.util.ArrayList.forEach(ArrayList.java:1511)"])])),
    Pair("java-number-format",
         java('java.lang.NumberFormatException: For input string: "12a"',
              ["java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)",
               "java.base/java.lang.Integer.parseInt(Integer.java:662)",
               "com.example.config.Limits.parse(Limits.java:30)", "com.example.App.main(App.java:12)"]),
         java('java.lang.NumberFormatException: For input string: "7,5"',
              ["java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)",
               "java.base/java.lang.Integer.parseInt(Integer.java:668)",
               "com.example.config.Limits.parse(Limits.java:33)", "com.example.cli.Main.start(Main.java:41)"], thread="worker-3")),
    Pair("java-index-oob",
         java("java.lang.ArrayIndexOutOfBoundsException: Index 5 out of bounds for length 5",
              ["com.example.report.Table.cell(Table.java:88)", "com.example.report.Report.render(Report.java:120)"]),
         java("java.lang.ArrayIndexOutOfBoundsException: Index 12 out of bounds for length 12",
              ["com.example.report.Table.cell(Table.java:91)", "com.example.report.Report.render(Report.java:127)",
               "com.example.Main.main(Main.java:20)"])),
    Pair("java-class-cast",
         java("java.lang.ClassCastException: class java.lang.Integer cannot be cast to class java.lang.String "
              "(java.lang.Integer and java.lang.String are in module java.base of loader 'bootstrap')",
              ["com.example.cache.Store.getName(Store.java:64)", "com.example.App.main(App.java:30)"]),
         java("java.lang.ClassCastException: class java.lang.Integer cannot be cast to class java.lang.String "
              "(java.lang.Integer and java.lang.String are in module java.base of loader 'bootstrap')",
              ["com.example.cache.Store.getName(Store.java:66)", "com.example.web.Handler.get(Handler.java:12)"])),
    Pair("java-concurrent-mod",
         java("java.util.ConcurrentModificationException",
              ["java.base/java.util.ArrayList$Itr.checkForComodification(ArrayList.java:1013)",
               "java.base/java.util.ArrayList$Itr.next(ArrayList.java:967)",
               "com.example.cart.Cart.removeExpired(Cart.java:52)"]),
         java("java.util.ConcurrentModificationException",
              ["java.base/java.util.ArrayList$Itr.checkForComodification(ArrayList.java:1095)",
               "java.base/java.util.ArrayList$Itr.next(ArrayList.java:1049)",
               "com.example.cart.Cart.removeExpired(Cart.java:55)", "com.example.jobs.Sweeper.run(Sweeper.java:19)"],
              thread="pool-1-thread-2")),
    # -- Go --------------------------------------------------------------------------------------
    Pair("go-index-range",
         go("/home/u/go/src/parser", "runtime error: index out of range [5] with length 3",
            [("main.(*Parser).next(0xc000010000, {0x4b2f3e, 0x5})", "parser.go", 27), ("main.main()", "main.go", 9)]),
         go("/root/build/parser", "runtime error: index out of range [12] with length 12",
            [("main.(*Parser).next(0xc0000a2000, {0x4c1a20, 0xc})", "parser.go", 31), ("main.parseAll(...)", "main.go", 22),
             ("main.main()", "main.go", 14)])),
    Pair("go-nil-map",
         go(A, "assignment to entry in nil map",
            [("shop/internal/cart.(*Cart).Add(...)", "internal/cart/cart.go", 40), ("main.main()", "cmd/shop/main.go", 17)]),
         go(CI, "assignment to entry in nil map",
            [("shop/internal/cart.(*Cart).Add(0x0, {0xc00001c0a0, 0x6}, 0x2)", "internal/cart/cart.go", 43),
             ("shop/internal/api.addHandler({0x7d2b40, 0xc0000c2000}, 0xc0000b4100)", "internal/api/cart.go", 88)])),
    Pair("go-nil-pointer",
         "panic: runtime error: invalid memory address or nil pointer dereference\n"
         "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4a8f2c]\n\n"
         "goroutine 7 [running]:\nshop/internal/db.(*Store).Get(0x0, {0x5c3e21, 0x4})\n"
         f"\t{A}/internal/db/store.go:61 +0x2c\nshop/internal/api.(*Server).item(0xc000132000)\n"
         f"\t{A}/internal/api/items.go:33 +0x8f\n",
         "panic: runtime error: invalid memory address or nil pointer dereference\n"
         "[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4b9e1d]\n\n"
         "goroutine 23 [running]:\nshop/internal/db.(*Store).Get(0x0, {0xc0001a4010, 0x9})\n"
         f"\t{B}/internal/db/store.go:64 +0x3d\nshop/internal/api.(*Server).item(0xc00021e000)\n"
         f"\t{B}/internal/api/items.go:35 +0x91\nnet/http.HandlerFunc.ServeHTTP(0xc0001b2000)\n"
         "\t/usr/local/go/src/net/http/server.go:2136 +0x29\n"),
    Pair("go-test-failure",
         "--- FAIL: TestParseDuration (0.00s)\n    duration_test.go:18: ParseDuration(\"1h30m\") = 5400s, want 5400000ms\nFAIL\n",
         "--- FAIL: TestParseDuration (0.01s)\n    duration_test.go:21: ParseDuration(\"2h\") = 7200s, want 7200000ms\nFAIL\n"),
    Pair("go-deadlock",
         "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\nmain.main()\n"
         f"\t{A}/cmd/worker/main.go:25 +0x65\nexit status 2\n",
         "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\nmain.main()\n"
         f"\t{CI}/cmd/worker/main.go:29 +0x6a\nexit status 2\n"),
    # -- Rust ------------------------------------------------------------------------------------
    Pair("rust-unwrap-config",
         rust("src/config.rs", 14, 37, 'called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, '
              'message: "No such file or directory" }'),
         rust("src/config.rs", 17, 41, 'called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, '
              'message: "No such file or directory" }', backtrace=[
                  ("rust_begin_unwind", "/rustc/82e1608dfa6e0b5569232559e3d385fea5a93112/library/std/src/panicking.rs:645:5"),
                  ("core::result::unwrap_failed", "/rustc/82e1608dfa6e0b5569232559e3d385fea5a93112/library/core/src/result.rs:1653:5"),
                  ("shopd::config::load::h1a2b3c4d5e6f7a8b", "./src/config.rs:17:41"),
                  ("shopd::main::h99aa88bb77cc66dd", "./src/main.rs:8:18")])),
    Pair("rust-index-bounds",
         rust("src/grid.rs", 52, 9, "index out of bounds: the len is 3 but the index is 3"),
         rust("src/grid.rs", 55, 9, "index out of bounds: the len is 10 but the index is 14", thread="tokio-runtime-worker")),
    Pair("rust-option-none",
         rust("src/session.rs", 88, 44, "called `Option::unwrap()` on a `None` value"),
         rust("src/session.rs", 91, 44, "called `Option::unwrap()` on a `None` value", thread="actix-rt|system:0|arbiter:1")),
    Pair("rust-e0308",
         "error[E0308]: mismatched types\n  --> src/price.rs:21:18\n   |\n21 |     let cents: u32 = total * 100.0;\n"
         "   |                ---   ^^^^^^^^^^^^^ expected `u32`, found `f64`\n",
         "error[E0308]: mismatched types\n  --> src/price.rs:24:18\n   |\n24 |     let cents: u32 = total * 100.0;\n"
         "   |                ---   ^^^^^^^^^^^^^ expected `u32`, found `f64`\n"),
    Pair("rust-overflow",
         rust("src/stats.rs", 30, 5, "attempt to subtract with overflow"),
         rust("src/stats.rs", 33, 5, "attempt to subtract with overflow", thread="stats::tests::empty_window")),
    # -- C / C++ ---------------------------------------------------------------------------------
    Pair("c-implicit-decl",
         gcc("src/net.c", 42, 5, "implicit declaration of function \u2018connect_to\u2019", "connect_to(host, 8080);",
             "open_socket", "-Wimplicit-function-declaration"),
         gcc("src/net.c", 47, 5, "implicit declaration of function 'connect_to'; did you mean 'connect'?",
             "connect_to(host, port);", "", "-Wimplicit-function-declaration")),
    Pair("c-missing-header",
         f"{A}/src/main.c:3:10: fatal error: config.h: No such file or directory\n    3 | #include \"config.h\"\n"
         "      |          ^~~~~~~~~~\ncompilation terminated.\n",
         f"{CI}/src/main.c:4:10: fatal error: config.h: No such file or directory\n    4 | #include \"config.h\"\n"
         "      |          ^~~~~~~~~~\ncompilation terminated.\n"),
    Pair("cpp-no-matching",
         gcc("src/render.cpp", 120, 18, "no matching function for call to \u2018draw(Shape&, int)\u2019",
             "draw(*shape, 3);", "void Canvas::paint()"),
         gcc("src/render.cpp", 131, 18, "no matching function for call to \u2018draw(Shape&, int)\u2019",
             "draw(*shape, layer);", "void Canvas::paint()")),
    Pair("c-undefined-ref",
         "/usr/bin/ld: build/main.o: in function `main':\nmain.c:(.text+0x1e): undefined reference to `hash_table_free'\n"
         "collect2: error: ld returned 1 exit status\n",
         "/usr/bin/ld: /tmp/ccX1b2c3.o: in function `main':\nmain.c:(.text+0x2f): undefined reference to `hash_table_free'\n"
         "collect2: error: ld returned 1 exit status\n"),
    Pair("clang-undeclared",
         "src/queue.c:77:12: error: use of undeclared identifier 'QUEUE_MAX'\n   77 |     if (n >= QUEUE_MAX) {\n"
         "      |              ^\n1 error generated.\n",
         "src/queue.c:80:12: error: use of undeclared identifier 'QUEUE_MAX'\n   80 |     if (len >= QUEUE_MAX) {\n"
         "      |               ^\n1 error generated.\n"),
)

UNRELATED: tuple[str, ...] = (
    # same type as pairs above, other bugs
    py(A, [("app/auth.py", 30, "check_token", "return TOKENS[token]")], "KeyError: 'session'"),
    py(A, [("app/csv_import.py", 48, "read_rows", "name = row.get('name').strip()")],
       "AttributeError: 'NoneType' object has no attribute 'strip'"),
    py(A, [("app/mailer.py", 12, "send", "smtp.login(user, password)")], "TypeError: send() missing 1 required positional argument: 'to'"),
    py(A, [("app/images.py", 9, "<module>", "from PIL import Image")], "ModuleNotFoundError: No module named 'PIL'"),
    py(A, [("app/dates.py", 22, "parse_date", "return datetime.strptime(s, '%Y-%m-%d')")],
       "ValueError: time data '03/01/2024' does not match format '%Y-%m-%d'"),
    py(A, [("app/queue.py", 70, "pop", "return self.items.pop(0)")], "IndexError: pop from empty list"),
    pytest_long("test_refund", "tests/test_orders.py", 40, "assert refund(order) == 0", ["assert 15 == 0"], "AssertionError", 0.5),
    node(A, "TypeError: Cannot read properties of null (reading 'id')", [("selectUser", "src/store/users.js", 51, 30)]),
    node(A, "ReferenceError: fetch is not defined", [("getPrices", "src/prices.js", 3, 20)]),
    java("java.lang.NullPointerException: Cannot invoke \"java.util.List.size()\" because \"items\" is null",
         ["com.example.cart.Cart.count(Cart.java:20)"]),
    java("java.lang.IllegalArgumentException: Unknown currency: XYZ", ["com.example.money.Currency.of(Currency.java:44)"]),
    go(A, "runtime error: slice bounds out of range [:8] with capacity 4", [("shop/internal/codec.Decode(...)", "internal/codec/codec.go", 19)]),
    rust("src/main.rs", 12, 5, "explicit panic"),
    rust("src/db.rs", 40, 10, "called `Result::unwrap()` on an `Err` value: PoolTimedOut"),
    gcc("src/list.c", 15, 9, "incompatible pointer types passing 'char *' to parameter of type 'int *'", "push(list, name);",
        "add_name", "-Wincompatible-pointer-types"),
    "src/main.c:9:1: error: expected ';' before '}' token\n    9 | }\n      | ^\n",
)

NOVEL: tuple[str, ...] = (
    py(B, [("tools/export.py", 12, "write_pdf", "doc.save(out)")], "PermissionError: [Errno 13] Permission denied: '/var/out/report.pdf'"),
    node(B, "RangeError: Maximum call stack size exceeded", [("walk", "lib/tree-walk.js", 8, 3)]),
    java("java.io.UncheckedIOException: java.nio.file.NoSuchFileException: /etc/shop/keys.pem",
         ["com.example.crypto.Keys.load(Keys.java:77)"]),
    go(B, "send on closed channel", [("shop/internal/events.(*Bus).Publish(...)", "internal/events/bus.go", 54)]),
    rust("src/lexer.rs", 201, 13, "byte index 7 is not a char boundary; it is inside 'é' (bytes 6..8) of `café au lait`"),
    gcc("src/matrix.cpp", 10, 3, "'vector' was not declared in this scope", "vector<double> row;", "Matrix::Matrix(int)"),
)
