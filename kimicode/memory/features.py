"""Offline embedding of error fingerprints: weighted feature hashing, no model, no download.

A learned text embedding would know that "KeyError" and "missing key" are related, but
it needs a model file (Chroma's default downloads one, which fails offline) and it sees
paths and numbers as content. Fingerprints are already normalized, so what remains is
structured: the error type, the words and quoted names of the message, the functions
and files of the innermost project frames. Each becomes a named feature with a weight
for how much it says about the bug; features are hashed into a fixed-size vector
(signed, so collisions cancel out on average) and the vector is L2-normalized, so
cosine similarity measures the weighted overlap of the two feature sets.

Free text (a search query, a question without a traceback) shares the ``w:`` word
features with the documents, so "KeyError load_user" still finds the record.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Iterable

DIMENSIONS = 1024
VERSION = 1  # bump when features or weights change: stored vectors are then rebuilt

_TOKEN = re.compile(r"<[a-z]+>|[A-Za-z_][A-Za-z0-9_]*|\d+")
_QUOTED = re.compile(r"'([^'\s]{1,60})'|\"([^\"\s]{1,60})\"")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_STOP = frozenset("a an the of to in on at for is was be by with and or not no it this that".split())

W_TYPE = 3.0  # the error type: the strongest single signal...
W_GENERIC_TYPE = 1.0  # ...unless every error of a tool has it ("panic", "error")
GENERIC_TYPES = frozenset({"panic", "error", "fatal error", "runtime error", "failed", "test failure", "exception"})
W_TYPE_WORD = 1.0
W_LANGUAGE = 0.5
W_WORD = 1.0  # a word of the message
W_QUOTED = 1.5  # a quoted name in the message ('user_id', 'connect_to'): usually what the bug is about
W_BIGRAM = 1.0  # word pairs keep the message's shape ("no attribute", "out of range")
W_PLACEHOLDER = 0.3
W_FUNCTION = 2.0  # innermost project frame; deeper frames count less (FRAME_DECAY)
W_FILE = 1.5
W_FRAME = 2.0  # file and function together
W_SUBWORD = 0.5
FRAME_DECAY = 0.5


def _subwords(name: str) -> list[str]:
    """``load_user`` -> load, user; ``UserService.validate`` -> user, service, validate."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return [w.lower() for p in parts for w in _CAMEL.findall(p) if len(w) > 1]


def _message_features(message: str, out: dict[str, float], scale: float = 1.0) -> None:
    tokens = [t.lower() for t in _TOKEN.findall(message)]
    for token in tokens:
        if token in _STOP:
            continue
        weight = W_PLACEHOLDER if token.startswith("<") or token.isdigit() else W_WORD
        _add(out, "w:" + token, weight * scale)
    for a, b in zip(tokens, tokens[1:]):
        _add(out, f"b:{a} {b}", W_BIGRAM * scale)
    for match in _QUOTED.finditer(message):
        name = (match.group(1) or match.group(2)).lower()
        _add(out, "q:" + name, W_QUOTED * scale)
        for sub in _subwords(name):
            _add(out, "w:" + sub, W_SUBWORD * scale)


def _frame_features(index: int, frame: str, out: dict[str, float]) -> None:
    decay = 1.0 / (1.0 + FRAME_DECAY * index)
    path, _, function = frame.partition(" in ")
    name = path.rsplit("/", 1)[-1].lower()
    if name:
        _add(out, "file:" + name, W_FILE * decay)
        _add(out, "w:" + name.rsplit(".", 1)[0], W_SUBWORD * decay)
    if function:
        fn = function.lower()
        _add(out, "fn:" + fn, W_FUNCTION * decay)
        _add(out, "w:" + fn, W_SUBWORD * decay)
        for sub in _subwords(function):
            _add(out, "w:" + sub, W_SUBWORD * decay)
        if name:
            _add(out, f"ff:{name}:{fn}", W_FRAME * decay)


def _add(out: dict[str, float], feature: str, weight: float) -> None:
    out[feature] = out.get(feature, 0.0) + weight


def features(text: str) -> dict[str, float]:
    """Named, weighted features of a fingerprint document (``type: ...`` lines) or of free text."""
    out: dict[str, float] = {}
    frames = 0
    for line in text.split("\n"):
        label, sep, value = line.partition(": ")
        if not sep:
            label, value = "", line
        value = value.strip()
        if label == "type" and value:
            generic = value.lower() in GENERIC_TYPES or value.lower().startswith("error [")
            _add(out, "type:" + value.lower(), W_GENERIC_TYPE if generic else W_TYPE)
            short = value.rsplit(".", 1)[-1] if " " not in value else value
            _add(out, "w:" + short.lower(), W_TYPE_WORD)
        elif label == "language" and value:
            _add(out, "lang:" + value, W_LANGUAGE)
        elif label == "message":
            _message_features(value, out)
        elif label == "frame" and value:
            _frame_features(frames, value, out)
            frames += 1
        elif value:
            _free_text(line, out)
    return out


def _free_text(text: str, out: dict[str, float]) -> None:
    """Words of a query; a word that names an error type also counts as the type."""
    _message_features(text, out)
    for token in _TOKEN.findall(text):
        if token.endswith(("Error", "Exception")) or token == "panic":
            _add(out, "type:" + token.lower(), W_TYPE)
        if "_" in token or any(c.isupper() for c in token[1:]):
            for sub in _subwords(token):
                _add(out, "w:" + sub, W_SUBWORD)


def _slot(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % DIMENSIONS, (1.0 if (value >> 63) & 1 else -1.0)


def vector(weights: dict[str, float]) -> list[float]:
    """Signed feature hashing into DIMENSIONS floats, L2-normalized (all zeros for no features)."""
    out = [0.0] * DIMENSIONS
    for feature, weight in weights.items():
        index, sign = _slot(feature)
        out[index] += sign * weight
    norm = math.sqrt(sum(v * v for v in out))
    if norm == 0.0:
        # Chroma rejects a zero vector under cosine distance: a constant direction that matches nothing well
        out[0] = 1.0
        return out
    return [v / norm for v in out]


def embed(texts: Iterable[str]) -> list[list[float]]:
    return [vector(features(text)) for text in texts]


def similarity(a: str, b: str) -> float:
    """Cosine similarity of two texts' embeddings (tests, the benchmark, explanations)."""
    va, vb = vector(features(a)), vector(features(b))
    return sum(x * y for x, y in zip(va, vb))
