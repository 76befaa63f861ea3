"""What we know about each model: window, output limit, prices, request quirks.

Figures come from Moonshot's public docs (see /work/shared/NOTES.md, "Moonshot (Kimi) API
facts"); a user can correct or extend them with ``[models."name"]`` tables in the config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from kimicode.config import ModelOverride

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class ModelSpec:
    name: str
    context_window: int
    # Moonshot bounds the answer only by what the prompt leaves of the window, so for the
    # built-in models this equals the window; callers reserve reply room from the budget.
    max_output: int
    price_input: float = 0.0  # USD per million prompt tokens, cache miss
    price_cached_input: float = 0.0  # USD per million prompt tokens, cache hit
    price_output: float = 0.0  # USD per million completion tokens (reasoning included)
    fixed_sampling: bool = False  # send no temperature/top_p/n/penalties: the API rejects them
    thinking: bool = False  # streams reasoning_content, which must be sent back as-is
    allows_required_tool_choice: bool = True
    known: bool = True  # False: conservative guesses for a model nobody described
    system_role: bool = True  # False: its chat template drops system messages; the client folds them into the first user message
    # prompt tokens a second measured at this endpoint (kimicode.discovery), or None: a long prompt on a
    # slow local model takes minutes before its first token, and idle_timeout waits that much longer for it
    prefill_rate: float | None = None
    generate_rate: float | None = None  # answer tokens a second measured at this endpoint, or None
    # the most prompt tokens a request may take so that a model on this machine answers within
    # ``[local] target_seconds`` at its measured speeds (see ``paced``); None: the window alone bounds it (Kimi)
    prompt_cap: int | None = None


def _kimi(name: str, window: int, price_in: float, price_hit: float, price_out: float, required_ok: bool) -> ModelSpec:
    return ModelSpec(
        name=name,
        context_window=window,
        max_output=window,
        price_input=price_in,
        price_cached_input=price_hit,
        price_output=price_out,
        fixed_sampling=True,
        thinking=True,
        allows_required_tool_choice=required_ok,
    )


BUILTIN: Mapping[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _kimi("kimi-k3", 1_048_576, 3.00, 0.30, 15.00, required_ok=True),
        _kimi("kimi-k2.7-code", 262_144, 0.95, 0.19, 4.00, required_ok=False),
        # Same model served faster at twice the price.
        _kimi("kimi-k2.7-code-highspeed", 262_144, 1.90, 0.38, 8.00, required_ok=False),
        # Thinking is on by default (it can be turned off per request).
        _kimi("kimi-k2.6", 262_144, 0.95, 0.16, 4.00, required_ok=False),
    )
}

# An unknown model that no server described: a window small enough that most servers give at
# least as much (a guess that is too large overflows; one too small only packs less), no price
# (cost shows as 0 rather than a made-up figure), and no assumptions about quirks. Callers say
# it is a guess (kimicode.discovery tries the server first).
UNKNOWN_WINDOW = 32_768
UNKNOWN_MAX_OUTPUT = 8_192
REPLY_SHARE = 4  # a model whose reply limit nobody gave answers in at most a quarter of its window


# A model nobody gave a reply limit (a local one, mostly) and whose pace was measured answers within
# a time target (``[local] target_seconds``): a 270M model on two busy cores writes ~5-30 tokens a
# second and reads ~30-200, so a quarter of its 8K window took minutes, mostly spent repeating itself,
# after a minute of reading. MIN_REPLY still leaves room for a short answer or a review's findings,
# MIN_PROMPT for the instructions, the question and a little of the repository, however slow the model.
TARGET_SECONDS = 30.0
REPLY_PART = 0.5  # of the target, the most the answer may take: the rest is for reading the prompt
MIN_REPLY = 256
MIN_PROMPT = 1_024


def reply_cap(window: int) -> int:
    """The reply limit for a model that has none of its own: a share of the window, at most UNKNOWN_MAX_OUTPUT."""
    return max(min(UNKNOWN_MAX_OUTPUT, window // REPLY_SHARE), 1)


@dataclass(frozen=True)
class Pace:
    """A request sized to be answered within a time target at a model's measured speeds."""

    reply: int  # max_tokens
    prompt: int | None  # the most prompt tokens, or None when the prompt speed is unknown (the window bounds it)
    seconds: float  # the time these sizes take at those speeds, the reply written to its end


def paced(window: int, reply: int, prefill: float | None, generate: float | None, target: float) -> Pace:
    """The reply and prompt of one request on a slow model, from its speeds (tokens a second) and ``target`` seconds.

    The answer gets at most REPLY_PART of the target (at least MIN_REPLY tokens, at most ``reply``);
    the prompt what its reading leaves of the target (at least MIN_PROMPT, at most what the window
    leaves). A speed not measured yet bounds nothing: the window does. The floors win over the
    target: a model too slow for it still gets a usable request, and ``seconds`` says how long."""
    if generate and generate > 0:
        reply = min(reply, max(int(generate * target * REPLY_PART), MIN_REPLY))
    reply = max(min(reply, window // 2), 1)
    writing = reply / generate if generate and generate > 0 else 0.0
    prompt = None
    if prefill and prefill > 0:
        prompt = min(window - reply, max(int(prefill * (target - writing)), MIN_PROMPT))
    reading = (prompt if prompt is not None else window - reply) / prefill if prefill and prefill > 0 else 0.0
    return Pace(reply, prompt, round(reading + writing, 1))


def answer_seconds(spec: ModelSpec, prompt_tokens: int, reply: int) -> float | None:
    """How long a model sized by its speed takes to read ``prompt_tokens`` and write ``reply`` (None: not sized so)."""
    if spec.prompt_cap is None or not spec.prefill_rate:
        return None
    return prompt_tokens / spec.prefill_rate + (reply / spec.generate_rate if spec.generate_rate else 0.0)


def pace_line(spec: ModelSpec, prompt_tokens: int, reply: int, held: str = "packed") -> str | None:
    """One line for a model sized by its speed: how fast it is, what was packed (``held``: how the prompt is
    sized) and how long it should take."""
    seconds = answer_seconds(spec, prompt_tokens, reply)
    if seconds is None:
        return None
    writes = f", writes ~{spec.generate_rate:.0f}" if spec.generate_rate else ""
    return (f"local model reads ~{spec.prefill_rate:.0f} tokens/s{writes}: {held} {prompt_tokens:,} tokens "
            f"(of a {spec.context_window:,}-token window) and at most {reply:,} of answer, to answer in ~{seconds:.0f} s")


def _unknown(name: str) -> ModelSpec:
    return ModelSpec(name=name, context_window=UNKNOWN_WINDOW, max_output=reply_cap(UNKNOWN_WINDOW), known=False)


def model_spec(name: str, overrides: Mapping[str, ModelOverride] | None = None) -> ModelSpec:
    """The spec for ``name``: built-in (or conservative default) with config overrides applied.

    An override field wins when it is non-zero; the booleans can therefore only switch a
    quirk on (the override dataclass cannot tell "false" from "not given").
    """
    base = BUILTIN.get(name) or BUILTIN.get(name.lower()) or _unknown(name)
    base = dataclasses.replace(base, name=name)
    override = (overrides or {}).get(name)
    if override is None:
        return base
    changes = {
        f.name: getattr(override, f.name)
        for f in dataclasses.fields(override)
        if getattr(override, f.name)
    }
    if not override.system_role:
        changes["system_role"] = False
    if override.context_window and not base.known:
        # The user described this model's window: no longer a guess. Keep the reply
        # limit a share of the new window unless they gave one.
        changes["known"] = True
        changes.setdefault("max_output", reply_cap(override.context_window))
    spec = dataclasses.replace(base, **changes)
    if spec.max_output > spec.context_window:
        spec = dataclasses.replace(spec, max_output=spec.context_window)
    return spec


def cost_usd(spec: ModelSpec, prompt_tokens: int, cached_tokens: int | None, completion_tokens: int) -> float:
    """Cost of one request; ``cached_tokens`` is the part of the prompt served from cache."""
    cached = min(max(cached_tokens or 0, 0), prompt_tokens)
    # No cache price configured: bill cached tokens as uncached rather than as free.
    cached_price = spec.price_cached_input or spec.price_input
    total = (prompt_tokens - cached) * spec.price_input + cached * cached_price + completion_tokens * spec.price_output
    return total / PER_MILLION
