"""Which files matter most: evidence from the question, fused; structure when there is none.

With a question, every file gets the signals of signals.py (BM25 over its
words, definitions the question names, paths and traceback frames, its name)
plus three that need a first guess: how much likely files import it or are
imported by it, and how much of a hub it is (PageRank over imports). A
linear score over them, fit on real issues by bench/relevance_fit.py
(WEIGHTS below), becomes a probability by a softmax over the repository:
the chance that this is the file the question is about. The planner spends
the budget by that probability per token.

Without a question the walk over imports is uniform, so the most-imported
modules and entry points come first, and recent git changes get a boost.
Everything here is pure and deterministic (ties broken by path).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, NamedTuple, Sequence

from kimicode.repo.graph import ImportEdges
from kimicode.repo.query import Question, parse_question
from kimicode.repo.signals import NAMES as EVIDENCE
from kimicode.repo.signals import Evidence, gather
from kimicode.repo.slices import Focus, focus_for

if TYPE_CHECKING:
    import numpy as np

    from kimicode.repo.lexical import LexicalIndex

Imports = Mapping[str, Sequence[str]] | ImportEdges  # path -> resolved imports, or the edges graph.py keeps

DAMPING = 0.85
REVERSE_EDGE_WEIGHT = 0.3  # a file that imports a relevant file is relevant, but less so
ITERATIONS = 50
ENTRY_NAMES = frozenset("main __main__ cli app index server setup manage wsgi asgi lib mod".split())

# The signals after the evidence of signals.py: they need the first guess or the import graph.
STRUCTURE = (
    "imports_likely",  # this file imports files the evidence points at (their probability mass)
    "imported_by_likely",  # files the evidence points at import this one
    "hub",  # log(1 + PageRank x files): imported, directly or not, by much of the repository
    "recent",  # changed in the last commits (1 uncommitted, halving every 10 commits)
)
SIGNALS = EVIDENCE + STRUCTURE
# Fit by `bench/relevance_fit.py --hold-out-exact` on 157 issues of django, matplotlib and
# scikit-learn only, so the development issues of bench/localize.py (sympy, flask, seaborn) are
# held out (docs/benchmarks.md); the scale is that of a softmax over all files: +1 multiplies a
# file's odds by e.
WEIGHTS: dict[str, float] = {
    "lexical": 5.71,
    "coverage": 2.51,
    "definitions": 2.10,
    "code_definitions": 0.00,
    "name": 1.31,
    "folder": 2.02,
    "mentioned": 1.15,
    "traceback": -0.74,
    "deepest": 1.64,
    "entry": 1.43,
    "test": -3.30,
    "source": 2.72,
    "size": 0.38,
    "imports_likely": 1.07,
    "imported_by_likely": 1.28,
    "hub": 0.27,
    "recent": 0.00,
}
# A softmax fit on some repositories is overconfident on others (0.998 for one file, 1e-5 for the
# second, which is the answer one time in eight): when the evidence is wrong, the file asked about
# is still most often near the top. So the chance a file is planned with is a mixture of the
# softmax and a Zipf law over the first CALIBRATION_RANKS ranks, the share and the exponent fit by
# bench/relevance_fit.py on held-out predictions (each repository scored by weights fit on others).
CALIBRATION_SHARE = 0.8
CALIBRATION_EXPONENT = 1.6
CALIBRATION_RANKS = 300  # plan.CANDIDATES: files beyond are not weighed by value anyway
EXPLAIN_MIN = 0.1  # contributions smaller than this are not worth a line in --explain
LIKELY = 1e-4  # files less likely than this get no explanation and no slice
RELEVANCE_VERSION = 5  # bump when WEIGHTS or the signals change: whole-pack results made before are stale


class RankedFile(NamedTuple):
    """One file's place in a ranking. A named tuple, not a frozen dataclass: one is made per file
    of the repository on every pack after an edit, 3x faster (0.07 s instead of 0.19 at 100k)."""

    path: str
    score: float
    reasons: tuple[str, ...]
    probability: float = 0.0  # that the question is about this file (0 without a question)
    signals: tuple[tuple[str, float], ...] = ()  # (signal, its share of the score), largest first
    focus: Focus | None = None  # what a slice of this file should show (likely files only)


@dataclass
class Features:
    """Every signal of every file for one question (the fit reads these too)."""

    order: list[str]  # sorted paths: row order
    matrix: np.ndarray  # len(order) x len(SIGNALS)
    evidence: Evidence


def _pagerank(n: int, edges: ImportEdges, teleport: Sequence[float]) -> np.ndarray:
    """PageRank over the import edges and, weaker, their reverses; jumps follow ``teleport``."""
    import numpy as np

    tele = np.asarray(teleport, dtype=float)
    tele = tele / tele.sum()
    if not len(edges.src):
        return tele
    # each import edge, then its reverse: the order every sum below adds in
    src = np.column_stack((edges.src, edges.dst)).ravel()
    dst = np.column_stack((edges.dst, edges.src)).ravel()
    weight = np.tile([1.0, REVERSE_EDGE_WEIGHT], len(edges.src))
    out = np.bincount(src, weights=weight, minlength=n)
    norm = weight / out[src]
    dangling = out == 0
    rank = tele.copy()
    for _ in range(ITERATIONS):
        spread = np.bincount(dst, weights=rank[src] * norm, minlength=n)
        new = DAMPING * (spread + rank[dangling].sum() * tele) + (1 - DAMPING) * tele
        if np.abs(new - rank).sum() < 1e-10:
            return new
        rank = new
    return rank


def _edges(order: Sequence[str], imports: Imports) -> ImportEdges:
    """The import edges over ``order`` (sorted paths): as given (graph.py keeps them), or from a mapping."""
    if isinstance(imports, ImportEdges):
        assert imports.order == tuple(order), "import edges are over the ranked paths"
        return imports
    return ImportEdges.from_mapping(order, imports)


def softmax(scores: np.ndarray) -> np.ndarray:
    import numpy as np

    if not len(scores):
        return np.zeros(0)
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def calibrated(probability: np.ndarray, share: float = CALIBRATION_SHARE, exponent: float = CALIBRATION_EXPONENT) -> np.ndarray:
    """``probability`` mixed with a Zipf law over its ranks (ties by row order, which is path order)."""
    import numpy as np

    n = len(probability)
    if not n or share <= 0:
        return probability
    order = np.argsort(-probability, kind="stable")
    prior = np.zeros(n)
    top = order[:CALIBRATION_RANKS]
    prior[top] = np.arange(1, len(top) + 1, dtype=float) ** -exponent
    return (1 - share) * probability + share * prior / prior.sum()


def _weights(names: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    import numpy as np

    return np.asarray([weights.get(name, 0.0) for name in names])


@dataclass
class Graph:
    """The import graph in row order: forward edges as arrays, and each file's hub score."""

    src: np.ndarray  # importer rows
    dst: np.ndarray  # imported rows
    hub: np.ndarray  # log(1 + PageRank x files) of a uniform walk

    @classmethod
    def build(cls, order: Sequence[str], imports: Imports) -> Graph:
        import numpy as np

        edges = _edges(order, imports)
        n = len(order)
        hub = np.log1p(_pagerank(n, edges, [1.0] * n) * n) if n else np.zeros(0)
        return cls(edges.src, edges.dst, hub)


def structure_columns(graph: Graph, recent: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The STRUCTURE signals, given ``first``: the probabilities from the evidence alone."""
    import numpy as np

    n = len(first)
    out = np.zeros((n, len(STRUCTURE)))
    if len(graph.src):
        out[:, 0] = np.bincount(graph.src, weights=first[graph.dst], minlength=n)
        out[:, 1] = np.bincount(graph.dst, weights=first[graph.src], minlength=n)
        # scaled so a file holding all the likely mass scores 1, as the evidence columns do
        out[:, :2] /= max(float(out[:, :2].max()), 1e-12)
    out[:, 2] = graph.hub
    out[:, 3] = recent
    return out


def features(paths: Sequence[str], defines: Mapping[str, str], imports: Imports,
             recent: Mapping[str, float], lines: Mapping[str, int], lexical: LexicalIndex | None,
             question: Question, weights: Mapping[str, float] = WEIGHTS) -> Features:
    """All signals for ``question``; ``lexical`` indexes the files of ``sorted(paths)`` in that order."""
    import numpy as np

    order = sorted(paths)
    evidence = gather(order, defines, lines, lexical, question)
    first = softmax(evidence.matrix @ _weights(EVIDENCE, weights))
    structure = structure_columns(Graph.build(order, imports), np.asarray([recent.get(p, 0.0) for p in order]), first)
    return Features(order, np.hstack([evidence.matrix, structure]), evidence)


def _word_idf(evidence: Evidence, lexical: LexicalIndex | None) -> dict[str, float]:
    """How rare each word of the question is in the repository (idf), for weighing slices."""
    m = evidence.matches
    if m is None or lexical is None:
        return {}
    return {evidence.words_by_hash[int(k)]: float(v) for k, v in zip(m.keys, lexical.idf(m.df)) if int(k) in evidence.words_by_hash}


_PHRASES = {
    "name": "file name matches",
    "folder": "folder name matches",
    "imports_likely": "imports likely files",
    "imported_by_likely": "imported by likely files",
    "recent": "recently changed",
    "hub": "imported across the repository",
    "test": "test file",
}


def _reason(f: Features, i: int, name: str) -> str | None:
    """What signal ``name`` saw in file ``i``, in words."""
    ev = f.evidence
    if name == "mentioned":
        return f"named in the question ({ev.mentions[i]})" if i in ev.mentions else None
    if name in ("traceback", "deepest", "entry"):
        frames = [f"{fr.function or '?'}" + (f" (line {fr.line})" if fr.line else "") for fr in ev.frames.get(i, ())]
        return ("traceback: " + ", ".join(dict.fromkeys(frames)))[:140] if frames else None
    if name in ("definitions", "code_definitions"):
        return "defines " + ", ".join(ev.definitions_of(i))
    if name in ("lexical", "coverage"):
        return "words " + ", ".join(ev.words_of(i))
    return _PHRASES.get(name)


def _reasons(f: Features, i: int, contributions: np.ndarray) -> tuple[list[str], list[tuple[str, float]]]:
    signals = sorted(((SIGNALS[k], round(float(c), 3)) for k, c in enumerate(contributions) if abs(c) >= EXPLAIN_MIN),
                     key=lambda item: -abs(item[1]))
    reasons = [r for name, _ in signals if (r := _reason(f, i, name))]
    return list(dict.fromkeys(reasons)), signals


def _prior(path: str) -> tuple[float, list[str]]:
    """Structural prior without a question: entry points and top-level docs up, tests down."""
    first, _, _ = path.partition("/")
    name = path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
    if stem.lower() in ENTRY_NAMES:
        return 3.0, ["entry point"]
    if "/" not in path and stem.upper() in ("README", "AGENTS", "KIMI", "CONTRIBUTING"):
        return 3.0, ["top-level doc"]
    if "test" in first.lower() or name.startswith("test_"):
        return 0.5, []
    return 1.0, []


# Names _prior may give something other than 1.0 below the top level: one starting with an entry
# word or test_ (its lower case does when its stem's does), or in a first folder holding "test".
_PRIOR_PREFIXES = tuple(sorted(ENTRY_NAMES)) + ("test_",)


def _priors(order: Sequence[str]) -> tuple[list[float], dict[int, list[str]]]:
    """_prior of every path (by row), reasons only where there are any; _prior itself runs only on
    the paths it may raise or lower (a few percent of a monorepo), the rest are 1.0."""
    prior = [1.0] * len(order)
    why: dict[int, list[str]] = {}
    for i, path in enumerate(order):
        if ("/" not in path or "test" in path.partition("/")[0].lower()
                or path[path.rfind("/") + 1:].lower().startswith(_PRIOR_PREFIXES)):
            prior[i], reasons = _prior(path)
            if reasons:
                why[i] = reasons
    return prior, why


def _structural(paths: Sequence[str], imports: Imports, recent: Mapping[str, float]) -> list[RankedFile]:
    import numpy as np

    order = sorted(paths)
    teleport, why = _priors(order)
    for path, boost in recent.items():
        i = bisect.bisect_left(order, path)
        if i < len(order) and order[i] == path:
            teleport[i] *= 1 + 2 * boost
            if boost >= 0.5:
                why[i] = why.get(i, []) + ["recently changed"]
    ranks = _pagerank(len(order), _edges(order, imports), teleport) if order else np.zeros(0)
    total = sum(teleport) or 1.0
    # the teleport share is added back so an entry point outranks the modules it merely imports
    scores = (ranks + np.asarray(teleport) / total) * len(order)
    # by score, ties in path order (the row order): as sorting by (-score, path)
    ranked = np.argsort(-scores, kind="stable").tolist()
    values = scores.tolist()
    return [RankedFile(order[i], values[i], tuple(why.get(i, ()))) for i in ranked]


def rank_files(
    paths: Sequence[str],
    defines: Mapping[str, str],
    imports: Imports,
    recent: Mapping[str, float],
    query: str | None = None,
    lexical: LexicalIndex | None = None,
    lines: Mapping[str, int] | None = None,
) -> list[RankedFile]:
    """Order ``paths`` by relevance to ``query`` (structure alone without one)."""
    if not query or not query.strip():
        return _structural(paths, imports, recent)
    question = parse_question(query)
    f = features(paths, defines, imports, recent, lines or {}, lexical, question)
    weight = _weights(SIGNALS, WEIGHTS)
    contributions = f.matrix * weight
    scores = contributions.sum(axis=1)
    probability = calibrated(softmax(scores))
    idf = _word_idf(f.evidence, lexical)
    ranked = []
    for i, path in enumerate(f.order):
        likely = probability[i] > LIKELY
        reasons, signals = _reasons(f, i, contributions[i]) if likely else ([], [])
        focus = focus_for(question, idf, [fr.line for fr in f.evidence.frames.get(i, ()) if fr.line]) if likely else None
        ranked.append(RankedFile(path, round(float(scores[i]), 6), tuple(reasons), float(probability[i]), tuple(signals), focus))
    ranked.sort(key=lambda r: (-r.score, r.path))
    return ranked
