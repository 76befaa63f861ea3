"""Ask an OpenAI-compatible server what it serves and how large a window it gives a model.

Servers say it in different places; each is tried with a short timeout, stopping at the first
exact figure:

- ``GET {base}/models``: vLLM's ``max_model_len``, OpenRouter's ``context_length``, llama.cpp's
  ``meta.n_ctx`` (``meta.n_ctx_train`` is the training window: only an upper bound);
- ``GET {root}/props``: llama.cpp's server, ``default_generation_settings.n_ctx`` (per slot);
- ``GET {root}/api/ps`` then ``POST {root}/api/show``: Ollama, the loaded model's
  ``context_length``, else the Modelfile's ``num_ctx`` (``model_info.*.context_length`` is again
  the training window);
- llama-cpp-python's server reports no window anywhere; it is recognised by
  ``POST {root}/extras/tokenize/count``, and a caller may then ask for an overflow probe: one
  request longer than any local window, which that server rejects before evaluating anything
  with "This model's maximum context length is N tokens".

Where the server also tokenizes on request, a caller may have our counts of a few samples
compared with its own (``measure``): evidence for calibration (see discovery.tokenizer).

Parsers are pure functions of the JSON; ``probe_server`` does the HTTP. A refused connection is
tried once more after a short pause, then the server counts as unreachable: no ten-second waits.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kimicode.urls import server_root, shown

PROBE_TIMEOUT = 2.0  # seconds per probe; a local server answers these in milliseconds
CONNECT_RETRY_PAUSE = 0.25
OLLAMA_DEFAULT_WINDOW = 4_096  # Ollama's smallest default num_ctx (machines under 24 GiB of VRAM)
# Longer than any window a local server allocates: a server that checks the length first (as
# llama-cpp-python does) rejects it after tokenizing, naming its window.
OVERSIZE_TOKENS = 1_100_000
OVERSIZE_TIMEOUT = 30.0
_FILLER = "7"  # digits: one token per one to three bytes in common tokenizers, and quick to tokenize

# /v1/models fields that name the window the server gives a model, most specific first
_WINDOW_KEYS = ("max_model_len", "loaded_context_length", "context_length", "context_window", "max_context_length")
_OUTPUT_KEYS = ("max_completion_tokens", "max_output_tokens")
_OWNERS = {"llamacpp": "llama.cpp", "vllm": "vllm", "library": "ollama", "ollama": "ollama"}


@dataclass(frozen=True)
class Figure:
    """A number and where it came from, as the user should read it."""

    value: int
    source: str


@dataclass
class ServerFacts:
    """What one server said about one model."""

    base_url: str
    reachable: bool = False
    error: str = ""  # one line when unreachable
    kind: str = ""  # "llama.cpp", "llama-cpp-python", "ollama", "vllm"; "" when it did not say
    served: tuple[str, ...] | None = None  # ids listed by /models; None when not listed
    window: Figure | None = None  # the window the server gives this model
    trained: Figure | None = None  # the model's training window: only an upper bound
    max_output: Figure | None = None  # a reply cap, when the server names one
    overflow: Figure | None = None  # the window named by an overflow probe's 400
    token_samples: list[tuple[int, int]] = field(default_factory=list)  # (our count, the server's) per sample
    elapsed: float = 0.0
    tried: list[str] = field(default_factory=list)  # URLs asked, in order
    attempts: int = 0  # connections tried (a refused one is tried twice)

    def serves(self, model: str) -> bool | None:
        """Whether ``model`` is among the served ids (Ollama's ":latest" tag implied); None if unknown."""
        if self.served is None:
            return None
        return _match(list(self.served), model) is not None


def positive_int(value: Any) -> int | None:
    """A count a server reported (an int, a float or a digit string), if it is one above 0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _match(names: list[str], model: str) -> int | None:
    """Index of ``model`` among ``names``, allowing Ollama's implied ":latest" tag either way."""
    wanted = {model, f"{model}:latest", model.removesuffix(":latest")}
    for index, name in enumerate(names):
        if name in wanted:
            return index
    return None


def parse_models(payload: Any, model: str) -> ServerFacts:
    """Facts from a ``/models`` listing (``base_url`` left empty for the caller)."""
    facts = ServerFacts(base_url="")
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return facts
    entries = [e for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)]
    facts.served = tuple(e["id"] for e in entries)
    owners = {_OWNERS.get(str(e.get("owned_by", "")).lower(), "") for e in entries}
    facts.kind = owners.pop() if len(owners) == 1 else ""
    index = _match([e["id"] for e in entries], model)
    if index is None:
        index = next((i for i, e in enumerate(entries) if model in (e.get("aliases") or [])), None)
    if index is None and len(entries) == 1 and facts.kind == "llama.cpp":
        index = 0  # llama.cpp serves its one model whatever name a request gives
    if index is None:
        return facts
    entry = entries[index]
    meta: dict[str, Any] = entry["meta"] if isinstance(entry.get("meta"), dict) else {}
    for key in _WINDOW_KEYS:
        if positive_int(entry.get(key)):
            facts.window = Figure(positive_int(entry[key]), f"server /models {key}")  # type: ignore[arg-type]
            break
    else:
        if positive_int(meta.get("n_ctx")):
            facts.window = Figure(positive_int(meta["n_ctx"]), "server /models meta.n_ctx")  # type: ignore[arg-type]
    if positive_int(meta.get("n_ctx_train")):
        facts.trained = Figure(positive_int(meta["n_ctx_train"]), "server /models meta.n_ctx_train")  # type: ignore[arg-type]
    provider: dict[str, Any] = entry["top_provider"] if isinstance(entry.get("top_provider"), dict) else {}
    for holder, prefix in ((provider, "top_provider."), (entry, "")):
        named = next((k for k in _OUTPUT_KEYS if positive_int(holder.get(k))), None)
        if named:
            facts.max_output = Figure(positive_int(holder[named]), f"server /models {prefix}{named}")  # type: ignore[arg-type]
            break
    return facts


def parse_props(payload: Any) -> Figure | None:
    """llama.cpp's ``/props``: the context each slot gets (what one request may use)."""
    if not isinstance(payload, dict):
        return None
    settings = payload.get("default_generation_settings")
    value = positive_int(settings.get("n_ctx")) if isinstance(settings, dict) else None
    return Figure(value, "server /props n_ctx") if value else None


def parse_ollama_ps(payload: Any, model: str) -> Figure | None:
    """Ollama's ``/api/ps``: the context actually allocated to a loaded model."""
    loaded = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(loaded, list):
        return None
    entries = [e for e in loaded if isinstance(e, dict)]
    index = _match([str(e.get("model") or e.get("name") or "") for e in entries], model)
    value = positive_int(entries[index].get("context_length")) if index is not None else None
    return Figure(value, "server /api/ps context_length") if value else None


def parse_ollama_show(payload: Any) -> tuple[Figure | None, Figure | None]:
    """Ollama's ``/api/show``: (the Modelfile's num_ctx, the model's training window)."""
    if not isinstance(payload, dict):
        return None, None
    window = None
    match = re.search(r"^\s*num_ctx\s+(\d+)\s*$", str(payload.get("parameters") or ""), re.MULTILINE)
    if match:
        window = Figure(int(match.group(1)), "server /api/show num_ctx")
    info: dict[str, Any] = payload["model_info"] if isinstance(payload.get("model_info"), dict) else {}
    trained = next((positive_int(v) for k, v in info.items() if k.endswith(".context_length") and positive_int(v)), None)
    return window, Figure(trained, "server /api/show model_info context_length") if trained else None


class _Unreachable(Exception):
    """The server did not answer: stop probing."""


class _Http:
    """GET/POST JSON with one short timeout; a refused connection is retried once."""

    def __init__(self, api_key: str, timeout: float, facts: ServerFacts) -> None:
        import httpx

        self._httpx = httpx
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)), headers=headers)
        self._facts = facts

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, url: str, body: Any = None, timeout: float | None = None) -> tuple[int, Any]:
        """(status, parsed JSON or None); raises _Unreachable when the server does not answer."""
        self._facts.tried.append(url)
        httpx = self._httpx
        for attempt in (1, 2):
            self._facts.attempts += 1
            try:
                kwargs: dict[str, Any] = {"json": body} if body is not None else {}
                if timeout is not None:
                    kwargs["timeout"] = httpx.Timeout(timeout, connect=1.0)
                reply = self._client.request(method, url, **kwargs)
                break
            except httpx.ConnectError as exc:
                if attempt == 2:
                    raise _Unreachable(f"cannot connect to {shown(url)}: {_reason(exc)}") from None
                time.sleep(CONNECT_RETRY_PAUSE)
            except httpx.TimeoutException:
                raise _Unreachable(f"no answer from {shown(url)} within {timeout or self._client.timeout.read:g} s") from None
            except httpx.HTTPError as exc:
                raise _Unreachable(f"{shown(url)}: {_reason(exc)}") from None
        try:
            return reply.status_code, reply.json()
        except ValueError:
            return reply.status_code, None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return " ".join(text.split())[:120]


def probe_server(base_url: str, api_key: str, model: str, *, timeout: float = PROBE_TIMEOUT,
                 oversize: bool = False, measure: Callable[[str], int] | None = None) -> ServerFacts:
    """Everything the server says about ``model``; never raises (an unreachable server says so in ``error``).

    ``oversize`` allows the overflow probe on a llama-cpp-python server, which reports its window nowhere else;
    ``measure`` (our token count of a text) has the server's tokenizer compared with ours, where it offers one.
    """
    started = time.monotonic()
    facts = ServerFacts(base_url=base_url)
    http = _Http(api_key, timeout, facts)
    try:
        _probe(http, facts, base_url.rstrip("/"), server_root(base_url), model, oversize)
        facts.reachable = True
        if measure is not None:
            _measure(http, facts, server_root(base_url), model, measure)
    except _Unreachable as exc:
        facts.error = str(exc)
        facts.reachable = bool(facts.tried[:-1])  # something answered before the server went quiet
    finally:
        http.close()
        facts.elapsed = time.monotonic() - started
    return facts


def _probe(http: _Http, facts: ServerFacts, base: str, root: str, model: str, oversize: bool) -> None:
    status, payload = http.call("GET", f"{base}/models")
    if status == 200:
        listed = parse_models(payload, model)
        facts.served, facts.kind = listed.served, listed.kind
        facts.window, facts.trained, facts.max_output = listed.window, listed.trained, listed.max_output
    steps: list[Callable[[], None]] = [
        lambda: _props(http, facts, root),
        lambda: _ollama(http, facts, root, model),
        lambda: _llama_cpp_python(http, facts, base, root, model, oversize),
    ]
    for step in steps:
        if facts.window is not None:
            return
        step()


def _props(http: _Http, facts: ServerFacts, root: str) -> None:
    if facts.kind not in ("", "llama.cpp"):
        return
    status, payload = http.call("GET", f"{root}/props")
    window = parse_props(payload) if status == 200 else None
    if window:
        facts.window, facts.kind = window, "llama.cpp"


def _ollama(http: _Http, facts: ServerFacts, root: str, model: str) -> None:
    if facts.kind not in ("", "ollama"):
        return
    status, payload = http.call("GET", f"{root}/api/ps")
    if status == 200 and isinstance(payload, dict) and "models" in payload:
        facts.kind = "ollama"
        facts.window = parse_ollama_ps(payload, model)
    if facts.window is not None or facts.kind != "ollama":
        return
    status, payload = http.call("POST", f"{root}/api/show", {"model": model})
    if status != 200:
        return
    facts.window, trained = parse_ollama_show(payload)
    facts.trained = trained or facts.trained
    if facts.window is None:
        # Not loaded and no num_ctx in its Modelfile: Ollama will give it its default, which we
        # cannot see (OLLAMA_CONTEXT_LENGTH, or a size chosen by VRAM); assume the smallest.
        value = min(OLLAMA_DEFAULT_WINDOW, trained.value) if trained else OLLAMA_DEFAULT_WINDOW
        facts.window = Figure(value, "Ollama's smallest default num_ctx (the model is not loaded; exact once it is)")


def _llama_cpp_python(http: _Http, facts: ServerFacts, base: str, root: str, model: str, oversize: bool) -> None:
    if facts.kind != "":
        return
    status, payload = http.call("POST", f"{root}/extras/tokenize/count", {"input": _FILLER * 100, "model": model})
    per_hundred = positive_int(payload.get("count")) if status == 200 and isinstance(payload, dict) else None
    if not per_hundred:
        return
    facts.kind = "llama-cpp-python"
    if oversize:
        facts.overflow = _overflow_probe(http, base, model, per_hundred)


def _measure(http: _Http, facts: ServerFacts, root: str, model: str, measure: Callable[[str], int]) -> None:
    from kimicode.discovery.tokenizer import parse_count, sample_texts, tokenize_request

    for text in sample_texts() if tokenize_request(facts.kind, root, model, "") else []:
        url, body = tokenize_request(facts.kind, root, model, text)  # type: ignore[misc]
        try:
            status, payload = http.call("POST", url, body)
        except _Unreachable:
            return
        theirs = parse_count(payload) if status == 200 else None
        if theirs is None:
            return  # no tokenize endpoint after all: nothing to compare
        facts.token_samples.append((measure(text), theirs))


def _overflow_probe(http: _Http, base: str, model: str, per_hundred: int) -> Figure | None:
    """One request longer than any local window: llama-cpp-python rejects it unevaluated, naming its window."""
    from kimicode.llm_failures import overflow_limit

    repeats = OVERSIZE_TOKENS * 100 // max(per_hundred, 1) + 1
    body = {"model": model, "messages": [{"role": "user", "content": _FILLER * repeats}], "max_tokens": 1, "stream": False}
    try:
        status, payload = http.call("POST", f"{base}/chat/completions", body, timeout=OVERSIZE_TIMEOUT)
    except _Unreachable:
        return None
    inner = payload.get("error", payload) if isinstance(payload, dict) else None
    message = str(inner.get("message", "")) if isinstance(inner, dict) else ""
    limit = overflow_limit(message, payload) if status in (400, 413, 422) else None
    return Figure(limit, "server 400 to an overflow probe") if limit else None
