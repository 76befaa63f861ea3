"""Outlines: one realistic file per language, broken and odd input, the head excerpt."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kimicode.repo import outline as outline_module
from kimicode.repo.languages import LANGUAGES, language_for
from kimicode.repo.outline import Outline, available_grammars, head_excerpt, outline


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


PYTHON = _src('''
    """Module doc."""
    from __future__ import annotations
    import os, sys as system
    from .config import load
    from . import util

    # A decorator comment
    @dataclass
    class Foo(Base):
        """First docstring line.

        More text.
        """

        # comment above bar
        def bar(self, x: int,
                y: str = "a") -> str:
            def inner():
                pass
            return x

    async def baz(a, b=2):
        return a

    # Cached helper.
    @functools.cache
    def helper() -> int:
        return 1
''')

JAVASCRIPT = _src("""
    import React, { useState } from "react";
    const fs = require('fs');
    /**
     * Adds numbers.
     */
    export function add(a, b) { return a + b; }
    // Widget class
    export default class Widget extends Base {
      // render it
      render() { return null; }
      handle = (e) => { this.x = e; };
    }
    export const mul = (a, b) => a * b;
""")

TYPESCRIPT = _src("""
    import type { Foo } from "./foo";
    import * as path from 'path';
    /** A shape. */
    export interface Shape {
      area(): number;
      name: string;
    }
    export type Props = { a: number };
    enum Color { Red, Green }
    export abstract class Base<T> implements Shape {
      constructor(private readonly x: number) { super(); }
      abstract area(): number;
      public get name(): string { return "b"; }
    }
    // Total area.
    export function total(shapes: Shape[]): number {
      return 0;
    }
""")

TSX = _src("""
    import React from "react";
    // App component
    export function App(props: { title: string }): JSX.Element {
      return <div>{props.title}</div>;
    }
""")

GO = _src("""
    package main

    import (
    \t"fmt"
    \tstr "strings"
    )

    // Server serves.
    type Server struct {
    \tAddr string
    }

    type Reader interface {
    \tRead(p []byte) (n int, err error)
    }

    // Start starts it.
    func (s *Server) Start(ctx context.Context,
    \tport int) error {
    \treturn nil
    }

    // New makes a Server.
    func New(addr string) *Server { return &Server{Addr: addr} }
""")

RUST = _src("""
    use std::collections::HashMap;
    mod util;
    /// A point.
    #[derive(Debug)]
    pub struct Point<T> { x: T }
    pub trait Shape { fn area(&self) -> f64; }
    impl<T: Clone> Shape for Point<T> {
        /// area doc
        fn area(&self) -> f64 { 0.0 }
    }
    pub(crate) async fn go(x: i32)
        -> Result<(), String> { Ok(()) }
""")

JAVA = _src("""
    package com.example.app;

    import java.util.List;
    import static org.junit.Assert.*;

    /**
     * Main service.
     */
    public class UserService extends Base implements Runnable {
        // the ctor
        public UserService(Repo repo) { this.repo = repo; }
        public <T> List<T> find(String name,
                                int limit) throws IOException { return null; }
        interface Cb { void call(int x); }
    }
""")

C = _src("""
    #include <stdio.h>
    #include "util/str.h"
    /* Adds two ints. */
    static int add(int a, int b) { return a + b; }
    char *dup(const char *s);
    struct point { int x; int y; };
    typedef struct { int a; } pair_t;
""")

CPP = _src("""
    #include <vector>
    namespace ns {
    // Widget doc
    class Widget : public Base {
    public:
      Widget(int x);
      virtual int size() const = 0;
      int get() const { return x_; }
    };
    template <typename T>
    T maxOf(T a, T b) { return a > b ? a : b; }
    int Widget::compute(int y) const { return y; }
    }
""")

RUBY = _src("""
    require "json"
    require_relative "lib/foo"
    module Outer
      # Foo class
      class Foo < Bar::Baz
        # Builds one
        def initialize(a, b = 1)
          @a = a
        end
        def self.create; end
      end
    end
""")

# (path, source, lines the outline must contain, symbols)
CASES: dict[str, tuple[str, str, list[str], set[str]]] = {
    "python": (
        "pkg/mod.py",
        PYTHON,
        [
            "imports: __future__, os, sys, .config, .util",
            "9: class Foo(Base)  # First docstring line.",
            "16:   def bar(self, x: int, y: str = \"a\") -> str  # comment above bar",
            "22: async def baz(a, b=2)",
            "27: def helper() -> int  # Cached helper.",
        ],
        {"Foo", "bar", "baz", "helper"},
    ),
    "javascript": (
        "web/app.jsx",
        JAVASCRIPT,
        [
            "imports: react, fs",
            "6: function add(a, b)  # Adds numbers.",
            "8: class Widget extends Base  # Widget class",
            "10:   render()  # render it",
            "11:   handle = (e) =>",
            "13: const mul = (a, b) =>",
        ],
        {"Widget", "add", "handle", "mul", "render"},
    ),
    "typescript": (
        "src/shape.ts",
        TYPESCRIPT,
        [
            "imports: ./foo, path",
            "4: interface Shape  # A shape.",
            "5:   area(): number",
            "8: type Props = { a: number }",
            "9: enum Color",
            "10: abstract class Base<T> implements Shape",
            "11:   constructor(private readonly x: number)",
            "12:   abstract area(): number",
            "13:   public get name(): string",
            "16: function total(shapes: Shape[]): number  # Total area.",
        ],
        {"Base", "Color", "Props", "Shape", "area", "constructor", "name", "total"},
    ),
    "tsx": (
        "src/App.tsx",
        TSX,
        ["imports: react", "3: function App(props: { title: string }): JSX.Element  # App component"],
        {"App"},
    ),
    "go": (
        "cmd/main.go",
        GO,
        [
            "imports: fmt, strings",
            "9: type Server struct  # Server serves.",
            "13: type Reader interface",
            "14:   Read(p []byte) (n int, err error)",
            "18: func (s *Server) Start(ctx context.Context, port int) error  # Start starts it.",
            "24: func New(addr string) *Server  # New makes a Server.",
        ],
        {"New", "Read", "Reader", "Server", "Start"},
    ),
    "rust": (
        "src/lib.rs",
        RUST,
        [
            "imports: std::collections::HashMap, util",
            "5: pub struct Point<T>  # A point.",
            "6: pub trait Shape",
            "6:   fn area(&self) -> f64",
            "7: impl<T: Clone> Shape for Point<T>",
            "9:   fn area(&self) -> f64  # area doc",
            "11: pub(crate) async fn go(x: i32) -> Result<(), String>",
        ],
        {"Point", "Shape", "area", "go"},
    ),
    "java": (
        "src/main/java/com/example/app/UserService.java",
        JAVA,
        [
            "imports: java.util.List, org.junit.Assert.*",
            "9: public class UserService extends Base implements Runnable  # Main service.",
            "11:   public UserService(Repo repo)  # the ctor",
            "12:   public <T> List<T> find(String name, int limit) throws IOException",
            "14:   interface Cb",
            "14:     void call(int x)",
        ],
        {"Cb", "UserService", "call", "find"},
    ),
    "c": (
        "src/str.c",
        C,
        [
            "imports: <stdio.h>, util/str.h",
            "4: static int add(int a, int b)  # Adds two ints.",
            "5: char *dup(const char *s)",
            "6: struct point",
            "7: typedef struct {…} pair_t",
        ],
        {"add", "dup", "pair_t", "point"},
    ),
    "cpp": (
        "src/widget.hpp",
        CPP,
        [
            "imports: <vector>",
            "2: namespace ns",
            "4:   class Widget : public Base  # Widget doc",
            "6:     Widget(int x)",
            "7:     virtual int size() const = 0",
            "8:     int get() const",
            "10:   template <typename T> T maxOf(T a, T b)",
            "12:   int Widget::compute(int y) const",
        ],
        {"Widget", "compute", "get", "maxOf", "ns", "size"},
    ),
    "ruby": (
        "lib/outer.rb",
        RUBY,
        [
            "imports: json, lib/foo",
            "3: module Outer",
            "5:   class Foo < Bar::Baz  # Foo class",
            "7:     def initialize(a, b = 1)  # Builds one",
            "10:     def self.create",
        ],
        {"Foo", "Outer", "create", "initialize"},
    ),
}


def test_cases_cover_every_language() -> None:
    assert set(CASES) == set(LANGUAGES)


@pytest.mark.parametrize("language", sorted(CASES))
def test_outline_per_language(language: str) -> None:
    path, source, expected, symbols = CASES[language]
    assert language_for(path) == language
    result = outline(path, source)
    assert result.language == language
    assert result.parsed is True
    lines = result.text.splitlines()
    for line in expected:
        assert line in lines, f"{line!r} not in:\n{result.text}"
    assert set(result.symbols) == symbols
    assert list(result.symbols) == sorted(set(result.symbols))


@pytest.mark.parametrize("language", sorted(CASES))
def test_outline_never_shows_bodies(language: str) -> None:
    path, source, _expected, _symbols = CASES[language]
    text = outline(path, source).text
    for body in ("return x", "return a + b", "this.repo = repo", "@a = a", "Ok(())", "return nil"):
        assert body not in text


def test_imports_come_first_and_items_carry_line_numbers() -> None:
    lines = outline("pkg/mod.py", PYTHON).text.splitlines()
    assert lines[0].startswith("imports: ")
    for line in lines[1:]:
        number, _, rest = line.partition(": ")
        assert number.isdigit() and rest


def test_nested_function_locals_are_skipped() -> None:
    result = outline("pkg/mod.py", PYTHON)
    assert "inner" not in result.text
    assert "inner" not in result.symbols


def test_long_signature_is_capped_and_collapsed() -> None:
    params = ",\n    ".join(f"argument_{i}: int = {i}" for i in range(40))
    result = outline("m.py", f"def f(\n    {params},\n) -> None:\n    pass\n")
    (line,) = result.text.splitlines()
    assert line.startswith("1: def f(argument_0: int = 0, argument_1")
    assert len(line) <= 3 + outline_module.SIGNATURE_CHARS
    assert line.endswith("…")


def test_comments_inside_a_signature_are_dropped() -> None:
    source = "def f(a,  # the a\n      b):  # trailing\n    pass\n"
    assert outline("m.py", source).text == "1: def f(a, b)"


def test_docstring_preferred_and_banner_comments_ignored() -> None:
    source = _src('''
        # ======================
        def f():
            r"""Raw docstring."""

        # ----------
        def g():
            pass
    ''')
    assert outline("m.py", source).text.splitlines() == ["2: def f()  # Raw docstring.", "6: def g()"]


def test_syntax_errors_give_best_effort_outline() -> None:
    source = "import os\n\ndef ok(a):\n    return a\n\ndef broken(:\n    pass\n\nclass Later:\n    def m(self): ...\n"
    result = outline("bad.py", source)
    assert result.parsed is False
    assert "3: def ok(a)" in result.text.splitlines()
    assert {"ok", "Later", "m"} <= set(result.symbols)


@pytest.mark.parametrize("path", ["bad.js", "bad.rs", "bad.go", "bad.java", "bad.c", "bad.cpp", "bad.rb", "bad.ts", "bad.tsx"])
def test_syntax_errors_never_raise(path: str) -> None:
    result = outline(path, "fn func def class {{{ ((( ]]] <<< \"unterminated\n" * 20)
    assert isinstance(result, Outline)
    assert result.parsed is False


def test_tree_sitter_failure_falls_back_to_head_excerpt(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(language: str, source: bytes) -> None:
        raise RuntimeError("grammar ABI mismatch")

    monkeypatch.setattr(outline_module, "_parse", boom)
    result = outline("m.py", "import os\n\ndef f():\n    pass\n")
    assert result == Outline("python", "1: import os\n3: def f():\n4:     pass", (), False)


def test_parse_over_budget_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outline_module, "PARSE_CPU_SECONDS", -1.0)
    source = "".join(f"def f{i}(x):\n    return x\n" for i in range(3000))
    result = outline("slow.py", source)
    assert result.parsed is False and result.symbols == ()
    assert result.text.startswith("1: def f0(x):")


@pytest.mark.parametrize("text", ["", "\n\n   \n", "\t"])
def test_empty_files(text: str) -> None:
    assert outline("empty.py", text) == Outline("python", "", (), True)
    assert outline("empty.txt", text) == Outline(None, "", (), True)


def test_code_without_definitions_gets_its_head() -> None:
    result = outline("script.py", "print('hi')\n\nx = 1\n")
    assert result == Outline("python", "1: print('hi')\n3: x = 1", (), True)


def test_non_code_file_gets_a_numbered_head_excerpt() -> None:
    lines = ["# Title", ""] + [f"line {i}" for i in range(3, 60)]
    result = outline("docs/README.md", "\n".join(lines))
    assert result.language is None and result.symbols == () and result.parsed is True
    out = result.text.splitlines()
    assert out[0] == "1: # Title"
    assert out[1] == "3: line 3"
    assert len(out) == outline_module.HEAD_LINES


def test_head_excerpt_caps_lines_and_total() -> None:
    text = "\n".join("x" * 500 for _ in range(30))
    excerpt = head_excerpt(text)
    assert len(excerpt) <= outline_module.HEAD_CHARS
    for line in excerpt.splitlines():
        number, _, rest = line.partition(": ")
        assert number.isdigit()
        assert len(rest) == outline_module.HEAD_LINE_CHARS and rest.endswith("…")


def test_nul_bytes_and_control_characters() -> None:
    result = outline("m.py", "\x00def f(a):\n    pass\x00\nclass A:\n    pass\n")
    assert "\x00" not in result.text
    assert "A" in result.symbols
    text = outline("notes.txt", "a\x00b\x1b[31m\n").text
    assert text == "1: a\ufffdb\ufffd[31m"


def test_one_megabyte_single_line() -> None:
    minified = "var a=function(x){return x+1};" * 35_000
    result = outline("bundle.min.js", minified)
    assert result.parsed is False and result.language == "javascript"
    assert len(result.text) < 300
    assert len(outline("data.txt", "y" * 1_000_000).text) < 300


def test_huge_file_is_not_parsed() -> None:
    source = "def f():\n    pass\n" * 100_000
    result = outline("big.py", source)
    assert result.parsed is False
    assert result.text.startswith("1: def f():")


def test_large_file_outline() -> None:
    methods = "".join(f"    def method_{i}(self, x: int) -> int:\n        return x + {i}\n\n" for i in range(1500))
    source = "import os\n\n\nclass Big:\n    \"\"\"A big class.\"\"\"\n\n" + methods
    result = outline("big.py", source)
    assert result.parsed is True
    lines = result.text.splitlines()
    assert lines[:3] == ["imports: os", "4: class Big  # A big class.", "7:   def method_0(self, x: int) -> int"]
    assert len(lines) == 1502


def test_crlf_line_endings() -> None:
    result = outline("m.py", "import os\r\n\r\ndef f(a,\r\n      b):\r\n    pass\r\n")
    assert result.text.splitlines() == ["imports: os", "3: def f(a, b)"]


def test_deterministic() -> None:
    for path, source, _expected, _symbols in CASES.values():
        assert outline(path, source) == outline(path, source)


def test_unknown_extension_is_text() -> None:
    assert outline("Makefile", "all:\n\techo hi\n").language is None


def test_available_grammars_lists_all_ten() -> None:
    grammars = available_grammars()
    assert set(grammars) == set(LANGUAGES)
    assert all(version[0].isdigit() for version in grammars.values())


def test_import_does_not_load_tree_sitter() -> None:
    code = "import sys, kimicode.repo.outline; print(any(m.startswith('tree_sitter') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a/b.py", "python"),
        ("x.pyi", "python"),
        ("x.mjs", "javascript"),
        ("x.cjs", "javascript"),
        ("x.jsx", "javascript"),
        ("x.ts", "typescript"),
        ("x.d.ts", "typescript"),
        ("x.tsx", "tsx"),
        ("x.go", "go"),
        ("x.rs", "rust"),
        ("X.java", "java"),
        ("x.c", "c"),
        ("x.h", "c"),
        ("x.hpp", "cpp"),
        ("x.hh", "cpp"),
        ("x.hxx", "cpp"),
        ("x.cc", "cpp"),
        ("x.cpp", "cpp"),
        ("x.cxx", "cpp"),
        ("x.C", "cpp"),
        ("x.rb", "ruby"),
        ("sub/Rakefile", "ruby"),
        ("Gemfile", "ruby"),
        ("x.PY", "python"),
        ("README.md", None),
        ("Makefile", None),
        (".py", None),
        ("noext", None),
        ("dir.py/file", None),
    ],
)
def test_language_for(path: str, language: str | None) -> None:
    assert language_for(path) == language


def test_cpp_header_with_h_extension_is_read_as_cpp() -> None:
    source = "#pragma once\nnamespace app {\nclass Engine {\n public:\n  void run();\n};\n}\n"
    result = outline("include/engine.h", source)
    assert result.language == "cpp" and result.parsed is True
    assert result.text.splitlines() == ["2: namespace app", "3:   class Engine", "5:     void run()"]
    assert outline("include/plain.h", "int add(int a, int b);\n").language == "c"
