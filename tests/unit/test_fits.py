"""Every "fits in N tokens" function never goes over N, whatever the text (hypothesis).

Texts are drawn from the alphabets that break character-based guesses: hex digits and CJK
(about one token per character or more), long runs, plain ASCII and code-like lines.
"""

from __future__ import annotations

import secrets

import pytest
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


# -- the chat: one turn, the state record, the summary request, the assembled request ----------------

ROLES = st.sampled_from(["user", "assistant", "output"])


@SETTINGS
@given(text=TEXTS, reasoning=st.one_of(st.just(""), ANY), role=ROLES, limit=st.integers(min_value=64, max_value=1_500))
def test_a_turn_is_shown_within_its_limit(text: str, reasoning: str, role: str, limit: int) -> None:
    from kimicode.chat import Turn
    from kimicode.chat.context import TurnTexts
    from kimicode.prompt import MESSAGE_OVERHEAD

    view = TurnTexts(COUNTER, thinking=True).view(Turn(1, role, text, reasoning=reasoning, name="pytest"), limit)
    assert view.tokens - MESSAGE_OVERHEAD <= limit
    assert COUNTER.count(view.text) + (COUNTER.count(view.reasoning) if view.reasoning else 0) <= limit


ITEMS = st.lists(st.tuples(st.sampled_from(["decision", "fact", "question", "file", "error", "constraint", "pin"]),
                           st.text(min_size=1, max_size=300)), max_size=40)


@SETTINGS
@given(items=ITEMS, cap=st.integers(min_value=0, max_value=2_000))
def test_the_state_record_fits_its_shelf_or_holds_only_what_code_carries(items: list[tuple[str, str]], cap: int) -> None:
    from kimicode.chat.state import StateRecord, fit, render

    record = StateRecord()
    for n, (kind, text) in enumerate(items):
        record.add(kind, text, [n], "pin" if kind == "pin" else "floor" if kind == "constraint" else "model")
    fit(record, cap, COUNTER.count, 1)
    assert COUNTER.count(render(record)) <= cap or all(i.carried for i in record.active())


@SETTINGS
@given(texts=st.lists(TEXTS, min_size=1, max_size=8), room=st.integers(min_value=1_000, max_value=6_000))
def test_the_summary_request_fits_its_room(texts: list[str], room: int) -> None:
    from kimicode.chat import Turn
    from kimicode.chat.state import StateRecord
    from kimicode.chat.summarize import Summarizer
    from kimicode.llm import ChatClient, Endpoint
    from kimicode.models import ModelSpec

    client = ChatClient(Endpoint("http://127.0.0.1:9/v1", "", "m"), ModelSpec("m", 10_000, 10_000))  # never called
    summarizer = Summarizer(client, COUNTER, 10_000, 1_000)
    turns = [Turn(n, "user" if n % 2 else "assistant", text) for n, text in enumerate(texts, start=1)]
    blocks, _ = summarizer.fit(StateRecord(), turns, room)
    assert not blocks or COUNTER.count(summarizer._prompt(StateRecord(), blocks)) <= room


@SETTINGS
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), state=st.one_of(st.just(""), ANY),
       window=st.integers(min_value=6_000, max_value=20_000))
def test_an_assembled_conversation_fits_what_the_window_leaves(texts: list[str], state: str, window: int) -> None:
    from kimicode.engine import Assembler, Shelves
    from kimicode.prompt import MESSAGE_OVERHEAD, BudgetPlan, TurnView

    plan = BudgetPlan.for_model(window, window, 1_000, pack_budget=0)
    recent = [TurnView(n, "user" if n % 2 else "assistant", text, tokens=COUNTER.count(text) + MESSAGE_OVERHEAD)
              for n, text in enumerate(texts, start=1)]
    request = Assembler(plan, COUNTER).assemble(Shelves("You are kimicode.", state=state, recent=recent), shorten=True)
    assert request.tokens <= request.limit == window - 1_000


# -- the pack and a one-turn request -------------------------------------------------------------


FILES = st.dictionaries(st.from_regex(r"[a-z]{1,6}/[a-z]{1,8}\.(py|md|txt)", fullmatch=True), TEXTS,
                        min_size=1, max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=FILES, budget=st.integers(min_value=400, max_value=4_000))
def test_a_pack_never_exceeds_its_budget(tmp_path_factory: pytest.TempPathFactory, files: dict[str, str], budget: int) -> None:
    from kimicode.repo.pack import PackError, PackOptions, pack_repository
    from tests.repos import write_files

    root = tmp_path_factory.mktemp("repo")
    write_files(root, files)
    try:
        result = pack_repository(root, PackOptions(budget=budget), None)
    except PackError:
        return  # nothing worth packing, or a budget below the header: said in one line, nothing sent
    assert result.report.total_tokens <= budget and COUNTER.count(result.text) <= budget


@SETTINGS
@given(question=st.text(min_size=1, max_size=400), stdin=TEXTS, window=st.integers(min_value=2_000, max_value=12_000))
def test_a_question_fits_the_window_or_is_refused_in_one_line(question: str, stdin: str, window: int) -> None:
    from kimicode.ask import AskInputs, AskRequest, RequestError
    from kimicode.prompt import BudgetPlan
    from kimicode.repo.pack import PackOptions

    plan = BudgetPlan.for_model(window, window, 500, pack_budget=100_000)
    try:
        request = AskRequest(AskInputs(question, None, stdin=stdin), COUNTER, plan, PackOptions(budget=100_000), None).build()
    except RequestError:
        return
    assert request.shelves.total <= window
    assert COUNTER.count(request.messages[-1].content) <= request.shelves.sizes["recent"] + request.shelves.sizes["memory"]
