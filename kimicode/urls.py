"""What we can tell from an endpoint's URL alone: is it on this machine, how to show it, where its root is.

``shown`` is the one way an endpoint URL reaches a message, a log or the screen: a base_url may
carry ``user:password@`` (a proxy's credentials), and no line kimicode prints may hold them.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def is_local(base_url: str) -> bool:
    """A server on this machine (llama.cpp, Ollama, vLLM): it usually needs no key, and probing it is cheap."""
    return (urlsplit(base_url).hostname or "") in LOCAL_HOSTS


def shown(url: str) -> str:
    """``url`` fit to print: ``https://user:key@host`` shows as ``https://***@host`` (the userinfo may be a credential)."""
    return _userinfo(url, "***@")


def without_userinfo(url: str) -> str:
    """``url`` with no userinfo at all: fit to store, and the same key with or without credentials."""
    return _userinfo(url, "")


def _userinfo(url: str, replacement: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL (a bad [host]): whatever precedes an @ may still be a credential
        scheme, sep, rest = url.rpartition("://")
        _, at, host = rest.rpartition("@")
        return f"{scheme}{sep}{replacement}{host}" if at else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=replacement + parts.netloc.rpartition("@")[2]))


def server_root(base_url: str) -> str:
    """The server's own root, where llama.cpp's /props and Ollama's /api/* live: ``base_url`` minus a trailing /v1."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url
