"""A directory tree of the files that got neither full text nor an outline.

When the full tree does not fit its share of the budget, deeper folders are
folded into one line each ("name/ (N files)") until it does; a model still
sees where everything lives.

A monorepo leaves ~100,000 paths for the tree: the tree is built once, the length of
its text at every folding depth is added up from per-level sums, and only depths whose
text could fit are rendered and counted. What one set of paths taught (those lengths, the
depths rendered and their counts) is a TreeMemo: the pack keeps it, so the next pack leaving out
the same files (after an edit, usually) neither builds the tree nor counts it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

MAX_CHARS_PER_TOKEN = 8


@dataclass
class _Dir:
    dirs: dict[str, _Dir] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    total: int = 0  # files below, at any depth


def _build(paths: Sequence[str]) -> _Dir:
    top = _Dir()
    folder, node = None, top
    for path in sorted(paths):
        parent, _, name = path.rpartition("/")
        if parent != folder:  # sorted: most paths share the previous one's folder
            folder, node = parent, top
            for part in parent.split("/") if parent else ():
                node = node.dirs.setdefault(part, _Dir())
        node.files.append(name)
    _total(top)
    return top


def _total(node: _Dir) -> int:
    node.total = len(node.files) + sum(_total(d) for d in node.dirs.values())
    return node.total


def _folded(name: str, child: _Dir) -> str:
    return f"{name}/ ({child.total} files)"


def _lengths(top: _Dir, deepest: int) -> list[int]:
    """Characters of the rendered tree at each folding depth 0..deepest."""
    expanded = [0] * (deepest + 2)  # per level: lines of folders shown open, of folders folded, of files
    folded = [0] * (deepest + 2)
    files = [0] * (deepest + 2)
    todo = [(top, 0)]
    while todo:
        node, level = todo.pop()
        files[level] += sum(2 * level + len(name) + 1 for name in node.files)
        for name, child in node.dirs.items():
            expanded[level] += 2 * level + len(name) + 2
            folded[level] += 2 * level + len(_folded(name, child)) + 1
            todo.append((child, level + 1))
    out, opened, shown = [], 0, 0
    for depth in range(deepest + 1):
        shown += files[depth]
        out.append(opened + folded[depth] + shown - 1)  # lines joined by "\n": no newline after the last
        opened += expanded[depth]
    return out


def _render(node: _Dir, depth: int, max_depth: int, out: list[str]) -> None:
    pad = "  " * depth
    for name in sorted(node.dirs):
        child = node.dirs[name]
        if depth >= max_depth:
            out.append(pad + _folded(name, child))
        else:
            out.append(f"{pad}{name}/")
            _render(child, depth + 1, max_depth, out)
    for name in node.files:
        out.append(pad + name)


@dataclass
class TreeMemo:
    """What rendering one set of paths (with one counter) found; valid for those paths only."""

    lengths: list[int] = field(default_factory=list)  # characters of the text at each folding depth
    counted: dict[int, tuple[int, str]] = field(default_factory=dict)  # depth -> (tokens, text) rendered
    folders: int = -1  # top-level folders


def render_tree(paths: Sequence[str], budget: int, count: Callable[[str], int], memo: TreeMemo | None = None) -> str:
    """The deepest tree of ``paths`` whose token count is within ``budget``; "" if none fits.

    ``memo``: what an earlier call for the same ``paths`` and ``count`` learned; filled in here.
    """
    if not paths:
        return ""
    memo = memo if memo is not None else TreeMemo()
    top: _Dir | None = None
    if not memo.lengths:
        top = _build(paths)
        memo.lengths, memo.folders = _lengths(top, max(p.count("/") for p in paths)), len(top.dirs)
    for depth in range(len(memo.lengths) - 1, -1, -1):
        # exact counts of a 100k-path tree are not free: skip depths far over budget
        # (a token rarely spans more than 8 characters of a path listing)
        if memo.lengths[depth] > budget * MAX_CHARS_PER_TOKEN:
            continue
        if depth not in memo.counted:
            top = top or _build(paths)
            lines: list[str] = []
            _render(top, 0, depth, lines)
            text = "\n".join(lines)
            memo.counted[depth] = (count(text), text)
        tokens, text = memo.counted[depth]
        if tokens <= budget:
            return text
    summary = f"({len(paths)} more files in {memo.folders} top-level folders)"
    return summary if count(summary) <= budget else ""
