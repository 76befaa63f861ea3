"""The shelves of one request and what each may spend of the model's window.

Priority (and message order) follows the design: system, memory, state,
recent, repo, reply. The repo shelf gets what the others leave, capped by the
pack budget; the reply shelf is reserved, never spent on the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

SHELVES = ("system", "memory", "state", "recent", "repo", "reply")
MESSAGE_OVERHEAD = 8  # role markers and separators per chat message, generously


@dataclass(frozen=True)
class ShelfTable:
    window: int
    sizes: Mapping[str, int]  # shelf -> tokens (reply: reserved)

    @property
    def prompt_tokens(self) -> int:
        return sum(v for k, v in self.sizes.items() if k != "reply")

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def rows(self) -> list[tuple[str, int, float]]:
        return [(name, self.sizes.get(name, 0), 100 * self.sizes.get(name, 0) / self.window) for name in SHELVES]


def framing_tokens(messages: int) -> int:
    return MESSAGE_OVERHEAD * messages + 8


def repo_room(window: int, reply: int, fixed: Mapping[str, int], messages: int, cap: int | None = None) -> int:
    """Tokens left for the packed repository once the other shelves and the reply are placed."""
    room = window - reply - sum(fixed.values()) - framing_tokens(messages)
    if cap is not None:
        room = min(room, cap)
    return max(room, 0)


def middle_out(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """Keep the head and tail of ``text`` within ``max_tokens``; the middle gives way to a marker.

    For a huge pasted log the start (the command, the first error) and the end
    (the summary) matter most.
    """
    if count(text) <= max_tokens:
        return text
    lines = text.splitlines(keepends=True)
    keep = len(lines)
    while keep > 2:
        keep = keep * 3 // 4
        head, tail = lines[: keep // 2], lines[len(lines) - keep // 2:]
        removed = lines[keep // 2: len(lines) - keep // 2]
        marker = f"\n[... {len(removed)} lines, {sum(map(len, removed)):,} characters elided from the middle ...]\n\n"
        candidate = "".join(head) + marker + "".join(tail)
        if count(candidate) <= max_tokens:
            return candidate
    # a few enormous lines: cut by characters instead
    chars = max_tokens * 2
    return text[: chars // 2] + f"\n[... {len(text) - chars:,} characters elided ...]\n" + text[-chars // 2:]
