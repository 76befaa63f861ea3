"""What we can tell from an endpoint's URL alone: is it on this machine, how to show it, where its root is."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def is_local(base_url: str) -> bool:
    """A server on this machine (llama.cpp, Ollama, vLLM): it usually needs no key, and probing it is cheap."""
    return (urlsplit(base_url).hostname or "") in LOCAL_HOSTS


def shown(url: str) -> str:
    """``url`` without ``user:password@``: fit to print, log or store (the userinfo may be a credential)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def server_root(base_url: str) -> str:
    """The server's own root, where llama.cpp's /props and Ollama's /api/* live: ``base_url`` minus a trailing /v1."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url
