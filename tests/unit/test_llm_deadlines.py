"""Every request ends: keep-alive comments, a trickling answer or a day-long Retry-After hold nothing.

httpx's read timeout restarts with every byte, so these servers defeat it; the client's own
idle-data deadline and total deadline must stop them, keep what arrived marked partial, and say why.
"""

from __future__ import annotations

import time

import pytest

from kimicode.llm import DeadlineExceeded, LLMError
from tests.openai_server import OpenAIServer
from tests.unit.test_llm import HELLO, Recorder, make_client


def test_keep_alive_comments_after_content_stop_at_the_idle_timeout(openai_server: OpenAIServer) -> None:
    openai_server.keep_alive("the answer so far", every=0.05)
    seen = Recorder()
    with make_client(openai_server, idle_timeout=0.5, sleep=seen.sleep) as chat:
        result = chat.stream_chat(HELLO, **seen.callbacks())
    assert result.partial and result.timed_out and not result.interrupted
    assert result.content == "the answer so far" == "".join(seen.content)
    assert result.error == "the answer was cut: no new answer data for 0.5 s (idle_timeout)"
    assert len(openai_server.chat_requests) == 1  # text was shown: never asked twice


def test_after_the_first_token_a_local_model_gets_idle_timeout_alone(openai_server: OpenAIServer) -> None:
    # a long prompt to a local server of unknown speed allows its first token ~200 s; once it came,
    # a stall must end at idle_timeout, not when that allowance would have
    openai_server.keep_alive("the answer so far", every=0.05)
    started = time.monotonic()
    with make_client(openai_server, idle_timeout=0.5) as chat:
        result = chat.stream_chat(HELLO, prompt_tokens=2_000)
    assert result.partial and result.timed_out and result.content == "the answer so far"
    assert time.monotonic() - started < 60  # was ~200 s


def test_keep_alive_before_any_answer_is_retried_then_given_up(remote_server: OpenAIServer) -> None:
    for _ in range(2):
        remote_server.keep_alive("", every=0.05)
    with make_client(remote_server, idle_timeout=0.3, max_retries=1, backoff_base=0.0) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO)
    message = str(caught.value)
    assert "sent no answer data for 0.3 s (idle_timeout)" in message and "gave up after 2 attempts" in message
    assert len(remote_server.chat_requests) == 2


def test_a_local_server_silent_before_its_first_token_is_not_asked_again(openai_server: OpenAIServer) -> None:
    """A server on this machine that took the request is reading the prompt: sent again, it would read it
    twice (llama-cpp-python finishes a request whose client left). One clear error instead."""
    for _ in range(2):
        openai_server.keep_alive("", every=0.05)
    with make_client(openai_server, idle_timeout=0.3, max_retries=3, backoff_base=0.0) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO, prompt_tokens=2)  # no speed known: 2 tokens at the slowest local rate, 0.2 s more
    message = str(caught.value)
    assert "was still reading the prompt after 0.5 s" in message and "slower than measured" in message
    assert len(openai_server.chat_requests) == 1 and "\n" not in message


def test_a_local_model_with_no_speed_known_gets_a_slow_reading_allowed(openai_server: OpenAIServer) -> None:
    """No prefill rate measured yet: a local server's first token may take prompt / LOCAL_MIN_PREFILL
    seconds beyond idle_timeout (a slow prefill is not a dead server)."""
    openai_server.reply("read it", prefill=1.0)
    with make_client(openai_server, idle_timeout=0.3, max_retries=0) as chat:
        result = chat.stream_chat(HELLO, prompt_tokens=30)  # at 10 tokens/s: 3 s allowed
    assert not result.partial and result.content == "read it"


def test_empty_chunks_are_not_answer_data(openai_server: OpenAIServer) -> None:
    # a chunk with an empty delta every 0.05 s: bytes flow, but no answer does
    openai_server.trickle("", every=0.05, content="so far")
    with make_client(openai_server, idle_timeout=0.4) as chat:
        result = chat.stream_chat(HELLO)
    assert result.partial and result.content == "so far"
    assert "no new answer data for 0.4 s" in (result.error or "")


def test_a_trickle_forever_stops_at_the_request_deadline(openai_server: OpenAIServer) -> None:
    openai_server.trickle("word ", every=0.05)
    with make_client(openai_server, idle_timeout=5.0, request_deadline=2.0) as chat:
        result = chat.stream_chat(HELLO)
    assert result.partial and result.timed_out
    assert result.content.startswith("word ")  # how many words fit in 2 s depends on the machine's load
    assert result.error == "the answer was cut: not complete within request_deadline = 2 s"


def test_a_caller_deadline_wins_over_a_later_request_deadline(openai_server: OpenAIServer) -> None:
    openai_server.keep_alive("", every=0.05)
    with make_client(openai_server, idle_timeout=30.0, max_retries=3) as chat, pytest.raises(DeadlineExceeded) as caught:
        chat.finish_by(time.monotonic() + 0.5, "review.deadline = 0.5 s")
        chat.stream_chat(HELLO)
    assert str(caught.value) == f"no complete answer from {openai_server.base_url} within review.deadline = 0.5 s: try again later, or raise it"
    assert len(openai_server.chat_requests) == 1


def test_a_complete_answer_is_not_cut_by_the_watchdog(openai_server: OpenAIServer) -> None:
    openai_server.reply("one two three", chunk_size=3, chunk_delay=0.1)  # each gap far below idle_timeout
    with make_client(openai_server, idle_timeout=5.0, request_deadline=30.0) as chat:
        result = chat.stream_chat(HELLO)
    assert (result.content, result.partial, result.timed_out) == ("one two three", False, False)


def test_retry_after_a_day_gives_up_at_once(openai_server: OpenAIServer) -> None:
    openai_server.rate_limit(retry_after="86400")
    seen = Recorder()
    with make_client(openai_server, sleep=seen.sleeps.append) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO, **seen.callbacks())
    assert seen.sleeps == [] and seen.retries == []  # not a second of waiting
    assert len(openai_server.chat_requests) == 1
    message = str(caught.value)
    assert "429" in message and "the server asks to wait 86400 s" in message and "try again later" in message
    assert "\n" not in message


def test_retry_after_longer_than_the_time_left_gives_up(openai_server: OpenAIServer) -> None:
    openai_server.rate_limit(retry_after="30")  # under the ceiling, over what the deadline leaves
    seen = Recorder()
    with make_client(openai_server, request_deadline=5.0, sleep=seen.sleeps.append) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO)
    assert seen.sleeps == []
    assert "asks to wait 30 s and only 5 s are left before request_deadline = 5 s" in str(caught.value)


def test_backoff_never_sleeps_past_the_deadline(openai_server: OpenAIServer) -> None:
    openai_server.fail(503)
    seen = Recorder()
    with make_client(openai_server, request_deadline=0.5, backoff_base=10.0, backoff_cap=10.0,
                     rng=lambda: 1.0, sleep=seen.sleeps.append) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO)
    assert seen.sleeps == []
    assert "no time left before request_deadline = 0.5 s for another try" in str(caught.value)


def test_a_slow_model_reading_a_long_prompt_is_not_taken_for_a_stalled_one(remote_server: OpenAIServer) -> None:
    """A model whose prefill rate was measured gets prompt/rate seconds (times a margin) beyond
    idle_timeout for its first token; after it, idle_timeout alone holds."""
    import dataclasses

    from kimicode.models import model_spec

    for _ in range(2):
        remote_server.reply("read it", prefill=1.0)  # the headers at once, the prompt read in a second
    with make_client(remote_server, idle_timeout=0.3, max_retries=0) as chat, pytest.raises(LLMError):
        chat.stream_chat(HELLO, prompt_tokens=1_000)  # no rate known: idle after 0.3 s
    slow = dataclasses.replace(model_spec("kimi-k2.7-code", {}), prefill_rate=1_000.0)  # 1,000 tokens: ~1 s, 3 s allowed
    with make_client(remote_server, idle_timeout=0.3, max_retries=0, spec=slow) as chat:
        result = chat.stream_chat(HELLO, prompt_tokens=1_000)
    assert not result.partial and result.content == "read it"
