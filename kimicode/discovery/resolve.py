"""One answer to "how large is this model's window, and how do we know": ModelSpec plus sources.

Priority for the window: the user's config (``[models."name"] context_window``), else what the
server says (probed now, or remembered), lowered by what a "request too long" answer taught us,
else the built-in table, else a conservative default with a one-line notice. The reply cap and
the prices follow the same order (config, server, table, default).

A local server is asked again after a few minutes (it may have been restarted with another
window); a remote one only for a model the table does not know, and then at most once a day. Commands call ``resolve_limits`` once; the request path calls ``learn_window`` when
a provider answers "too long" with a figure.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kimicode import calibration
from kimicode.discovery import store
from kimicode.discovery.probe import PROBE_TIMEOUT, Figure, ServerFacts, probe_server
from kimicode.discovery.template import SYSTEM_TEXT, TemplateCheck, check_template
from kimicode.models import BUILTIN, MIN_REPLY, REPLY_PART, UNKNOWN_WINDOW, ModelSpec, model_spec, paced, reply_cap
from kimicode.urls import is_local

if TYPE_CHECKING:
    from kimicode.config import Settings

PACE_TOKENS = 32  # an answer (or a prompt) shorter than this says little about the model's pace
REMOTE_FRESH = 24 * 3600  # seconds a remote server's figures are trusted before asking again
# A local server's figures are trusted this long: one restarted with another window meanwhile answers
# "too long" with the figure (llama.cpp, vLLM), which is learned at once (learn_window)
LOCAL_FRESH = 300
# Servers whose chat formats are known to drop system messages (llama-cpp-python's `--chat_format
# gemma`): the first probe also asks whether this one does (one request, one token of answer).
TEMPLATE_CHECKED = ("llama-cpp-python",)
# Servers that run a model on the machine they are on: one on this machine is timed on first contact
# (discovery.speed), so that even the first question is sized to its speed.
SPEED_CHECKED = ("llama.cpp", "llama-cpp-python", "ollama", "vllm")


@dataclass(frozen=True)
class LimitSources:
    """Where each figure of a resolved ModelSpec came from, in words a user reads."""

    window: str
    max_output: str
    price: str
    notices: tuple[str, ...] = ()  # one line each, for stderr
    facts: ServerFacts | None = None  # what the server said this time, when it was asked
    remembered: store.Remembered = store.Remembered()


def _when(at: Any) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(at)) if isinstance(at, (int, float)) else "earlier"


def _config_source(settings: Settings, key: str) -> str:
    return f"config ({settings.sources.get(key, 'config')})"


def _table_entry(name: str) -> ModelSpec | None:
    return BUILTIN.get(name) or BUILTIN.get(name.lower())


def should_probe(settings: Settings, remembered: store.Remembered, now: float) -> bool:
    """Ask the server now? A local one when what it said is older than LOCAL_FRESH; a remote one only
    for a model the table does not know, once a day."""
    override = settings.models.get(settings.model)
    if override is not None and override.context_window:
        return False  # the user said: nothing the server says would change the window
    if is_local(settings.base_url):  # answers in milliseconds, but a command that asks waits for the imports and the round trips
        return not (remembered.server and now - remembered.server.get("at", 0) < LOCAL_FRESH)
    if _table_entry(settings.model) is not None:
        return False
    return not (remembered.server and now - remembered.server.get("at", 0) < REMOTE_FRESH)


def resolve_limits(settings: Settings, data_dir: Path | None = None, *, probe: bool | None = None,
                   oversize: bool = True, timeout: float = PROBE_TIMEOUT,
                   template: bool = True) -> tuple[ModelSpec, LimitSources]:
    """The spec for ``settings.model`` at ``settings.base_url`` and where its figures came from.

    ``probe``: None decides by itself (see ``should_probe``); True always asks (doctor, models);
    False never does. ``oversize`` allows the overflow probe on a llama-cpp-python server when
    no window for it is remembered; ``template`` the chat-template check on a server of a kind in
    TEMPLATE_CHECKED when none is remembered (doctor checks afresh itself). ``data_dir`` None:
    nothing is remembered or recalled.
    """
    name, now = settings.model, time.time()
    remembered = store.recall(data_dir, settings.base_url, name) if data_dir else store.Remembered()
    facts = None
    if probe if probe is not None else should_probe(settings, remembered, now):
        facts = probe_server(settings.base_url, settings.api_key, name, timeout=timeout,
                             oversize=oversize and not remembered.learned, measure=_measurer(settings, data_dir))
        remembered = _remember(data_dir, settings, remembered, facts)
        if data_dir is not None:
            samples, where = facts.token_samples, data_dir
            _cached(lambda: [calibration.record(where, name, ours, theirs) for ours, theirs in samples])
            if template and facts.kind in TEMPLATE_CHECKED and not remembered.template:
                template_check(settings, data_dir)  # once per endpoint and model: remembered
                remembered = store.recall(data_dir, settings.base_url, name)
            if (facts.kind in SPEED_CHECKED and is_local(settings.base_url) and not remembered.speed
                    and settings.local.target_seconds > 0):
                # once per endpoint and model; every answer refines it
                remembered = dataclasses.replace(remembered, speed=_stamped(speed_check(settings, data_dir)))
    window, window_source, notices = _window(settings, remembered)
    spec, max_output_source, price_source = _spec(settings, window, window_source, remembered)
    if not spec.system_role:
        said = (f"found {_when(remembered.template.get('at'))}" if remembered.template
                and remembered.template.get("system_kept") is False else "system_role = false in the config")
        notices.append(f"{name}'s chat template drops the system message ({said}): kimicode puts it at the head of "
                       "the first user message; see docs/local-models.md")
    sources = LimitSources(window_source, max_output_source, price_source, tuple(notices), facts, remembered)
    return spec, sources


def _measurer(settings: Settings, data_dir: Path | None):  # type: ignore[no-untyped-def]
    """Our raw token count, while calibration for this model still lacks the samples to move."""
    if data_dir is None or len(calibration.evidence(data_dir, settings.model).samples) >= calibration.AGREE:
        return None
    from kimicode.tokens import EncodingUnavailable, TokenCounter

    counter = TokenCounter(settings.pack.encoding)
    try:
        counter.check()
    except EncodingUnavailable:
        return None
    return counter.raw


def _remember(data_dir: Path | None, settings: Settings, remembered: store.Remembered, facts: ServerFacts) -> store.Remembered:
    """Fold what the server just said into what is remembered (and store it)."""
    if not facts.reachable:
        return remembered  # keep what we knew: the figures of a server that is down still hold
    # kept even when the server named no window: a remote one is then not asked again for a day
    server = {"window": facts.window.value if facts.window else None,
              "source": facts.window.source if facts.window else "", "kind": facts.kind,
              "trained": facts.trained.value if facts.trained else None,
              "max_output": facts.max_output.value if facts.max_output else None,
              "max_output_source": facts.max_output.source if facts.max_output else None}
    learned = remembered.learned
    if facts.overflow is not None:
        learned = {"window": facts.overflow.value, "source": facts.overflow.source, "server_window": None}
    elif learned and server["window"] and learned.get("server_window") != server["window"]:
        learned = None  # the server now reports another window than when we learned: it was restarted
    if data_dir is not None:
        _cached(lambda: store.remember(data_dir, settings.base_url, settings.model, server=server, learned=learned))
    return dataclasses.replace(remembered, server=_stamped(server), learned=_stamped(learned, remembered.learned))


def _cached(write) -> None:  # type: ignore[no-untyped-def]
    """What discovery stores is a cache of facts found again next time: a disk that refuses it
    (full, read-only) must not stop the command that is about to use them."""
    try:
        write()
    except OSError:
        pass


def _stamped(record: dict[str, Any] | None, previous: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {**record, "at": record.get("at") or (previous or {}).get("at") or int(time.time())}


def _window(settings: Settings, remembered: store.Remembered) -> tuple[int, str, list[str]]:
    name = settings.model
    override = settings.models.get(name)
    if override is not None and override.context_window:
        return override.context_window, _config_source(settings, f"models.{name}.context_window"), []
    candidates: list[Figure] = []
    if remembered.server and isinstance(remembered.server.get("window"), int):
        candidates.append(Figure(remembered.server["window"], str(remembered.server.get("source", "server"))))
    if remembered.learned and isinstance(remembered.learned.get("window"), int):
        learned = remembered.learned
        candidates.append(Figure(learned["window"], f"{learned.get('source', 'learned from a 400')}, {_when(learned.get('at'))}"))
    if candidates:
        best = min(candidates, key=lambda f: f.value)
        return best.value, best.source, []
    table = _table_entry(name)
    if table is not None:
        return table.context_window, "table", []
    trained = remembered.server.get("trained") if remembered.server else None
    window = min(UNKNOWN_WINDOW, trained) if isinstance(trained, int) else UNKNOWN_WINDOW
    notice = (f"{name}: window unknown (the server did not say, the table has no entry): assuming {window:,} tokens; "
              f"set [models.\"{name}\"] context_window in the config if it is smaller")
    return window, "default (a guess)", [notice]


def _spec(settings: Settings, window: int, window_source: str, remembered: store.Remembered) -> tuple[ModelSpec, str, str]:
    name = settings.model
    base = model_spec(name, settings.models)  # table and config: prices and quirks
    override = settings.models.get(name)
    table = _table_entry(name)
    server_cap = remembered.server.get("max_output") if remembered.server else None
    if override is not None and override.max_output:
        max_output, output_source = override.max_output, _config_source(settings, f"models.{name}.max_output")
    elif isinstance(server_cap, int):
        max_output, output_source = server_cap, str(remembered.server.get("max_output_source") or "server")  # type: ignore[union-attr]
    elif table is not None:
        max_output, output_source = table.max_output, "table: the reply may use what the prompt leaves"
    else:
        max_output, output_source = reply_cap(window), "default: a quarter of the window, at most 8,192"
    max_output = min(max_output, window)
    priced = override is not None and any((override.price_input, override.price_cached_input, override.price_output))
    price_source = _config_source(settings, f"models.{name}.price_input") if priced else ("table" if table else "none (costs show as $0)")
    known = not window_source.startswith("default")
    dropped = bool(remembered.template) and remembered.template.get("system_kept") is False  # type: ignore[union-attr]
    system_role = base.system_role and not dropped
    prefill, generate = _rate(remembered.speed, "prefill"), _rate(remembered.speed, "generate")
    prompt_cap = None
    target = settings.local.target_seconds
    if is_local(settings.base_url) and target > 0 and (prefill or generate):
        # a model on this machine: the request is sized to be answered in about `target` seconds; a
        # reply cap of the config's or the server's own is kept, and its writing time counted
        default_cap = output_source.startswith("default")
        pace = paced(window, max_output, prefill, generate if default_cap else None, target)
        if default_cap and pace.reply < max_output:
            max_output, output_source = pace.reply, (f"default: about {target * REPLY_PART:g} s of answer at the "
                                                     f"{generate:.1f} tokens/s measured {_when(_at(remembered.speed))}, "
                                                     f"at least {MIN_REPLY}")
        prompt_cap = pace.prompt
    return (dataclasses.replace(base, context_window=window, max_output=max_output, known=known, system_role=system_role,
                                prefill_rate=prefill, generate_rate=generate, prompt_cap=prompt_cap),
            output_source, price_source)


def _rate(speed: dict[str, Any] | None, key: str) -> float | None:
    value = (speed or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _at(record: dict[str, Any] | None) -> Any:
    return (record or {}).get("at")


def learn_speed(data_dir: Path, base_url: str, model: str, prompt_tokens: int, first_token: float,
                completion_tokens: int, generating: float) -> None:
    """Remember how fast the model answered (tokens per second), blended with what was known: a local
    model's reply cap and prompt follow them (``_spec``), and `kimicode models` shows both."""
    if completion_tokens < PACE_TOKENS or generating <= 0:
        return  # too few tokens for a rate
    now = {"generate": (completion_tokens - 1) / generating}
    if prompt_tokens >= PACE_TOKENS and first_token > 0:
        now["prefill"] = prompt_tokens / first_token
    known = store.recall(data_dir, base_url, model).speed or {}
    blended = {key: round((value + known[key]) / 2 if isinstance(known.get(key), (int, float)) else value, 2)
               for key, value in now.items()}
    store.remember(data_dir, base_url, model, speed={**{k: v for k, v in known.items() if k != "at"}, **blended,
                                                     "source": "answers measured"})


def speed_check(settings: Settings, data_dir: Path) -> dict[str, Any] | None:
    """Time one small request to a model on this machine and remember its speeds (None: it could not be timed)."""
    from kimicode.discovery.speed import PROMPT, measure_speed
    from kimicode.tokens import EncodingUnavailable, TokenCounter

    try:
        estimate = TokenCounter(settings.pack.encoding, calibration.factor(data_dir, settings.model)).count(PROMPT)
    except EncodingUnavailable:
        estimate = 0  # the server's own count, if it gives one, is all there is
    found = measure_speed(settings.base_url, settings.api_key, settings.model, estimate)
    rates = {key: round(value, 2) for key, value in (("prefill", found.prefill), ("generate", found.generate)) if value}
    if not rates:
        return None
    speed = {**rates, "source": "a timed request"}
    _cached(lambda: store.remember(data_dir, settings.base_url, settings.model, speed=speed))
    return speed


def learn_window(data_dir: Path, base_url: str, model: str, limit: int, said: str = "") -> None:
    """Remember the window a "request too long" answer named (ContextOverflow.limit), for every later command."""
    remembered = store.recall(data_dir, base_url, model)
    server_window = remembered.server.get("window") if remembered.server else None
    store.remember(data_dir, base_url, model, learned={"window": limit, "source": "learned from a 400",
                                                        "said": said[:200], "server_window": server_window})


def template_check(settings: Settings, data_dir: Path | None) -> TemplateCheck:
    """Ask the server whether its chat template keeps the system message (one tiny request) and remember the answer."""
    from kimicode.tokens import EncodingUnavailable, TokenCounter

    try:
        expected = TokenCounter(settings.pack.encoding).raw(SYSTEM_TEXT)
    except EncodingUnavailable as exc:
        return TemplateCheck(None, error=str(exc))
    found = check_template(settings.base_url, settings.api_key, settings.model, expected)
    if found.system_kept is not None and data_dir is not None:
        kept = found.system_kept
        _cached(lambda: remember_template(data_dir, settings.base_url, settings.model, kept, found.prompt_tokens, expected))
    return found


def remember_template(data_dir: Path, base_url: str, model: str, system_kept: bool, prompt_tokens: int, expected: int) -> None:
    """Remember whether the server's chat template keeps the system message (doctor checks it)."""
    store.remember(data_dir, base_url, model, template={"system_kept": system_kept, "prompt_tokens": prompt_tokens,
                                                        "expected": expected})
