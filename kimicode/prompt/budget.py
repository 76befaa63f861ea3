"""The budget of one request: the model's window split into shelves, and every share in one place.

Priority (and message order) follows the design: system, memory, state, recent, repo,
reply. A ``BudgetPlan`` is made once per model from its window, the reply reserve and
``pack.budget``, and handed to whoever builds or sends a request: ask, chat and review
read every share and factor from it, none keeps its own.

``pack.budget`` means one thing everywhere: the most tokens the repository shelf may hold
in a request (for `kimicode pack`, the size of the pack). A request may give the shelf
less when the other shelves need the room.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping

SHELVES = ("system", "memory", "state", "recent", "repo", "reply")
MESSAGE_OVERHEAD = 8  # role markers and separators per chat message, generously

# What the send policy does near the window and after "too long" (kimicode.engine.send).
NEAR_WINDOW = 0.9  # above this share of the window, get the provider's exact count first
NEAR_WINDOW_MARGIN = 0.95  # after the provider's count, shrink to this share of what is left
OVERFLOW_SHRINK = 0.5  # after "too long" from the provider: what shrinks keeps this share, once
# At or below this window (a local model's 4-16K) the repository, the history and a review's diff
# cannot all be sent whole: what each gives up is said in one line (ask, chat, review).
SMALL_WINDOW = 16_384
# At or below this reply cap a request says how long the answer may be (prompts/brief.md): a small
# model told nothing runs on to the cap, repeating itself, and the cap cuts it mid-sentence.
BRIEF_REPLY = 2048
WORDS_PER_TOKEN = 0.6  # English prose is ~0.75 words a token, code and names fewer: a margin
# A request sized by a slow model's time target keeps at least this much beyond what every request of
# its kind carries (the system text, the tools' descriptions, a review's instructions and file list):
# for a diff part, or the conversation and the repository shelf of a chat.
PACED_ROOM = 1_024


@dataclass(frozen=True)
class Shares:
    """How the room is split; each share is of the figure named beside it."""

    repo: float = 0.5  # chat: of the prompt room (window - reply - system), most the repository may take
    reserve: float = 0.2  # chat: of the repository shelf, kept free for files the conversation names later
    piped: float = 0.25  # ask: of the window, most piped input may take
    compact_to: float = 0.6  # chat: of the history room, what history may use right after a compaction
    warn: float = 0.8  # chat: of the history room, above this the budget bar warns that a compaction is near
    state: float = 0.35  # chat: of the history room, most the state record may take
    message: float = 0.5  # chat: of the history room, one message beyond this is shortened middle-out
    recall: float = 0.1  # chat: of the history room, most the memory recalls may take
    review_part: float = 0.75  # review: of a split part's room, what its diffs may fill (the rest: context)
    tools: float = 0.1  # ask, chat: of the prompt limit, most the tools' descriptions may take (else none are offered)

    def __post_init__(self) -> None:
        if not 0 < self.compact_to < 1 or not 0 < self.state < 1 or not 0 <= self.repo < 1:
            raise ValueError("compact_to and state must be between 0 and 1, repo below 1")


SHARES = Shares()


def framing_tokens(messages: int) -> int:
    return MESSAGE_OVERHEAD * messages + 8


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


@dataclass(frozen=True)
class BudgetPlan:
    """The window of one model, split once; passed down to everything that builds a request."""

    window: int
    reply: int  # reserved for the answer (reasoning included): sent as max_tokens
    repo_cap: int  # pack.budget: the most the repository shelf may hold
    shares: Shares = SHARES
    # the most a prompt may take below what the window leaves: a slow local model reads it within a time
    # target (kimicode.models.paced); None: the window alone
    prompt_cap: int | None = None

    @classmethod
    def for_model(cls, window: int, max_output: int, reply_tokens: int, pack_budget: int,
                  shares: Shares = SHARES) -> BudgetPlan:
        """The plan for a model's limits (kimicode.models.ModelSpec, or what a server reports).

        The reply never takes more than half the window: a small local model still gets a prompt.
        """
        return cls(window, max(min(reply_tokens, max_output, window // 2), 0), pack_budget, shares)

    @property
    def small(self) -> bool:
        """A small window, or a prompt a slow model must keep as small: what each command gives up is said."""
        return self.window <= SMALL_WINDOW or (self.prompt_cap is not None and self.prompt_cap <= SMALL_WINDOW)

    @property
    def brief_words(self) -> int | None:
        """How many words to ask for when the reply cap is tight (BRIEF_REPLY), else None: say nothing."""
        return int(self.reply * WORDS_PER_TOKEN) if 0 < self.reply <= BRIEF_REPLY else None

    def for_reply(self, wish: int) -> BudgetPlan:
        """The plan of a call whose answer needs at most ``wish`` tokens (a summary, a fix record, a
        review's findings): it never reserves more than the model's own reply cap in this plan."""
        return replace(self, reply=max(min(wish, self.reply), 1))

    def with_room(self, fixed: int, room: int = PACED_ROOM) -> BudgetPlan:
        """A time target (``prompt_cap``) is a wish, the window a limit: the cap is lifted, within the
        window, until ``fixed`` tokens (what every request of a kind carries) leave ``room``."""
        if self.prompt_cap is None or self.prompt_cap >= fixed + room:
            return self
        return replace(self, prompt_cap=min(fixed + room, self.window - self.reply))

    def for_window(self, window: int) -> BudgetPlan:
        """This plan for a smaller window than it was made for (one the provider named)."""
        return replace(BudgetPlan.for_model(window, self.reply, self.reply, self.repo_cap, self.shares),
                       prompt_cap=self.prompt_cap)

    @property
    def prompt_limit(self) -> int:
        """Tokens a prompt may take: the window less the reply, at most the prompt cap."""
        room = self.window - self.reply
        return room if self.prompt_cap is None else min(room, self.prompt_cap)

    def near_window(self, prompt_tokens: int) -> bool:
        return prompt_tokens + self.reply >= NEAR_WINDOW * self.window

    def chat_repo(self, system: int) -> int:
        """A conversation's repository shelf: a share of the room the system prompt leaves."""
        room = self.prompt_limit - system - framing_tokens(1)
        return max(min(int(room * self.shares.repo), self.repo_cap), 0)

    def piped(self) -> int:
        return int(min(self.window, self.prompt_limit + self.reply) * self.shares.piped)

    def share(self, name: str, room: int) -> int:
        """``room`` times the share called ``name`` (state, message, recall, compact_to, ...)."""
        return int(room * getattr(self.shares, name))


def middle_out(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """Keep the head and tail of ``text`` within ``max_tokens``; the middle gives way to a marker.

    For a huge pasted log the start (the command, the first error) and the end (the summary)
    matter most. The result never counts more than ``max_tokens`` (an empty string when not
    even the marker fits).
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
    return _cut_characters(text, max_tokens, count)


MAX_CHARS_PER_TOKEN = 16  # searching beyond this many characters a token would only waste counting


def _cut_characters(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """A few enormous lines: keep as many characters of each end as fit, found by bisection.

    Characters per token vary from about one (CJK, hex digits) to several (English), so the
    count of every candidate is checked rather than guessed.
    """
    def candidate(keep: int) -> str:
        return text[:keep] + f"\n[... {len(text) - 2 * keep:,} characters elided ...]\n" + text[len(text) - keep:]

    low, high = 0, min(len(text) // 2, max(max_tokens, 0) * MAX_CHARS_PER_TOKEN)
    if count(candidate(0)) > max_tokens:
        return ""
    while low < high:
        mid = (low + high + 1) // 2
        if count(candidate(mid)) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return candidate(low)
