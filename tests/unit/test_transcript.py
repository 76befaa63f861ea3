"""The tool rounds of one answer: cut to budget, hidden, restored, fragmented, searched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimicode.engine.tool_loop import cut_result
from kimicode.engine.transcript import Transcript
from kimicode.prompt import Message, ToolCall
from kimicode.tokens import TokenCounter
from kimicode.tools.base import Toolbox, ToolError
from kimicode.tools.context import context_tools

COUNT = TokenCounter().count


def call(n: int, name: str = "read_file", **arguments: object) -> ToolCall:
    return ToolCall(f"call_{n}", name, json.dumps(arguments or {"path": f"f{n}.py"}))


def answer(*calls: ToolCall) -> Message:
    return Message("assistant", "", "thinking it over", calls)


@settings(max_examples=40, deadline=None)
@given(text=st.text(min_size=0, max_size=3000), budget=st.integers(min_value=40, max_value=800))
def test_a_cut_result_never_exceeds_its_budget(text: str, budget: int) -> None:
    cut, was_cut = cut_result(text, budget, COUNT, lambda kept: "ask for less")
    assert COUNT(cut) <= budget
    assert was_cut == (COUNT(text) > budget)
    if not was_cut:
        assert cut == text


def test_a_cut_result_keeps_whole_lines_and_says_how_to_get_the_rest() -> None:
    text = "".join(f"{n}| line number {n}\n" for n in range(1, 2001))
    cut, was_cut = cut_result(text, 300, COUNT, lambda kept: f"next from {kept.splitlines()[-1].split('|')[0]}")
    assert was_cut and cut.startswith("1| line number 1\n")
    shown = [line for line in cut.splitlines() if "| line number" in line]
    assert "of 2001 lines shown" in cut and f"next from {len(shown)}]" in cut


def test_hidden_outputs_keep_the_messages_and_their_order_and_come_back() -> None:
    transcript = Transcript(COUNT, keep_rounds=10)
    transcript.add_round(answer(call(1), call(2)), [(call(1), "first\nALPHA body\n" + "filler line\n" * 50), (call(2), "BETA body")])
    before = transcript.views()
    tools = {t.name: t for t in context_tools(transcript)}
    assert tools["hide"].run({"ids": [1], "summary": "alpha is about budgets"}) == "hidden: 1"
    after = transcript.views()
    assert [(v.role, v.call_id) for v in after] == [(v.role, v.call_id) for v in before]
    assert "ALPHA" not in after[1].text and "alpha is about budgets" in after[1].text and "restore([1])" in after[1].text
    assert after[1].tokens < before[1].tokens
    assert "output 1 (hidden) line 2: ALPHA body" in tools["search_history"].run({"query": "alpha"})
    tools["restore"].run({"ids": [1]})
    assert transcript.views()[1].text == before[1].text


def test_fragment_keeps_only_the_lines_asked_for() -> None:
    transcript = Transcript(COUNT)
    body = "\n".join(f"row {n}" for n in range(1, 101))
    transcript.add_round(answer(call(1)), [(call(1), body)])
    tool = next(t for t in context_tools(transcript) if t.name == "fragment")
    assert "kept lines 10-12" in tool.run({"id": 1, "ranges": ["10-12"]})
    shown = transcript.views()[1].text
    assert "row 10\nrow 11\nrow 12" in shown and "row 13" not in shown and "row 9\n" not in shown
    with pytest.raises(ToolError):
        tool.run({"id": 1, "ranges": ["500-600"]})
    with pytest.raises(ToolError):
        tool.run({"id": 7, "ranges": ["1-2"]})


def test_outputs_older_than_k_rounds_are_hidden_automatically_and_a_restore_holds_for_k_rounds() -> None:
    transcript = Transcript(COUNT, keep_rounds=2)
    for n in range(1, 4):
        transcript.add_round(answer(call(n)), [(call(n), f"OUT{n}")])
    texts = [v.text for v in transcript.views() if v.call_id]
    assert "OUT1" not in texts[0] and "hidden (automatically" in texts[0]
    assert "OUT2" in texts[1] and "OUT3" in texts[2]
    transcript.restore([1])
    transcript.add_round(answer(call(4)), [(call(4), "OUT4")])
    texts = [v.text for v in transcript.views() if v.call_id]
    assert "OUT1" in texts[0] and "OUT2" not in texts[1]


def test_context_tools_through_a_toolbox_refuse_bad_ids_with_a_message() -> None:
    transcript = Transcript(COUNT)
    box = Toolbox.of(context_tools(transcript))
    outcome = box.call("restore", json.dumps({"ids": [3]}))
    assert outcome.error and "no output 3" in outcome.text
    assert box.call("hide", json.dumps({"ids": "x"})).error


def test_a_question_with_many_rounds_is_built_within_the_window_by_both_counts(tmp_path: Path) -> None:
    from kimicode.ask import AskInputs, AskRequest, ask_toolbox
    from kimicode.prompt import BudgetPlan
    from kimicode.repo.pack import PackOptions
    from kimicode.tools.paths import RepoView
    from tests.repos import make_repo

    root = tmp_path / "repo"
    make_repo(root, {f"m{n}.py": f"def f{n}(x):\n    return x * {n}\n" * 20 for n in range(8)})
    counter = TokenCounter()
    plan = BudgetPlan.for_model(10_000, 1_000, 1_000, 1_500)
    asking = AskRequest(AskInputs("what is here?", root), counter, plan, PackOptions(budget=1_500), None)
    assert ask_toolbox(asking, RepoView(root), keep_rounds=50) is not None
    assert asking.transcript is not None
    for n in range(1, 40):  # rounds of many sizes, the oldest outputs hidden as the window fills
        calls = [call(100 * n + k) for k in range(n % 3 + 1)]
        asking.transcript.add_round(answer(*calls), [(c, "row\n" * (n * 7 % 101)) for c in calls])
        request = asking.build()
        assert request.tokens <= request.limit and request.shelves.total <= plan.window, (n, request.tokens)


def test_a_reply_after_an_answer_without_calls_follows_it_as_a_user_message() -> None:
    transcript = Transcript(len)
    transcript.add_reply(Message("assistant", "I changed calc.py."), "The tests failed: ...")
    views = transcript.views()
    assert [(v.role, v.text) for v in views] == [("assistant", "I changed calc.py."), ("user", "The tests failed: ...")]
