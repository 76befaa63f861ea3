"""How a pack looks on the wire: XML-ish tags (default) or Markdown.

Every piece is rendered on its own so its tokens can be counted on its own;
the pack is the plain concatenation of the pieces, in order. The pack stays typed
(header, blocks, tree) until ``render_pack`` makes it text, the last step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from kimicode.prompt import Block
from kimicode.repo.languages import language_for

FORMATS = ("xml", "markdown")


@dataclass(frozen=True)
class Header:
    name: str
    commit: str
    budget: int
    encoding: str
    query: str | None
    full: int
    outline: int
    tree: int
    skipped: Sequence[tuple[str, int]]  # (reason, count), most frequent first
    redacted_secrets: int
    redacted_files: int
    part: tuple[int, int] | None = None  # (n, of) when split
    slices: int = 0


# Tags kimicode wraps around text it did not write (files, diffs, trees, piped input, tool
# output). Such text must never open or close one of them, or a file could forge another file's
# block or end the repository early.
FRAME_TAGS = ("repository", "summary", "file", "tree", "diff", "output", "input", "memory", "state")
_TAGS = "|".join(FRAME_TAGS)
_FRAME_TAG = re.compile(rf"<(/?\s*(?:{_TAGS}))(?![\w-])", re.IGNORECASE)
_ESCAPED_TAG = re.compile(rf"&(?=lt;/?\s*(?:{_TAGS})(?![\w-]))", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def xml_attr(value: str) -> str:
    """``value`` safe inside a double-quoted XML attribute, on one line."""
    value = value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    return _CONTROL.sub(lambda m: f"&#{ord(m.group(0))};", value)


def frame_body(text: str) -> str:
    """``text`` safe inside one of our frames: ``<file``, ``</file``, ... become ``&lt;file``.

    Only our own tag names are escaped, so ordinary code (``a < b``, HTML, generics) reaches the
    model unchanged; an ``&lt;file`` already in the text becomes ``&amp;lt;file``, so the
    escaping stays unambiguous.
    """
    return _FRAME_TAG.sub(r"&lt;\1", _ESCAPED_TAG.sub("&amp;", text))


def one_line(value: str) -> str:
    """A path or name for a Markdown heading: control characters (a newline could start a forged
    heading) shown as escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", value)


def _summary_lines(h: Header) -> list[str]:
    # the question may quote piped logs or tool output: one line, like every header field
    purpose = f'Packed for the question: "{" ".join(h.query.split())}"' if h.query else "Structural overview (no question given)"
    skipped = ", ".join(f"{reason} {n}" for reason, n in h.skipped) or "none"
    sliced = f"{h.slices} as slices, " if h.slices else ""
    lines = [
        purpose + ("" if h.part is None else f"; part {h.part[0]} of {h.part[1]}") + ".",
        f"Files: {h.full} in full, {sliced}{h.outline} as outlines, {h.tree} only in the tree; skipped: {skipped}.",
        "Full files are complete. Outlines list imports and definitions with their line numbers; "
        "the tree lists the remaining paths. Ask for any file you need in full.",
    ]
    if h.slices:
        lines.insert(2, "Slices show the parts of a large file that matter in full; each line starting with "
                        "\u22ee stands for omitted lines (numbered) and lists the definitions they hold.")
    if h.redacted_secrets:
        secrets = "1 secret" if h.redacted_secrets == 1 else f"{h.redacted_secrets} secrets"
        files = "1 file" if h.redacted_files == 1 else f"{h.redacted_files} files"
        lines.append(f"{secrets} in {files} replaced by [REDACTED:kind] markers.")
    return lines


def render_header(h: Header, fmt: str) -> str:
    if fmt == "markdown":
        body = "\n".join("> " + line for line in _summary_lines(h))
        return f"# Repository {one_line(h.name)} @ {one_line(h.commit)}\n\nBudget {h.budget} tokens ({h.encoding}).\n\n{body}\n\n"
    attrs = f'name="{xml_attr(h.name)}" commit="{xml_attr(h.commit)}" budget="{h.budget}" encoding="{xml_attr(h.encoding)}"'
    return f"<repository {attrs}>\n<summary>\n" + frame_body("\n".join(_summary_lines(h))) + "\n</summary>\n"


def render_footer(fmt: str) -> str:
    return "" if fmt == "markdown" else "</repository>\n"


def code_fence(text: str) -> str:
    """A Markdown code fence longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    return "`" * (longest + 1)


def render_file(path: str, mode: str, text: str, fmt: str, shown: str = "") -> str:
    """One file's block; ``mode`` is "full", "slice" (``shown``: which lines) or "outline"."""
    body = text if text.endswith("\n") or not text else text + "\n"
    if fmt == "markdown":
        fence = code_fence(body)
        lang = (language_for(path) or "") if mode != "outline" else "text"
        title = one_line(path) if mode == "full" else f"{one_line(path)} ({mode}{': ' + shown if shown else ''})"
        return f"## {title}\n\n{fence}{lang}\n{body}{fence}\n\n"
    extra = f' shown="{xml_attr(shown)}"' if shown else ""
    return f'<file path="{xml_attr(path)}" mode="{mode}"{extra}>\n{frame_body(body)}</file>\n'


def render_tree_block(tree: str, fmt: str) -> str:
    if not tree:
        return ""
    if fmt == "markdown":
        fence = code_fence(tree)
        return f"## Other files\n\n{fence}text\n{tree}\n{fence}\n\n"
    return f"<tree>\n{frame_body(tree)}\n</tree>\n"


def render_pack(header: Header, blocks: Sequence[Block], tree: str, fmt: str) -> str:
    """A whole pack, from its typed pieces: the one place a pack becomes text."""
    return (render_header(header, fmt) + "".join(render_file(b.path, b.mode, b.text, fmt, b.shown) for b in blocks)
            + render_tree_block(tree, fmt) + render_footer(fmt))
