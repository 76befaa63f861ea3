"""Pilot drives the TUI against the loopback server: stream, stop, errors, resume, startup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kimicode.chat.session import load_session
from kimicode.tui.widgets.budget_bar import BudgetBar
from kimicode.tui.widgets.chat_view import AssistantMessage, Notice, UserMessage
from kimicode.tui.widgets.prompt import PromptInput
from tests.tui.conftest import SIZE, idle, send, settings_for, submit, wait_for

ANSWER = "Here is `add`:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt returns the sum."

pytestmark = pytest.mark.anyio


def notices(app: Any, kind: str | None = None) -> list[str]:
    return [n.text for n in app.query(Notice) if kind is None or n.kind == kind]


async def test_question_streams_a_markdown_answer_and_the_budget_moves(make_app: Any, openai_server: Any) -> None:
    openai_server.reply(ANSWER, reasoning="The user asks about calc.py.", chunk_size=3)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        before = app.snapshot.table.sizes["recent"]
        await send(pilot, "what does calc.py do?")

        assert [u.text for u in app.query(UserMessage)] == ["what does calc.py do?"]
        answer = app.query_one(AssistantMessage)
        assert answer.text == ANSWER and answer.reasoning == "The user asks about calc.py."
        assert not answer.partial
        assert answer.query("MarkdownFence"), "the code block is rendered as a highlighted fence"
        assert app.query_one(PromptInput).text == ""

        body = openai_server.chat_requests[-1].body
        assert body["stream"] is True and body["model"] == "kimi-k2.7-code"
        assert body["messages"][-1] == {"role": "user", "content": "what does calc.py do?"}
        assert "def add(a, b)" in body["messages"][0]["content"]  # the packed repository

        snapshot = app.snapshot
        assert snapshot.table.sizes["recent"] > before
        assert snapshot.usage and snapshot.usage["prompt_tokens"] > 0
        legend = str(app.query_one(BudgetBar).render())
        assert "recent" in legend and "last call" in legend


async def test_ctrl_c_stops_the_stream_and_keeps_the_partial_answer(make_app: Any, openai_server: Any) -> None:
    long = "word " * 400
    openai_server.reply(long, chunk_size=5, chunk_delay=0.01)
    openai_server.reply("second answer")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await submit(pilot, "explain everything")
        await wait_for(pilot, lambda: len(app.query(AssistantMessage)) == 1 and len(app.query_one(AssistantMessage).text) > 20)
        assert app.streaming and app.check_action("stop", ()) is True
        await pilot.press("ctrl+c")
        await idle(pilot)

        answer = app.query_one(AssistantMessage)
        assert answer.partial and answer.has_class("-partial")
        assert 20 < len(answer.text) < len(long)
        assert "stopped" in str(answer.query_one(".partial-label").render())
        turns = load_session(app.workspace.session.path).turns
        assert turns[-1].role == "assistant" and turns[-1].partial and turns[-1].text == answer.text

        await submit(pilot, "go on")  # the app is usable, and the model sees the cut-short answer
        await idle(pilot)
        assert app.query(AssistantMessage)[-1].text == "second answer"
        sent = openai_server.chat_requests[-1].body["messages"]
        assert any("cut short" in (m.get("content") or "") for m in sent if m["role"] == "assistant")


async def test_escape_also_stops_a_stream(make_app: Any, openai_server: Any) -> None:
    openai_server.reply("token " * 300, chunk_size=4, chunk_delay=0.01)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await submit(pilot, "talk")
        await wait_for(pilot, lambda: bool(app.query(AssistantMessage)) and len(app.query_one(AssistantMessage).text) > 8)
        await pilot.press("escape")
        await idle(pilot)
        assert app.query_one(AssistantMessage).partial


async def test_an_api_error_is_a_notice_and_the_app_stays_usable(make_app: Any, openai_server: Any) -> None:
    openai_server.bad_key()
    openai_server.reply("fine now")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await send(pilot, "hello")
        errors = notices(app, "error")
        assert errors and "401" in errors[-1] and "Incorrect API key" in errors[-1]
        assert not app.query(AssistantMessage), "no empty answer is left behind"
        await send(pilot, "hello again")
        assert app.query_one(AssistantMessage).text == "fine now"


async def test_no_key_for_a_remote_endpoint_says_which_variable_to_set(make_app: Any, demo_repo: Path) -> None:
    settings = settings_for(demo_repo, "https://api.moonshot.ai/v1")
    app = make_app(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert any("MOONSHOT_API_KEY" in text for text in notices(app, "error"))
        assert app.snapshot is not None and app.snapshot.table.sizes["repo"] > 0  # packing needs no key


async def test_the_window_paints_before_the_session_opens(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        # The first frame: the session is still opening in its worker, the UI already answers.
        assert app.busy.startswith("opening the session")
        assert app.query_one(PromptInput).has_focus
        await idle(pilot)
        assert app.workspace.session is not None and not app.busy


async def test_quit_and_resume_bring_the_conversation_back(make_app: Any, openai_server: Any) -> None:
    openai_server.reply("Noted: the answer is 42.")
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await send(pilot, "remember that the answer is 42")
        session_id = first.workspace.session.id
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert first.workspace.session is None  # closed (and unlocked) on quit

    openai_server.reply("It is 42.")
    second = make_app(resume=True)
    async with second.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert second.workspace.session.id == session_id
        assert [u.text for u in second.query(UserMessage)] == ["remember that the answer is 42"]
        assert [a.text for a in second.query(AssistantMessage)] == ["Noted: the answer is 42."]
        prompt = second.query_one(PromptInput)
        await pilot.press("up")  # the history comes back too
        assert prompt.text == "remember that the answer is 42"
        prompt.text = ""
        await send(pilot, "what is the answer?")
        contents = [m["content"] for m in openai_server.chat_requests[-1].body["messages"]]
        assert any("the answer is 42" in c for c in contents)


async def test_resume_by_id_and_an_unknown_id_is_a_notice(make_app: Any, openai_server: Any) -> None:
    app = make_app(session_id="20991231-235959-0000")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: not app.busy)
        assert any("no session" in text for text in notices(app, "error"))
        await submit(pilot, "hello")
        assert any("/clear opens a new one" in text for text in notices(app, "error"))


async def test_a_full_window_compacts_during_a_turn_and_says_so(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    from tests.openai_server import Reply
    from tests.tui.conftest import small_model

    # the reply as large as a 6K window allows (half): the history fills the budget before the window
    settings = small_model(demo_repo, openai_server.base_url, 6_000, max_output=3_000)
    openai_server.default_reply = Reply("The calculator adds numbers. " * 40)
    app = make_app(settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        for n in range(8):
            await send(pilot, f"question {n}: " + "tell me more about calc.add and its tests. " * 20)
            if notices(app, "compaction"):
                break
        found = [w for w in app.chat.children if isinstance(w, Notice) and w.kind == "compaction"]
        assert found and "compaction 1 (budget)" in found[0].text
        children = list(app.chat.children)
        assert isinstance(children[children.index(found[0]) + 1], AssistantMessage)  # shown before that answer
        assert app.snapshot.table.sizes["state"] > 0
        assert app.snapshot.table.total <= 6_000


async def test_a_slow_local_model_says_what_its_time_target_gives_up(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    """As `ask` and `review` do: the chat on a llama.cpp server says its measured pace and what each request may hold."""
    openai_server.model_entries = [{"id": "slow", "owned_by": "llamacpp"}]
    openai_server.routes[("GET", "/props")] = {"default_generation_settings": {"n_ctx": 8192}}
    # the request timed on first contact: 40 tokens in at least 2 s, ~20 tokens a second
    openai_server.reply("a" * 160, usage={"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540}, chunk_delay=0.05)
    app = make_app(settings=settings_for(demo_repo, openai_server.base_url, model="slow"))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot, timeout=30)
        (paced,) = [n for n in notices(app) if n.startswith("local model reads ~")]
        held = int(paced.split("each request holds at most ")[1].split(" tokens")[0].replace(",", ""))
        assert 0 < held < 8192 and "of a 8,192-token window" in paced and "to answer in ~" in paced
