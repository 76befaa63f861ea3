"""How a pack looks on the wire: XML-ish tags (default) or Markdown.

Every piece is rendered on its own so its tokens can be counted on its own;
the pack is the plain concatenation of the pieces, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

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


def xml_attr(value: str) -> str:
    """``value`` safe inside a double-quoted XML attribute."""
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _summary_lines(h: Header) -> list[str]:
    purpose = f'Packed for the question: "{h.query}"' if h.query else "Structural overview (no question given)"
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
        return f"# Repository {h.name} @ {h.commit}\n\nBudget {h.budget} tokens ({h.encoding}).\n\n{body}\n\n"
    attrs = f'name="{xml_attr(h.name)}" commit="{xml_attr(h.commit)}" budget="{h.budget}" encoding="{xml_attr(h.encoding)}"'
    return f"<repository {attrs}>\n<summary>\n" + "\n".join(_summary_lines(h)) + "\n</summary>\n"


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
        title = path if mode == "full" else f"{path} ({mode}{': ' + shown if shown else ''})"
        return f"## {title}\n\n{fence}{lang}\n{body}{fence}\n\n"
    extra = f' shown="{xml_attr(shown)}"' if shown else ""
    return f'<file path="{xml_attr(path)}" mode="{mode}"{extra}>\n{body}</file>\n'


def render_tree_block(tree: str, fmt: str) -> str:
    if not tree:
        return ""
    if fmt == "markdown":
        return f"## Other files\n\n```text\n{tree}\n```\n\n"
    return f"<tree>\n{tree}\n</tree>\n"
