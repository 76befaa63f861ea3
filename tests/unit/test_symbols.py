"""Regex symbol scan and import resolution."""

from __future__ import annotations

import textwrap

import pytest

from kimicode.repo.symbols import FileSymbols, RepoPathIndex, resolve_imports, scan


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --- scan ------------------------------------------------------------------------------

SCAN_CASES: dict[str, tuple[str, set[str], set[str]]] = {
    "python": (
        _src('''
            """Docs: import this and that."""
            from __future__ import annotations
            import os, sys as system
            import a.b.c as abc
            from .config import load
            from . import util
            from .. import parent
            from pkg.sub import (
                mod_a,
                mod_b as b,
            )

            class Foo(Base):
                def bar(self):
                    pass

            async def baz():
                pass

            class Generic[T]:
                pass
        '''),
        {"Foo", "bar", "baz", "Generic"},
        {"__future__", "os", "sys", "a.b.c", ".config", ".config.load", ".", ".util", "..", "..parent",
         "pkg.sub", "pkg.sub.mod_a", "pkg.sub.mod_b"},
    ),
    "javascript": (
        _src("""
            import React, { useState } from "react";
            import "./side.css";
            import {
              a,
              b,
            } from './multi';
            export { x } from "./reexport";
            export * from "./all";
            const fs = require('fs');
            const { join } = require("path");
            export async function add(a, b) { return a + b; }
            export default class Widget extends Base {
              render() {
                if (x) {
                  return null;
                }
              }
            }
            export const mul = (a, b) => a * b;
            const f2 = async function named(x) { return x; };
            let arrow = x => x;
        """),
        {"add", "Widget", "render", "mul", "f2", "arrow"},
        {"react", "./side.css", "./multi", "./reexport", "./all", "fs", "path"},
    ),
    "typescript": (
        _src("""
            import type { Foo } from "./foo";
            import * as path from 'path';
            export interface Shape {
              area(): number;
            }
            export type Props = { a: number };
            enum Color { Red }
            declare namespace NS {}
            export abstract class Base<T> implements Shape {
              public async load(name: string): Promise<string> {
                return name;
              }
            }
            export const typed = (a: number): number => a;
        """),
        {"Shape", "Props", "Color", "NS", "Base", "load", "typed"},
        {"./foo", "path"},
    ),
    "go": (
        _src("""
            package main

            import "fmt"
            import (
            \t"os"
            \tstr "strings"
            \t"github.com/acme/app/internal/store"
            )

            type Server struct {
            \tAddr string
            }

            type (
            \tID int
            \tReader interface {
            \t\tRead(p []byte) (n int, err error)
            \t}
            )

            func (s *Server) Start() error {
            \treturn nil
            }

            func main() {}
        """),
        {"Server", "ID", "Reader", "Start", "main"},
        {"fmt", "os", "strings", "github.com/acme/app/internal/store"},
    ),
    "rust": (
        _src("""
            use std::collections::HashMap;
            use crate::a::{b, c::{d, e as f}, self};
            pub use super::sibling::Item;
            mod util;
            pub(crate) mod net;
            extern crate serde;
            pub struct Point { x: i32 }
            enum E { A }
            pub trait Shape {
                fn area(&self) -> f64;
            }
            mod inner {
                pub fn f() {}
            }
            pub(crate) async unsafe fn go() {}
            macro_rules! m { () => {} }
        """),
        {"Point", "E", "Shape", "area", "inner", "f", "go", "m"},
        {"std::collections::HashMap", "crate::a", "crate::a::b", "crate::a::c::d", "crate::a::c::e",
         "super::sibling::Item", "mod util", "mod net", "serde"},
    ),
    "java": (
        _src("""
            package com.acme;

            import java.util.List;
            import static org.junit.Assert.*;
            import com.acme.util.Helper;

            @Service
            public final class UserService extends Base {
                private final int limit = compute(3);
                public UserService(Repo repo) { this.repo = repo; }
                @Override
                public <T> List<T> find(String name) { return null; }
                static void helper() { call(1); }
                interface Cb { void call(int x); }
            }
            record Pt(int x, int y) {}
        """),
        {"UserService", "find", "helper", "Cb", "Pt"},
        {"java.util.List", "org.junit.Assert.*", "com.acme.util.Helper"},
    ),
    "c": (
        _src("""
            #include <stdio.h>
            #include "util/str.h"
            #define MAX(a, b) ((a) > (b) ? (a) : (b))
            static int add(int a, int b) { return a + b; }
            char *dup(const char *s);
            static const char *
            name_of(int x)
            {
                if (x) return "a";
            }
            struct point { int x; };
            struct point *make_point(void);
            typedef struct {
                int a;
            } pair_t;
            MODULE_LICENSE("GPL");
        """),
        {"MAX", "add", "dup", "name_of", "point", "make_point", "pair_t"},
        {"<stdio.h>", '"util/str.h"'},
    ),
    "cpp": (
        _src("""
            #include <vector>
            namespace ns {
            class Widget : public Base {
              public:
                int get() const;
            };
            template <typename T>
            T maxOf(T a, T b) { return a; }
            Widget::Widget(int x) : x_(x) {}
            int Widget::compute(int y) const { return y; }
            }
        """),
        {"ns", "Widget", "maxOf", "compute"},
        {"<vector>"},
    ),
    "ruby": (
        _src("""
            require "json"
            require 'acme/util'
            require_relative "lib/foo"
            require_relative '../shared'
            module Outer
              class Foo < Bar
                def initialize(a)
                end
                def self.create; end
                def valid?; end
              end
            end
        """),
        {"Outer", "Foo", "initialize", "create", "valid?"},
        {"json", "acme/util", "./lib/foo", "../shared"},
    ),
}


@pytest.mark.parametrize("language", sorted(SCAN_CASES))
def test_scan_per_language(language: str) -> None:
    text, defines, imports = SCAN_CASES[language]
    result = scan(language, text)
    assert set(result.defines) == defines
    assert set(result.imports) == imports
    assert list(result.defines) == sorted(defines) and list(result.imports) == sorted(imports)


def test_tsx_uses_the_typescript_patterns() -> None:
    text = 'import React from "react";\nexport function App(): JSX.Element {\n  return <div/>;\n}\n'
    assert scan("tsx", text) == FileSymbols(("App",), ("react",))


@pytest.mark.parametrize("language", [None, "markdown", ""])
def test_scan_unknown_language(language: str | None) -> None:
    assert scan(language, "def f():\n    import os\n") == FileSymbols((), ())


@pytest.mark.parametrize("language", sorted(SCAN_CASES))
def test_scan_odd_input(language: str) -> None:
    for text in ("", "\x00\x00def\x00", "from x import (\n" * 50, "use a::{b" * 100, "type (" * 100, "x" * 1_000_000,
                 "import " + "a" * 1_000_000, "\r\n".join(["class A:", "  def f(self):", "    pass"])):
        assert isinstance(scan(language, text), FileSymbols)


def test_scan_handles_crlf() -> None:
    assert scan("python", "import os\r\nclass A:\r\n  def f(self):\r\n    pass\r\n") == FileSymbols(("A", "f"), ("os",))


def test_scan_deterministic() -> None:
    for language, (text, _defines, _imports) in SCAN_CASES.items():
        assert scan(language, text) == scan(language, text)


# --- resolution ------------------------------------------------------------------------

REPO = [
    # python
    "src/acme/__init__.py",
    "src/acme/core.py",
    "src/acme/sub/__init__.py",
    "src/acme/sub/deep.py",
    "src/acme/os.py",
    "tests/helpers.py",
    "tests/test_core.py",
    "setup.py",
    # js / ts
    "web/src/app.ts",
    "web/src/util.ts",
    "web/src/components/index.tsx",
    "web/src/legacy.js",
    "web/lib/helper.mjs",
    # c / c++
    "csrc/main.c",
    "csrc/util.h",
    "include/acme/api.h",
    "third_party/zlib/zlib.h",
    "libc/include/stdio.h",
    "a/config.h",
    "b/config.h",
    "b/main.c",
    # go
    "go.mod",
    "cmd/server/main.go",
    "internal/store/store.go",
    "internal/store/cache.go",
    "internal/store/store_test.go",
    "pkg/fmt/fmt.go",
    # rust
    "crate/src/lib.rs",
    "crate/src/net.rs",
    "crate/src/net/http.rs",
    "crate/src/util/mod.rs",
    "crate/src/a/b.rs",
    # java
    "app/src/main/java/com/acme/Service.java",
    "app/src/main/java/com/acme/util/Helper.java",
    "app/src/main/java/com/acme/util/Strings.java",
    # ruby
    "lib/acme.rb",
    "lib/acme/util.rb",
    "lib/acme/version.rb",
    "spec/acme_spec.rb",
    "vendor/other/util.rb",
]


@pytest.fixture(scope="module")
def index() -> RepoPathIndex:
    return RepoPathIndex(REPO)


@pytest.mark.parametrize(
    ("importer", "language", "imports", "expected"),
    [
        # python: package under src/, relative imports, submodules named in from-imports
        ("tests/test_core.py", "python", ["acme.core"], ["src/acme/core.py"]),
        ("tests/test_core.py", "python", ["acme.sub"], ["src/acme/sub/__init__.py"]),
        ("tests/test_core.py", "python", ["acme.sub", "acme.sub.deep", "acme.sub.missing"],
         ["src/acme/sub/__init__.py", "src/acme/sub/deep.py"]),
        ("tests/test_core.py", "python", ["helpers"], ["tests/helpers.py"]),
        ("src/acme/core.py", "python", ["os", "sys", "json"], []),  # not src/acme/os.py: acme is a package
        ("src/acme/core.py", "python", [".os"], ["src/acme/os.py"]),
        ("src/acme/sub/deep.py", "python", ["."], ["src/acme/sub/__init__.py"]),
        ("src/acme/sub/deep.py", "python", ["..core", "..", "...nothing"], ["src/acme/__init__.py", "src/acme/core.py"]),
        ("src/acme/core.py", "python", ["acme.core", ".core"], []),  # never the importer itself
        # js / ts: extension and index resolution, TS sources imported as .js
        ("web/src/app.ts", "typescript", ["./util"], ["web/src/util.ts"]),
        ("web/src/app.ts", "typescript", ["./util.js"], ["web/src/util.ts"]),
        ("web/src/app.ts", "typescript", ["./components"], ["web/src/components/index.tsx"]),
        ("web/src/app.ts", "typescript", ["./legacy", "../lib/helper"], ["web/lib/helper.mjs", "web/src/legacy.js"]),
        ("web/src/app.ts", "tsx", ["react", "./missing", "../../../../outside"], []),
        ("web/src/components/index.tsx", "javascript", ["../util.ts"], ["web/src/util.ts"]),
        # c / c++: relative first, then by suffix anywhere, <...> only when present
        ("csrc/main.c", "c", ['"util.h"'], ["csrc/util.h"]),
        ("csrc/main.c", "c", ['"acme/api.h"', "<zlib.h>"], ["include/acme/api.h", "third_party/zlib/zlib.h"]),
        ("csrc/main.c", "cpp", ["<stdio.h>"], ["libc/include/stdio.h"]),
        ("csrc/main.c", "c", ["<stdlib.h>", '"nothere.h"'], []),
        ("b/main.c", "c", ['"config.h"'], ["b/config.h"]),
        ("csrc/main.c", "c", ['"../include/acme/api.h"'], ["include/acme/api.h"]),
        # go: module paths by directory suffix, all non-test files; stdlib names only in full
        ("cmd/server/main.go", "go", ["github.com/acme/app/internal/store"],
         ["internal/store/cache.go", "internal/store/store.go"]),
        ("cmd/server/main.go", "go", ["fmt", "net/http", "github.com/other/lib"], []),
        # rust: mod next to the importer or in its own directory; crate/self/super paths
        ("crate/src/lib.rs", "rust", ["mod net", "mod util", "mod nothing"], ["crate/src/net.rs", "crate/src/util/mod.rs"]),
        ("crate/src/net.rs", "rust", ["mod http"], ["crate/src/net/http.rs"]),
        ("crate/src/net/http.rs", "rust", ["crate::a::b::Thing"], ["crate/src/a/b.rs"]),
        ("crate/src/net/http.rs", "rust", ["super::Client", "crate::Root"], ["crate/src/lib.rs", "crate/src/net.rs"]),
        ("crate/src/net.rs", "rust", ["self::http::get"], ["crate/src/net/http.rs"]),
        ("crate/src/lib.rs", "rust", ["std::collections::HashMap", "serde"], []),
        # java: by path suffix, wildcards, static members
        ("app/src/main/java/com/acme/Service.java", "java", ["com.acme.util.Helper"],
         ["app/src/main/java/com/acme/util/Helper.java"]),
        ("app/src/main/java/com/acme/Service.java", "java", ["com.acme.util.*"],
         ["app/src/main/java/com/acme/util/Helper.java", "app/src/main/java/com/acme/util/Strings.java"]),
        ("app/src/main/java/com/acme/Service.java", "java", ["com.acme.util.Strings.join", "java.util.List"],
         ["app/src/main/java/com/acme/util/Strings.java"]),
        # ruby: require_relative against the importer, require through lib/
        ("spec/acme_spec.rb", "ruby", ["../lib/acme"], ["lib/acme.rb"]),
        ("lib/acme.rb", "ruby", ["./acme/version"], ["lib/acme/version.rb"]),
        ("spec/acme_spec.rb", "ruby", ["acme/util", "json"], ["lib/acme/util.rb"]),
        # no language, unknown language
        ("README.md", None, ["acme.core"], []),
    ],
)
def test_resolve_imports(index: RepoPathIndex, importer: str, language: str | None, imports: list[str], expected: list[str]) -> None:
    assert resolve_imports(importer, language, imports, index) == tuple(expected)


def test_scan_then_resolve(index: RepoPathIndex) -> None:
    text = "from acme import core\nfrom acme.sub import deep, Thing\nimport os\n"
    found = resolve_imports("tests/test_core.py", "python", scan("python", text).imports, index)
    assert found == ("src/acme/__init__.py", "src/acme/core.py", "src/acme/sub/__init__.py", "src/acme/sub/deep.py")


def test_ambiguous_suffix_prefers_the_closest_file() -> None:
    index = RepoPathIndex(["x/inc/common.h", "y/inc/common.h", "y/src/main.c", "z/q.h"])
    assert resolve_imports("y/src/main.c", "c", ['"common.h"'], index) == ("y/inc/common.h",)
    assert resolve_imports("z/q.h", "c", ['"common.h"'], index) == ("x/inc/common.h",)


def test_path_index_suffix_matches_whole_components() -> None:
    index = RepoPathIndex(["a/b/c.py", "xa/b/c.py", "b/c.py", "deep/er/a/b/c.py"])
    assert sorted(index.with_suffix("a/b/c.py")) == ["a/b/c.py", "deep/er/a/b/c.py"]
    assert sorted(index.with_suffix("c.py")) == ["a/b/c.py", "b/c.py", "deep/er/a/b/c.py", "xa/b/c.py"]
    assert index.with_suffix("nothing.py") == []
    assert "b/c.py" in index and "c.py" not in index
    assert sorted(index.dirs_with_suffix("a/b")) == ["a/b", "deep/er/a/b"]
    assert index.files_in("b") == ["b/c.py"]


def test_resolution_is_deterministic_and_sorted(index: RepoPathIndex) -> None:
    imports = ["acme.sub.deep", "acme.core", "helpers"]
    first = resolve_imports("tests/test_core.py", "python", imports, index)
    assert first == resolve_imports("tests/test_core.py", "python", list(reversed(imports)), index)
    assert list(first) == sorted(first)


def test_closest_among_many_candidates_is_the_one_a_full_comparison_picks() -> None:
    # thousands of same-named files in a monorepo are narrowed by the importer's folders first
    import random

    from kimicode.repo.symbols import _closest, _closest_of

    rng = random.Random(7)
    names = ["a", "b", "ab", "a-b", "a.b", "c", "x.h", "types.h"]
    for _ in range(3000):
        candidates = sorted({"/".join(rng.choice(names) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(9, 40))})
        importer = "/".join(rng.choice(names) for _ in range(rng.randint(1, 6)))
        assert _closest(importer, candidates) == _closest_of(importer, candidates)


def test_resolve_rows_on_workers_matches_one_by_one() -> None:
    from array import array

    from kimicode.repo.symbols import PARALLEL_MIN_FILES, RepoPathIndex, resolve_imports, resolve_rows

    paths = [f"pkg{i % 40}/mod{i}.py" for i in range(PARALLEL_MIN_FILES + 100)] + [f"pkg{i}/__init__.py" for i in range(40)]
    items = sorted((p, "python", (f"pkg{(n + 1) % 40}.mod{n + 1}", "os", f"pkg{n % 40}")) for n, p in enumerate(paths))
    order = sorted(paths)
    one_by_one = RepoPathIndex(paths)
    expected = [[order.index(t) for t in resolve_imports(path, language, imports, one_by_one)] for path, language, imports in items]
    assert [array("i", rows).tolist() for rows in resolve_rows(items, RepoPathIndex(paths), order)] == expected
    # a few items: rows found by binary search, in process
    assert [array("i", rows).tolist() for rows in resolve_rows(items[:5], RepoPathIndex(paths), order)] == expected[:5]
    assert any(expected)


def test_a_c_definition_line_does_not_swallow_the_lines_after_a_macro_call() -> None:
    # `WRAP (alpha)` at the start of a line looks like the head of a definition; its parameters
    # must end at its own `)`, not at a later one, or the define and the function below are lost
    text = _src("""
        #define WRAP(x) x
        WRAP (alpha)
        #define isalnum(c) check(c, 0)
        static int
        check (int c, int (*cb)(int))
        {
          return cb(c);
        }
        Widget::
        Widget(int size) :
          size_(size), cells_(make(size))
        {
        }
    """)
    assert set(scan("c", text).defines) == {"WRAP", "isalnum", "check", "Widget"}
