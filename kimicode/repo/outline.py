"""Compact, line-numbered outlines of source files, from tree-sitter.

An outline is what a model needs to navigate a file it is not shown whole:
the imports on one line, then every class/struct/interface/... and function
signature with the first line of its doc, each prefixed by its 1-based line
number and indented by nesting::

    imports: os, sys, .config
    12: class Foo(Base)  # First docstring line
    14:   def bar(self, x: int) -> str  # doc

Per-language knowledge lives in ``queries/*.scm`` and the small tables below;
the walk and the rendering are shared. tree-sitter and the grammars are
imported on first use only, so importing this module stays cheap.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Iterable

from kimicode.repo.languages import LANGUAGES, language_for

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Query

__all__ = ["Outline", "Span", "available_grammars", "head_excerpt", "outline"]


@dataclass(frozen=True)
class Span:
    """Where one outlined definition sits in its file (for slices)."""

    start: int  # 1-based first line, decorators and attributes included
    end: int  # 1-based last line
    depth: int  # nesting, as indented in the outline
    name: str
    kind: str  # "class", "function", "method", ... (the query's capture)
    line: str  # its outline line: "12:   def bar(self, x: int) -> str  # doc"


@dataclass(frozen=True)
class Outline:
    language: str | None  # None for a non-code text file (head excerpt); "cpp" for a C++ .h file
    text: str  # the rendered outline
    symbols: tuple[str, ...]  # names defined (classes, structs, functions, methods...), sorted, unique
    # False when tree-sitter was unavailable, the file was too big or minified
    # to parse, or the tree had errors (the outline is then best effort).
    # A non-code file's head excerpt is the intended result, so it is True.
    parsed: bool
    spans: tuple[Span, ...] = ()  # the outlined definitions, in file order


# language -> (module, function returning the grammar capsule, distribution)
_GRAMMARS: dict[str, tuple[str, str, str]] = {
    "python": ("tree_sitter_python", "language", "tree-sitter-python"),
    "javascript": ("tree_sitter_javascript", "language", "tree-sitter-javascript"),
    "typescript": ("tree_sitter_typescript", "language_typescript", "tree-sitter-typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx", "tree-sitter-typescript"),
    "go": ("tree_sitter_go", "language", "tree-sitter-go"),
    "rust": ("tree_sitter_rust", "language", "tree-sitter-rust"),
    "java": ("tree_sitter_java", "language", "tree-sitter-java"),
    "c": ("tree_sitter_c", "language", "tree-sitter-c"),
    "cpp": ("tree_sitter_cpp", "language", "tree-sitter-cpp"),
    "ruby": ("tree_sitter_ruby", "language", "tree-sitter-ruby"),
}

# Query files concatenated per language: JS/TS share most patterns, and C++
# is C plus classes and namespaces. Languages not listed use "<language>.scm".
_QUERY_FILES: dict[str, tuple[str, ...]] = {
    "javascript": ("ecmascript", "javascript"),
    "typescript": ("ecmascript", "typescript"),
    "tsx": ("ecmascript", "typescript"),
    "cpp": ("c", "cpp"),
}

# Definitions nested inside these kinds are local helpers: skipped.
_FUNCTION_KINDS = frozenset({"function", "method"})
# Nodes wrapping a definition (decorators, export, template<...>, declare):
# a doc comment sits above the wrapper, not above the definition itself.
_WRAPPERS = frozenset({"decorated_definition", "export_statement", "template_declaration", "ambient_declaration"})
# Wrappers whose text is part of the signature.
_SIGNATURE_WRAPPERS = frozenset({"template_declaration"})
# Signatures whose node lacks the keyword (Go's type specs sit inside `type (...)`).
_SIGNATURE_PREFIX: dict[str, str] = {"type_spec": "type ", "type_alias": "type "}
_DOCSTRING_LANGUAGES = frozenset({"python"})

MAX_PARSE_CHARS = 1_000_000  # bigger files are generated/vendored; ~150 ms to parse
PARSE_CPU_SECONDS = 0.5  # tree-sitter's error recovery can crawl on macro-heavy C++; give up then
MAX_LINE_CHARS = 10_000  # a longer line means minified code: tree-sitter gets slow and the outline useless
SIGNATURE_CHARS = 200
DOC_CHARS = 120
MAX_IMPORTS = 60
HEAD_LINES = 20
HEAD_CHARS = 1_500
HEAD_LINE_CHARS = 200

# A .h file is outlined as C++ when it reads like C++ (language_for can only see the name).
_CPP_HEADER = re.compile(r"^[ \t]*(?:class|namespace|template)\b|^[ \t]*(?:public|private|protected):|\bstd::", re.MULTILINE)
_TRAILER = re.compile(r"(?:\s*;)?\s+end$|[\s:{=;]+$")  # `{`, `:`, `;`, Ruby's `; end`, TS `type X =`
_BRACKET_SPACE = re.compile(r"(?<=[(\[]) | (?=[)\],])")  # `f( a, b )` -> `f(a, b)` once lines are joined
_COMMENT_MARKER = re.compile(r"^\s*(?:/\*+|\*+/|\*+(?!/)|//+!?|#+!?|--)\s?")
_BLOCK_END = re.compile(r"\s*\*+/\s*$")
_STRING_PREFIX = re.compile(r"^[rRbBuUfF]*('''|\"\"\"|'|\")")
# Control characters other than tab and newline confuse terminals and some APIs.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def outline(path: str, text: str) -> Outline:
    """Outline ``text`` (the contents of ``path``); never raises."""
    language = language_for(path)
    if language is None:
        return Outline(None, head_excerpt(text), (), True)
    if not text.strip():
        return Outline(language, "", (), True)
    if len(text) > MAX_PARSE_CHARS or _has_long_line(text):
        return Outline(language, head_excerpt(text), (), False)
    if language == "c" and path.endswith(".h") and _CPP_HEADER.search(text) is not None:
        language = "cpp"
    try:
        return _outline_code(language, text)
    except Exception:  # noqa: BLE001 - a missing or incompatible grammar must not break a pack
        return Outline(language, head_excerpt(text), (), False)


def prepare(paths: Iterable[str]) -> None:
    """Load the grammars and compile the queries that outlining ``paths`` needs, in this process.

    Called before forking workers to outline them: each forked worker would otherwise compile
    its own copies (0.1 s of CPU for C++'s query), in every pool.
    """
    for language in {language_for(path) for path in paths}:
        # a .h file may turn out to be C++ (see outline)
        for name in ("c", "cpp") if language == "c" else (language,) if language else ():
            try:
                _query(name)
            except Exception:  # noqa: BLE001 - as in outline: a grammar that fails to load is outlined without it
                continue


def available_grammars() -> dict[str, str]:
    """language -> grammar distribution version, for the grammars that load here."""
    from importlib import metadata

    found: dict[str, str] = {}
    for language in LANGUAGES:
        try:
            _language(language)
            found[language] = metadata.version(_GRAMMARS[language][2])
        except Exception:  # noqa: BLE001 - ImportError, PackageNotFoundError, ABI mismatch...
            continue
    return found


def head_excerpt(text: str) -> str:
    """The first non-empty lines of ``text``, numbered, each and all capped."""
    lines: list[str] = []
    total = 0
    pos, lineno, size = 0, 0, len(text)
    while pos < size and len(lines) < HEAD_LINES:
        end = text.find("\n", pos)
        if end < 0:
            end = size
        lineno += 1
        # Slice at most a little past the cap: a 1 MB line must not be copied.
        line = text[pos : min(end, pos + HEAD_LINE_CHARS + 1)].rstrip()
        pos = end + 1
        if not line.strip():
            continue
        if len(line) > HEAD_LINE_CHARS:
            line = line[: HEAD_LINE_CHARS - 1] + "…"
        entry = f"{lineno}: {line}"
        if total + len(entry) > HEAD_CHARS:
            break
        lines.append(entry)
        total += len(entry) + 1
    return _CONTROL.sub("\ufffd", "\n".join(lines))


def _has_long_line(text: str) -> bool:
    if len(text) <= MAX_LINE_CHARS:
        return False
    return max(map(len, text.split("\n"))) > MAX_LINE_CHARS


# --- tree-sitter plumbing (lazy, cached per language) -------------------------


@cache
def _language(language: str) -> Language:
    import importlib

    from tree_sitter import Language

    module, function, _dist = _GRAMMARS[language]
    return Language(getattr(importlib.import_module(module), function)())


@cache
def _query(language: str) -> Query:
    from importlib import resources

    from tree_sitter import Query

    folder = resources.files("kimicode.repo").joinpath("queries")
    source = "\n".join(folder.joinpath(f"{name}.scm").read_text("utf-8") for name in _QUERY_FILES.get(language, (language,)))
    return Query(_language(language), source)


def _parse(language: str, source: bytes) -> Node:
    """The syntax tree's root; raises ValueError past PARSE_CPU_SECONDS of this thread's CPU time."""
    from tree_sitter import Parser

    deadline = time.thread_time() + PARSE_CPU_SECONDS

    # tree-sitter reports progress only when it reads through a callback.
    def read(offset: int, _point: tuple[int, int]) -> bytes:
        return source[offset : offset + 65_536]

    def over_budget(_offset: int, _has_error: bool) -> bool:
        return time.thread_time() > deadline

    # A Parser is cheap (under a microsecond) but not safe to share between
    # threads, so each call gets its own; the Language and Query are cached.
    return Parser(_language(language)).parse(read, progress_callback=over_budget).root_node


# --- walking the tree -------------------------------------------------------------


@dataclass
class _Def:
    node: Node
    start: Node  # where the signature starts: the node, or a template<...> around it
    kind: str
    name: Node | None = None
    body: Node | None = None


@dataclass
class _Captured:
    defs: dict[int, _Def] = field(default_factory=dict)
    imports: list[Node] = field(default_factory=list)
    comments: list[Node] = field(default_factory=list)
    attributes: list[Node] = field(default_factory=list)


def _outline_code(language: str, text: str) -> Outline:
    from tree_sitter import QueryCursor

    source = text.encode("utf-8", "replace")
    root = _parse(language, source)
    captured = _collect(QueryCursor(_query(language)).matches(root))
    comments = _CommentIndex(source, captured.comments, captured.attributes)
    lines: list[str] = []
    imports = _imports_line(source, captured.imports)
    if imports:
        lines.append(imports)
    symbols: set[str] = set()
    spans: list[Span] = []
    for depth, item in _visible(captured.defs.values()):
        rendered = _render(language, source, item, depth, comments)
        lines.append(rendered)
        name = _simple_name(_text(source, item.name.start_byte, item.name.end_byte)) if item.name is not None else ""
        if name:
            symbols.add(name)
        start = min(_anchor_row(item.node, comments), item.start.start_point.row) + 1
        spans.append(Span(start, _end_row(item.node) + 1, depth, name, item.kind, _CONTROL.sub("\ufffd", rendered)))
    body = _CONTROL.sub("\ufffd", "\n".join(lines)) if lines else head_excerpt(text)
    return Outline(language, body, tuple(sorted(symbols)), not root.has_error, tuple(spans))


def _collect(matches: list[tuple[int, dict[str, list[Any]]]]) -> _Captured:
    """Group query matches; one definition may match several patterns (with/without body)."""
    out = _Captured()
    for _pattern, caps in matches:
        out.imports.extend(caps.get("import", ()))
        out.comments.extend(caps.get("comment", ()))
        out.attributes.extend(caps.get("attribute", ()))
        kind = next((key[11:] for key in caps if key.startswith("definition.")), None)
        if kind is None:
            continue
        node = caps["definition." + kind][0]
        name = caps["name"][0] if "name" in caps else None
        body = min(caps["body"], key=lambda n: n.start_byte) if "body" in caps else None
        known = out.defs.get(node.id)
        if known is None:
            out.defs[node.id] = _Def(node, _start(node), kind, name, body)
            continue
        known.name = known.name or name
        if body is not None and (known.body is None or body.start_byte < known.body.start_byte):
            known.body, known.kind = body, kind
    return out


def _visible(defs: Any) -> list[tuple[int, _Def]]:
    """Definitions in file order with their depth, minus locals and header parts.

    Skipped: anything inside a function body, and anything starting inside
    another definition's header (the struct of `typedef struct {...} T`).
    """
    ordered = sorted(defs, key=lambda d: (d.start.start_byte, -d.node.end_byte))
    stack: list[tuple[int, int, bool]] = []  # (end byte, body start byte, is function)
    shown: list[tuple[int, _Def]] = []
    for item in ordered:
        start = item.start.start_byte
        while stack and stack[-1][0] <= start:
            stack.pop()
        if stack and (stack[-1][2] or start < stack[-1][1]):
            continue
        shown.append((len(stack), item))
        body_start = item.body.start_byte if item.body is not None else item.node.end_byte
        stack.append((item.node.end_byte, body_start, item.kind in _FUNCTION_KINDS))
    return shown


def _start(node: Node) -> Node:
    parent = node.parent
    return parent if parent is not None and parent.type in _SIGNATURE_WRAPPERS else node


def _render(language: str, source: bytes, item: _Def, depth: int, comments: _CommentIndex) -> str:
    line = f"{item.start.start_point.row + 1}: {'  ' * depth}{_signature(source, item, comments)}"
    doc = _docstring(source, item) if language in _DOCSTRING_LANGUAGES else ""
    doc = doc or comments.doc_above(_anchor_row(item.node, comments))
    return f"{line}  # {doc}" if doc else line


def _signature(source: bytes, item: _Def, comments: _CommentIndex) -> str:
    node, body = item.node, item.body
    end = body.start_byte if body is not None else node.end_byte
    text = comments.strip(item.start.start_byte, end)
    if body is not None and item.name is not None and item.name.start_byte >= body.end_byte:
        # C's `typedef struct {...} name;`: the name comes after the body.
        text += " {…} " + _text(source, body.end_byte, node.end_byte)
    sig = _TRAILER.sub("", _BRACKET_SPACE.sub("", " ".join(text.split())))
    sig = _SIGNATURE_PREFIX.get(node.type, "") + sig
    return sig if len(sig) <= SIGNATURE_CHARS else sig[: SIGNATURE_CHARS - 1] + "…"


def _anchor_row(node: Node, comments: _CommentIndex) -> int:
    """The first row of a definition including its decorators, export, attributes."""
    while node.parent is not None and node.parent.type in _WRAPPERS:
        node = node.parent
    return comments.above_attributes(node.start_point.row)


def _docstring(source: bytes, item: _Def) -> str:
    """Python: the first line of a string literal opening the body."""
    body = item.body
    if body is None or body.named_child_count == 0:
        return ""
    first = body.named_children[0]
    if first.type != "expression_statement" or first.named_child_count == 0:
        return ""
    string = first.named_children[0]
    if string.type != "string":
        return ""
    raw = _text(source, string.start_byte, min(string.end_byte, string.start_byte + 4 * DOC_CHARS))
    match = _STRING_PREFIX.match(raw)
    if match is not None:
        raw = raw[match.end() :]
        raw = raw.split(match.group(1), 1)[0]
    return _first_line(raw.splitlines())


def _first_line(lines: list[str]) -> str:
    for line in lines:
        line = line.strip()
        if any(c.isalnum() for c in line):  # skips blank lines and "# =====" banners
            return line if len(line) <= DOC_CHARS else line[: DOC_CHARS - 1] + "…"
    return ""


class _CommentIndex:
    """Comments by position: doc lines above a definition, and cutting them out of signatures.

    Also knows the rows of attributes (Rust's #[...]), which may sit between a
    doc comment and its definition. Rows, not sibling links: tree-sitter's
    prev_sibling walks the parent's children, quadratic on flat files.
    """

    def __init__(self, source: bytes, comments: list[Node], attributes: list[Node]) -> None:
        self._source = source
        self._comments = sorted(comments, key=lambda n: n.start_byte)
        self._starts = [c.start_byte for c in self._comments]
        self._by_end_row: dict[int, Node] = {}
        for comment in self._comments:
            self._by_end_row.setdefault(_end_row(comment), comment)
        self._attribute_rows = {_end_row(a): a.start_point.row for a in attributes}

    def above_attributes(self, row: int) -> int:
        """``row`` moved up past the attributes directly above it."""
        while row - 1 in self._attribute_rows and self._attribute_rows[row - 1] < row:
            row = self._attribute_rows[row - 1]
        return row

    def strip(self, start: int, end: int) -> str:
        """Source text in [start, end) without the comments inside it."""
        pieces: list[str] = []
        pos = start
        for i in range(bisect_left(self._starts, start), len(self._comments)):
            comment = self._comments[i]
            if comment.start_byte >= end:
                break
            pieces.append(_text(self._source, pos, comment.start_byte))
            pos = max(pos, min(comment.end_byte, end))
        pieces.append(_text(self._source, pos, end))
        return " ".join(pieces)

    def doc_above(self, row: int) -> str:
        """First line of the block of whole-line comments ending right above ``row``."""
        block: list[Node] = []
        comment = self._own_line(row - 1)
        while comment is not None and len(block) < 100:
            block.append(comment)
            comment = self._own_line(comment.start_point.row - 1)
        lines: list[str] = []
        for comment in reversed(block):
            text = _text(self._source, comment.start_byte, min(comment.end_byte, comment.start_byte + 2000))
            lines.extend(_BLOCK_END.sub("", _COMMENT_MARKER.sub("", line)) for line in text.splitlines())
            found = _first_line(lines)
            if found:
                return found
        return ""

    def _own_line(self, row: int) -> Node | None:
        """The comment ending on ``row`` if nothing but whitespace precedes it on its line."""
        comment = self._by_end_row.get(row)
        if comment is None:
            return None
        line_start = self._source.rfind(b"\n", 0, comment.start_byte) + 1
        return comment if not self._source[line_start : comment.start_byte].strip() else None


def _end_row(node: Node) -> int:
    # Rust line comments own their newline and so end at column 0 of the next row.
    row, column = node.end_point
    return row - 1 if column == 0 and row > node.start_point.row else row


def _imports_line(source: bytes, nodes: list[Node]) -> str:
    seen: dict[str, None] = {}
    for node in sorted(nodes, key=lambda n: n.start_byte):
        for name in _import_names(source, node):
            seen.setdefault(name, None)
    names = list(seen)
    if not names:
        return ""
    more = f", … (+{len(names) - MAX_IMPORTS})" if len(names) > MAX_IMPORTS else ""
    return "imports: " + ", ".join(names[:MAX_IMPORTS]) + more


def _import_names(source: bytes, node: Node) -> list[str]:
    name = _clean_import(_text(source, node.start_byte, min(node.end_byte, node.start_byte + 500)))
    parent = node.parent
    if name.strip(".") or not name or parent is None or parent.type != "import_from_statement":
        return [name] if name else []
    # Python's `from . import a, b`: the dots alone say nothing, the names do.
    names = []
    for child in parent.children_by_field_name("name"):
        target = child.child_by_field_name("name") if child.type == "aliased_import" else child
        if target is not None:
            names.append(name + _text(source, target.start_byte, target.end_byte))
    return names or [name]


def _clean_import(raw: str) -> str:
    text = " ".join(raw.split()).rstrip(";").strip()
    for keyword in ("import ", "static "):  # Java captures the whole declaration
        if text.startswith(keyword):
            text = text[len(keyword) :]
    return text.strip("\"'`")


def _simple_name(name: str) -> str:
    """`Outer::Inner` -> `Inner`: symbols are matched against bare identifiers."""
    return name.rsplit("::", 1)[-1].strip()


def _text(source: bytes, start: int, end: int) -> str:
    return source[start:end].decode("utf-8", "replace")
