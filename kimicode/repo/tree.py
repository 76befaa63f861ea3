"""A directory tree of the files that got neither full text nor an outline.

When the full tree does not fit its share of the budget, deeper folders are
folded into one line each ("name/ (N files)") until it does; a model still
sees where everything lives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

MAX_CHARS_PER_TOKEN = 8


@dataclass
class _Dir:
    dirs: dict[str, _Dir] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def count(self) -> int:
        return len(self.files) + sum(d.count() for d in self.dirs.values())


def _build(paths: Sequence[str]) -> _Dir:
    top = _Dir()
    for path in sorted(paths):
        *parents, name = path.split("/")
        node = top
        for part in parents:
            node = node.dirs.setdefault(part, _Dir())
        node.files.append(name)
    return top


def _render(node: _Dir, depth: int, max_depth: int, out: list[str]) -> None:
    pad = "  " * depth
    for name in sorted(node.dirs):
        child = node.dirs[name]
        if depth >= max_depth:
            out.append(f"{pad}{name}/ ({child.count()} files)")
        else:
            out.append(f"{pad}{name}/")
            _render(child, depth + 1, max_depth, out)
    for name in node.files:
        out.append(pad + name)


def render_tree(paths: Sequence[str], budget: int, count: Callable[[str], int]) -> str:
    """The deepest tree of ``paths`` whose token count is within ``budget``; "" if none fits."""
    if not paths:
        return ""
    top = _build(paths)
    depth = max(p.count("/") for p in paths)
    while depth >= 0:
        lines: list[str] = []
        _render(top, 0, depth, lines)
        text = "\n".join(lines)
        # exact counts of a 10k-path tree are not free: skip depths far over budget
        # (a token rarely spans more than 8 characters of a path listing)
        if len(text) <= budget * MAX_CHARS_PER_TOKEN and count(text) <= budget:
            return text
        depth -= 1
    summary = f"({len(paths)} more files in {len(top.dirs)} top-level folders)"
    return summary if count(summary) <= budget else ""
