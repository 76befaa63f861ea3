"""Model limits, prices and quirks: the built-in table, config overrides, cost."""

from __future__ import annotations

import pytest

from kimicode.config import ModelOverride
from kimicode.models import UNKNOWN_MAX_OUTPUT, UNKNOWN_WINDOW, ModelSpec, cost_usd, model_spec


@pytest.mark.parametrize(
    ("name", "window", "price_in", "price_hit", "price_out", "required_ok"),
    [
        ("kimi-k3", 1_048_576, 3.00, 0.30, 15.00, True),
        ("kimi-k2.7-code", 262_144, 0.95, 0.19, 4.00, False),
        ("kimi-k2.7-code-highspeed", 262_144, 1.90, 0.38, 8.00, False),
        ("kimi-k2.6", 262_144, 0.95, 0.16, 4.00, False),
    ],
)
def test_builtin_models(name: str, window: int, price_in: float, price_hit: float, price_out: float, required_ok: bool) -> None:
    spec = model_spec(name, {})
    assert spec.name == name and spec.known
    assert spec.context_window == window
    assert spec.max_output == window  # output is bounded by what the prompt leaves
    assert (spec.price_input, spec.price_cached_input, spec.price_output) == (price_in, price_hit, price_out)
    assert spec.fixed_sampling and spec.thinking
    assert spec.allows_required_tool_choice is required_ok


def test_highspeed_costs_twice_the_base_model() -> None:
    base, fast = model_spec("kimi-k2.7-code", {}), model_spec("kimi-k2.7-code-highspeed", {})
    assert cost_usd(fast, 100_000, 20_000, 5_000) == pytest.approx(2 * cost_usd(base, 100_000, 20_000, 5_000))


def test_unknown_model_gets_conservative_defaults() -> None:
    spec = model_spec("llama-3.1-8b-instruct", {})
    assert spec == ModelSpec(name="llama-3.1-8b-instruct", context_window=UNKNOWN_WINDOW, max_output=UNKNOWN_MAX_OUTPUT, known=False)
    assert UNKNOWN_WINDOW == 32_768  # a guess too large overflows a local server; too small only packs less
    assert not spec.fixed_sampling and spec.allows_required_tool_choice
    assert cost_usd(spec, 1_000_000, 0, 1_000_000) == 0.0


def test_lookup_ignores_case_but_keeps_the_given_name() -> None:
    spec = model_spec("Kimi-K2.6", {})
    assert spec.known and spec.context_window == 262_144 and spec.name == "Kimi-K2.6"


def test_non_zero_override_fields_win() -> None:
    overrides = {"kimi-k2.6": ModelOverride(context_window=131_072, price_output=5.0)}
    spec = model_spec("kimi-k2.6", overrides)
    assert spec.context_window == 131_072
    assert spec.max_output == 131_072  # never more than the window
    assert spec.price_output == 5.0
    assert (spec.price_input, spec.price_cached_input) == (0.95, 0.16)  # zero: keep built-in
    assert spec.fixed_sampling and spec.thinking  # False in the override cannot switch a quirk off


def test_override_describes_an_unknown_model() -> None:
    overrides = {"my-local": ModelOverride(context_window=32_768, price_input=0.5, fixed_sampling=True, thinking=True)}
    spec = model_spec("my-local", overrides)
    assert spec.known and spec.context_window == 32_768
    assert spec.max_output == UNKNOWN_MAX_OUTPUT
    assert spec.fixed_sampling and spec.thinking and spec.price_input == 0.5
    small = model_spec("tiny", {"tiny": ModelOverride(context_window=4_096)})
    assert small.max_output == 1_024  # a quarter of a small window: the rest is for the prompt


def test_override_for_another_model_is_ignored() -> None:
    assert model_spec("kimi-k3", {"kimi-k2.6": ModelOverride(context_window=1)}) == model_spec("kimi-k3", {})


def test_override_of_prices_only_keeps_the_model_unknown() -> None:
    spec = model_spec("mystery", {"mystery": ModelOverride(price_input=1.0)})
    assert not spec.known and spec.context_window == UNKNOWN_WINDOW


def test_cost() -> None:
    spec = model_spec("kimi-k2.7-code", {})
    # 800k uncached at $0.95/M + 200k cached at $0.19/M + 100k out at $4/M
    assert cost_usd(spec, 1_000_000, 200_000, 100_000) == pytest.approx(0.76 + 0.038 + 0.4)
    assert cost_usd(spec, 1_000, None, 0) == pytest.approx(1_000 * 0.95 / 1e6)  # unknown cache: all uncached
    assert cost_usd(spec, 1_000, 5_000, 0) == pytest.approx(1_000 * 0.19 / 1e6)  # cached capped at the prompt
    assert cost_usd(spec, 0, 0, 0) == 0.0


def test_cost_without_a_cache_price_bills_cached_as_uncached() -> None:
    spec = model_spec("x", {"x": ModelOverride(price_input=2.0, price_output=6.0)})
    assert cost_usd(spec, 1_000_000, 500_000, 0) == pytest.approx(2.0)


def test_the_default_reply_cap_is_a_share_of_the_window() -> None:
    from kimicode.models import reply_cap

    assert [reply_cap(w) for w in (4096, 8192, 65_536, 262_144)] == [1024, 2048, 8192, 8192]


def test_a_slow_model_s_request_is_sized_to_answer_within_the_target() -> None:
    from kimicode.models import MIN_PROMPT, MIN_REPLY, paced

    # gemma3 270M on two idle cores: ~140 prompt and ~28 answer tokens a second
    pace = paced(8192, 2048, 140.0, 28.0, 30.0)
    assert pace.reply == 420 and pace.prompt == 2100 and pace.seconds == 30.0  # 15 s of reading, 15 of writing
    # under load (27 and 7.5): the floors win over the target, and the time says so
    busy = paced(8192, 2048, 27.0, 7.5, 30.0)
    assert (busy.reply, busy.prompt) == (MIN_REPLY, MIN_PROMPT) and busy.seconds == round(1024 / 27 + 256 / 7.5, 1)
    # a fast server keeps the window's share and fills the window
    fast = paced(8192, 2048, 5000.0, 400.0, 30.0)
    assert (fast.reply, fast.prompt) == (2048, 8192 - 2048)
    # speeds not measured bound nothing
    assert paced(8192, 2048, None, None, 30.0) == type(pace)(2048, None, 0.0)
    # only the answer speed known: the reply is paced, the window bounds the prompt
    assert paced(8192, 2048, None, 10.0, 30.0).prompt is None and paced(8192, 2048, None, 10.0, 30.0).reply == MIN_REPLY
    # a tiny window: never more than half of it for the reply, the prompt within what is left
    tiny = paced(1024, 1024, 100.0, 100.0, 30.0)
    assert tiny.reply == 512 and tiny.prompt == 512
