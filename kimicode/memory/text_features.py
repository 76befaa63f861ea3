"""Offline embedding of notes: weighted feature hashing of prose, no model, no download.

A note ("we use httpx, never requests") and the request that needs it weeks later ("add a
call to the exchange-rate API") share few words. Four kinds of feature bring them together:

- stems of words and of the parts of identifiers (``load_user`` -> load, user), Porter2 via
  snowballstemmer, so "retries" meets "retrying";
- character 4-grams of each word, weakly, so "http" meets "httpx" and typos still match;
- word pairs, so "never requests" is not just "never" and "requests";
- concepts from a small thesaurus (concepts.py), so "pytest" meets "tests".

Words every request is full of ("add", "make", "please", "we") count little or nothing. The
features are hashed into the same signed 1,024 dimensions as fingerprints (features.vector),
so cosine similarity is the weighted overlap of the two feature sets.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable

from kimicode.memory.concepts import CONCEPTS
from kimicode.memory.features import vector

VERSION = 1  # bump when features or weights change: stored vectors are then rebuilt

W_WORD = 1.0
W_RARE = 1.5  # a word that names a tool or identifier (digits, dots, underscores, capitals inside)
W_GRAM = 0.12  # each character 4-gram of a word
W_PAIR = 0.5
W_CONCEPT = 0.9
W_WEAK = 0.25  # words that say little about the topic

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#/-]*[A-Za-z0-9+#]|[A-Za-z0-9]")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_STOP = frozenset("""
a an the of to in on at for is are was were be been being by with and or not no it its this that these those
as from into than then there here so such if else when while where which who whom whose what why how do does
did done doing have has had having i me my we us our you your he she they them their one ones can could should
would will shall may might must also just only very too any some all each every more most other same about over
under up down out off again once let lets let's please pls need needs want wants like get gets got make makes
made way thing things something anything now today still yet
""".split())
# Verbs and fillers of requests ("add", "write", "continue"): present in every question, meaning little.
_WEAK = frozenset("""
add adding added write writing written create creating implement implementing use using used uses new
continue continuing resume pick left remain remaining next step steps work working done finish start started
go going keep kept show shows tell help fix fixing change changes changed update updated support
decided decision agreed chose chosen settled picked went task open
""".split())


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:  # snowballstemmer has no type hints
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


def _parts(token: str) -> list[str]:
    """``load_user`` -> load, user; ``UserService`` -> user, service; ``os.environ`` -> os, environ."""
    pieces = [p for p in re.split(r"[^A-Za-z0-9]+", token) if p]
    return [w.lower() for p in pieces for w in _CAMEL.findall(p) if w]


def _is_rare(token: str) -> bool:
    return any(c.isdigit() for c in token) or any(c in "._/+#" for c in token) or any(c.isupper() for c in token[1:])


@functools.lru_cache(maxsize=1)
def _concept_index() -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, ...], tuple[str, ...]]]:
    """Single stems -> concepts, and stemmed word sequences -> concepts."""
    single: dict[str, list[str]] = {}
    multi: dict[tuple[str, ...], list[str]] = {}
    for concept, terms in CONCEPTS.items():
        for term in terms:
            words = tuple(stem(w) for w in re.findall(r"[a-z0-9]+(?:[._+#-][a-z0-9]+)*", term.lower()))
            if not words:
                continue
            target = single.setdefault(words[0], []) if len(words) == 1 else multi.setdefault(words, [])
            if concept not in target:
                target.append(concept)
    return ({k: tuple(v) for k, v in single.items()}, {k: tuple(v) for k, v in multi.items()})


def tokens(text: str) -> list[str]:
    """The stems of ``text`` in order, stop words out, identifiers split into their parts too."""
    out: list[str] = []
    for token in _WORD.findall(text):
        lower = token.lower().strip("./-")
        if not lower or lower in _STOP:
            continue
        parts = _parts(token)
        if len(parts) > 1:
            out.append(lower)  # the whole identifier (load_user, os.environ, E.164) as one token, then its parts
            out.extend(stem(p) for p in parts if p not in _STOP and len(p) > 1)
        elif _is_rare(token):
            out.append(lower)
        else:
            out.append(stem(lower))
    return out


def _add(out: dict[str, float], feature: str, weight: float) -> None:
    out[feature] = out.get(feature, 0.0) + weight


def features(text: str) -> dict[str, float]:
    """Named, weighted features of a note or a question."""
    out: dict[str, float] = {}
    words = tokens(text)
    single, multi = _concept_index()
    for word in words:
        weak = word in _WEAK or stem(word) in _WEAK
        weight = W_WEAK if weak else (W_RARE if _is_rare(word) else W_WORD)
        _add(out, "w:" + word, weight)
        if not weak:
            padded = f"<{word}>"
            for i in range(max(1, len(padded) - 3)):
                _add(out, "g:" + padded[i:i + 4], W_GRAM)
        for concept in single.get(word, ()):
            _add(out, "k:" + concept, W_CONCEPT)
    for a, b in zip(words, words[1:]):
        _add(out, f"b:{a} {b}", W_PAIR)
    for size in (2, 3):
        for i in range(len(words) - size + 1):
            for concept in multi.get(tuple(words[i:i + size]), ()):
                _add(out, "k:" + concept, W_CONCEPT)
    return out


def embed(texts: Iterable[str]) -> list[list[float]]:
    return [vector(features(text)) for text in texts]


def similarity(a: str, b: str) -> float:
    va, vb = vector(features(a)), vector(features(b))
    return sum(x * y for x, y in zip(va, vb))
