"""Which files matter most: query matches spread over the import graph.

Like aider's repo map, relevance is a personalised PageRank: the files a
question names (by path or by a symbol they define) get the teleport mass,
and rank flows along import edges to what they use and, more weakly, back to
what uses them. Without a question the walk is uniform, so the
most-imported modules and entry points come first. Recent git changes add a
boost. Everything here is pure and deterministic (ties broken by path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

DAMPING = 0.85
REVERSE_EDGE_WEIGHT = 0.3  # a file that imports a relevant file is relevant, but less so
ITERATIONS = 50

STOPWORDS = frozenset(
    """the and for are but not you all any can had her was one our out has him his how its may new now
    see two way who did get let put say she too use what when where which why with does this that from
    into have will would could should about there their them then than these those your code file files
    function functions method class repo repository project work works working make made like just also
    here some each other only show tell explain find fix bug error""".split()
)
ENTRY_NAMES = frozenset(
    "main __main__ cli app index server setup manage wsgi asgi lib mod".split()
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHISH = re.compile(r"[\w./-]*[./][\w./-]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")


@dataclass(frozen=True)
class RankedFile:
    path: str
    score: float
    reasons: tuple[str, ...]


def split_identifier(name: str) -> list[str]:
    """'parseHTTPResponse_v2' -> ['parse', 'http', 'response', 'v2'] (lowercase parts)."""
    return [p.lower() for chunk in name.split("_") for p in _CAMEL.findall(chunk)]


def query_terms(query: str) -> tuple[str, ...]:
    terms: set[str] = set()
    for word in _WORD.findall(query):
        for term in {word.lower(), *split_identifier(word)}:
            if len(term) >= 3 and term not in STOPWORDS:
                terms.add(term)
                if len(term) > 4 and term.endswith("s") and not term.endswith("ss"):
                    terms.add(term[:-1])  # "tables" should find table.py
    return tuple(sorted(terms))


def mentioned_paths(query: str, paths: Sequence[str]) -> set[str]:
    """Files the query names: 'src/budget.py', 'budget.py' or a unique dotted/slashed suffix."""
    wanted = {m.strip("./").lower() for m in _PATHISH.findall(query) if len(m.strip("./")) > 2}
    found: set[str] = set()
    for path in paths:
        lower = path.lower()
        if any(lower == w or lower.endswith("/" + w) for w in wanted):
            found.add(path)
    return found


def _match_score(path: str, defines: str, terms: Sequence[str]) -> tuple[float, list[str]]:
    """How strongly a file matches the query: by its name, its folders and what it defines.

    Runs for every file with a question, so it works on one lower-cased string of
    definitions instead of splitting thousands of identifiers.
    """
    if not terms:
        return 0.0, []
    lower = path.lower()
    folders, _, name = lower.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
    stem_parts = set(split_identifier(path.rsplit("/", 1)[-1].rsplit(".", 1)[0]))
    dirs = set(folders.split("/")) if folders else set()
    symbols = "\n" + defines.lower() + "\n"
    score = 0.0
    reasons: list[str] = []
    for term in terms:
        if term == stem or term in stem_parts:
            score += 3.0
            reasons.append(f"name matches '{term}'")
        elif term in dirs:
            score += 1.0
            reasons.append(f"folder matches '{term}'")
        if f"\n{term}\n" in symbols:
            score += 2.0
            reasons.append(f"defines '{term}'")
        elif term in symbols:
            score += 0.5  # part of a definition's name: json_decoder, JSONDecoder
    return score, reasons


def _pagerank(n: int, edges: list[tuple[int, int, float]], teleport: list[float]) -> list[float]:
    import numpy as np

    tele = np.asarray(teleport, dtype=float)
    tele = tele / tele.sum()
    if not edges:
        return tele.tolist()
    src = np.fromiter((e[0] for e in edges), dtype=np.int64, count=len(edges))
    dst = np.fromiter((e[1] for e in edges), dtype=np.int64, count=len(edges))
    weight = np.fromiter((e[2] for e in edges), dtype=float, count=len(edges))
    out = np.bincount(src, weights=weight, minlength=n)
    norm = weight / out[src]
    dangling = out == 0
    rank = tele.copy()
    for _ in range(ITERATIONS):
        spread = np.bincount(dst, weights=rank[src] * norm, minlength=n)
        new = DAMPING * (spread + rank[dangling].sum() * tele) + (1 - DAMPING) * tele
        if np.abs(new - rank).sum() < 1e-10:
            return new.tolist()
        rank = new
    return rank.tolist()


def _prior(path: str, query_given: bool) -> tuple[float, list[str]]:
    """Structural prior: entry points and top-level docs up, tests down when there is no question."""
    first, _, _ = path.partition("/")
    name = path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
    if stem.lower() in ENTRY_NAMES:
        return 3.0, ["entry point"]
    if "/" not in path and stem.upper() in ("README", "AGENTS", "KIMI", "CONTRIBUTING"):
        return 3.0, ["top-level doc"]
    if not query_given and ("test" in first.lower() or name.startswith("test_")):
        return 0.5, []
    return 1.0, []


def rank_files(
    paths: Sequence[str],
    defines: Mapping[str, str],
    imports: Mapping[str, Sequence[str]],
    recent: Mapping[str, float],
    query: str | None = None,
) -> list[RankedFile]:
    """Order ``paths`` by relevance. ``imports`` maps a path to the repo paths it imports."""
    order = sorted(paths)
    index = {p: i for i, p in enumerate(order)}
    terms = query_terms(query) if query else ()
    mentioned = mentioned_paths(query, order) if query else set()
    teleport: list[float] = []
    why: list[list[str]] = []
    for path in order:
        prior, reasons = _prior(path, bool(query))
        match, match_reasons = _match_score(path, defines.get(path, ""), terms)
        if path in mentioned:
            match += 10.0
            match_reasons.insert(0, "named in the question")
        # with a question, matches carry the mass; the prior only breaks ties among the rest
        weight = match * 10 + prior * 0.1 if query else prior
        teleport.append(weight * (1 + 2 * recent.get(path, 0.0)))
        why.append(match_reasons + reasons)
    edges: list[tuple[int, int, float]] = []
    for path, targets in imports.items():
        if path not in index:
            continue
        for target in targets:
            if target in index and target != path:
                edges.append((index[path], index[target], 1.0))
                edges.append((index[target], index[path], REVERSE_EDGE_WEIGHT))
    ranks = _pagerank(len(order), edges, teleport) if order else []
    total = sum(teleport) or 1.0
    ranked = []
    for i, path in enumerate(order):
        reasons = why[i] + (["recently changed"] if recent.get(path, 0.0) >= 0.5 else [])
        # the teleport share is added back so a match outranks the modules it merely imports
        ranked.append(RankedFile(path, (ranks[i] + teleport[i] / total) * len(order), tuple(reasons)))
    ranked.sort(key=lambda r: (-r.score, r.path))
    return ranked
