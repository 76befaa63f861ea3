"""Chroma embedding functions for fingerprints.

``FingerprintHashEmbedding`` wraps kimicode.memory.features: offline, no model file, the
same vectors on every machine. It is registered with Chroma under a versioned name, so a
collection reopened by another client (or another kimicode on a shared server) rebuilds
it from the stored configuration.

``EndpointEmbedding`` calls an OpenAI-compatible ``/embeddings`` endpoint instead, when
``memory.embeddings_url`` is configured. Its configuration stores the URL and model,
never a key: the key is the chat key when the endpoint is on the chat provider's host, else
KIMICODE_EMBEDDINGS_API_KEY from the environment.

Importing this module imports chromadb (about 2 s): only kimicode.memory.store does, and
only when memory is actually used.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from kimicode.memory import features, text_features

ENDPOINT_TIMEOUT = 20.0  # seconds per embeddings request
KEY_VARIABLES = ("KIMICODE_EMBEDDINGS_API_KEY",)  # only this: a chat key must not reach another service


@register_embedding_function
class FingerprintHashEmbedding(EmbeddingFunction[Documents]):
    """Weighted feature hashing of fingerprint documents (see kimicode.memory.features)."""

    def __init__(self) -> None:
        pass  # nothing to configure: the features module fixes dimensions and weights

    def __call__(self, input: Documents) -> Embeddings:
        return features.embed(input)  # type: ignore[return-value]

    @staticmethod
    def name() -> str:
        return f"kimicode-fingerprint-hash-v{features.VERSION}"

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": features.DIMENSIONS, "version": features.VERSION}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> FingerprintHashEmbedding:
        return FingerprintHashEmbedding()

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]


@register_embedding_function
class NoteHashEmbedding(EmbeddingFunction[Documents]):
    """Weighted feature hashing of notes: prose (see kimicode.memory.text_features)."""

    def __init__(self) -> None:
        pass  # nothing to configure: text_features fixes dimensions and weights

    def __call__(self, input: Documents) -> Embeddings:
        return text_features.embed(input)  # type: ignore[return-value]

    @staticmethod
    def name() -> str:
        return f"kimicode-note-hash-v{text_features.VERSION}"

    def get_config(self) -> dict[str, Any]:
        return {"dimensions": features.DIMENSIONS, "version": text_features.VERSION}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> NoteHashEmbedding:
        return NoteHashEmbedding()

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]


@register_embedding_function
class EndpointEmbedding(EmbeddingFunction[Documents]):
    """An OpenAI-compatible embeddings endpoint; every request has a timeout."""

    def __init__(self, url: str, model: str, api_key: str = "", timeout: float = ENDPOINT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._api_key = api_key or next((os.environ[n] for n in KEY_VARIABLES if os.environ.get(n)), "")

    def __call__(self, input: Documents) -> Embeddings:
        from openai import OpenAI

        client = OpenAI(base_url=self.url, api_key=self._api_key or "none", timeout=self.timeout, max_retries=1)
        try:
            answer = client.embeddings.create(model=self.model, input=list(input))
        finally:
            client.close()
        return [item.embedding for item in sorted(answer.data, key=lambda d: d.index)]  # type: ignore[misc]

    @staticmethod
    def name() -> str:
        return "kimicode-endpoint"

    def get_config(self) -> dict[str, Any]:
        return {"url": self.url, "model": self.model}  # never the key

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EndpointEmbedding:
        return EndpointEmbedding(str(config.get("url", "")), str(config.get("model", "")))

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]


def embedding_tag(url: str = "", model: str = "", notes: bool = False) -> str:
    """A short tag for collection names: other vectors, other collection."""
    if url:
        return "e" + hashlib.sha256(f"{url}\n{model}".encode()).hexdigest()[:8]
    return f"t{text_features.VERSION}" if notes else f"h{features.VERSION}"


def embedding_for(url: str = "", model: str = "", api_key: str = "",
                  notes: bool = False) -> tuple[EmbeddingFunction[Documents], str]:
    """The embedding function and its collection tag; ``notes`` for prose, else fingerprints."""
    if url:
        return EndpointEmbedding(url, model, api_key), embedding_tag(url, model)
    if notes:
        return NoteHashEmbedding(), embedding_tag(notes=True)
    return FingerprintHashEmbedding(), embedding_tag()
