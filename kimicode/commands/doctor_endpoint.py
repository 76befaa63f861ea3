"""`kimicode doctor`'s endpoint checks: is the server there, does it serve the model, how large is
its window, does its chat template keep the system message, is a key needed.

The server is asked (a few quick GETs, each with a short timeout; a refused connection is tried
once more, not for ten seconds). The chat-template check sends one tiny request, to a server on
this machine only. URLs are shown without userinfo: a password in base_url is never printed.
"""

from __future__ import annotations

from typing import Any

from kimicode.commands.doctor import Check


def endpoint_checks(settings: Any) -> list[Check]:
    from kimicode.discovery import resolve_limits
    from kimicode.locations import user_locations
    from kimicode.urls import is_local, shown

    data_dir = user_locations().data_dir
    spec, limits = resolve_limits(settings, data_dir, probe=True, template=False)  # checked below, afresh
    facts = limits.facts
    url, local = shown(settings.base_url), is_local(settings.base_url)
    where = f"base_url from {settings.sources.get('base_url', 'the default')}"
    checks = []
    if facts is None or not facts.reachable:
        # the built-in endpoint unreachable (offline, no key yet) still leaves pack usable
        status = "fail" if local or settings.sources.get("base_url") else "warn"
        checks.append(Check("endpoint", status, f"{url} not reached: {facts.error if facts else 'not asked'} ({where})"))
    else:
        kind = f" ({facts.kind})" if facts.kind else ""
        checks.append(Check("endpoint", "ok", f"{url}{kind} answered in {facts.elapsed * 1000:.0f} ms ({where})"))
        checks.append(_model(settings.model, facts.serves(settings.model), facts.served or ()))
    checks.append(_window(spec, limits))
    if local and facts is not None and facts.reachable and facts.serves(settings.model) is not False:
        checks.append(_template(settings, data_dir))
    checks.append(_key(settings, local))
    return checks


def _model(model: str, served: bool | None, names: tuple[str, ...]) -> Check:
    if served is None:
        return Check("model", "warn", f"{model}: the server lists no models, so the name cannot be checked")
    if served:
        return Check("model", "ok", f"{model} is served")
    listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return Check("model", "fail", f"{model} is not served here; it serves: {listed or 'nothing'} (set model, or KIMICODE_MODEL)")


def _window(spec: Any, limits: Any) -> Check:
    detail = (f"{spec.context_window:,} tokens ({limits.window}); replies up to {spec.max_output:,} "
              f"({limits.max_output})")
    facts = limits.facts
    server = facts.window.value if facts is not None and facts.window is not None else None
    if limits.window.startswith("config") and server and spec.context_window > server:
        return Check("window", "warn", f"{detail}, but the server gives this model only {server:,} ({facts.window.source}): "
                     "requests will overflow; lower context_window")
    if not spec.known:
        return Check("window", "warn", f'{detail}: the server did not say; set [models."{spec.name}"] context_window')
    return Check("window", "ok", detail)


def _template(settings: Any, data_dir: Any) -> Check:
    from kimicode.discovery import template_check

    found = template_check(settings, data_dir)
    if found.system_kept is None:
        return Check("chat template", "warn", f"not checked: {found.error}")
    if found.system_kept:
        return Check("chat template", "ok", f"keeps the system message (the server counted {found.prompt_tokens:,} prompt tokens)")
    return Check("chat template", "warn",
                 f"drops the system message (the server counted {found.prompt_tokens:,} prompt tokens for a ~{found.expected:,}-token "
                 "system message): kimicode puts it at the head of the first user message instead (docs/local-models.md)")


def _key(settings: Any, local: bool) -> Check:
    source = settings.sources.get("api_key")
    if source:
        return Check("api key", "ok", f"set (from {source})")
    if local:
        return Check("api key", "ok", "not needed (a server on this machine)")
    return Check("api key", "warn", "not set: export MOONSHOT_API_KEY (or KIMICODE_API_KEY) to use ask; pack needs none")
