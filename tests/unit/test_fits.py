"""Every "fits in N tokens" function never goes over N, whatever the text (hypothesis).

Texts are drawn from the alphabets that break character-based guesses: hex digits and CJK
(about one token per character or more), long runs, plain ASCII and code-like lines.
"""

from __future__ import annotations

import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimicode.prompt import middle_out
from kimicode.repo.tree import render_tree
from kimicode.tokens import TokenCounter

COUNTER = TokenCounter()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEX = st.text("0123456789abcdef", min_size=1, max_size=6_000)
CJK = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=3_000)
ANY = st.text(min_size=0, max_size=3_000)
LINES = st.lists(st.text(min_size=0, max_size=200), min_size=1, max_size=200).map("\n".join)
TEXTS = st.one_of(HEX, CJK, ANY, LINES)


def test_middle_out_fits_a_single_hex_or_cjk_line() -> None:
    """The issue's cases: one line of hex (1,156 tokens) and of CJK (2,512) at a budget of 1,000."""
    for text in (secrets.token_hex(20_000), "漢字" * 5_000):
        cut = middle_out(text, 1_000, COUNTER.count)
        assert COUNTER.count(cut) <= 1_000 and "elided" in cut
        assert cut[:50] == text[:50] and cut[-50:] == text[-50:]


@SETTINGS
@given(text=TEXTS, limit=st.integers(min_value=0, max_value=1_500))
def test_middle_out_never_exceeds_its_limit(text: str, limit: int) -> None:
    cut = middle_out(text, limit, COUNTER.count)
    assert COUNTER.count(cut) <= limit
    if COUNTER.count(text) <= limit:
        assert cut == text


@SETTINGS
@given(text=TEXTS, limit=st.integers(min_value=0, max_value=2_000))
def test_middle_out_never_exceeds_with_a_character_count(text: str, limit: int) -> None:
    assert len(middle_out(text, limit, len)) <= limit


PATHS = st.lists(st.from_regex(r"[a-z]{1,8}(/[a-z0-9_]{1,10}){0,4}\.py", fullmatch=True), min_size=1, max_size=300,
                 unique=True)


@SETTINGS
@given(paths=PATHS, budget=st.integers(min_value=0, max_value=800))
def test_the_tree_never_exceeds_its_budget(paths: list[str], budget: int) -> None:
    assert COUNTER.count(render_tree(paths, budget, COUNTER.count)) <= budget
