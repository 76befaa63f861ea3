"""The evidence that a question points at each file, as numbers rank.py can weigh.

One row per file, one column per signal, every column computed for all files
at once (numpy), so a 10k-file repository costs tens of milliseconds. Each
signal is scaled to about [0, 1] within the question, so weights fit on some
repositories carry over to others. ``Evidence`` keeps what is needed to say
why a file was placed (the words, definitions and frames that matched).
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

from kimicode.repo.languages import language_for
from kimicode.repo.lexical import LexicalIndex, Matches
from kimicode.repo.query import Frame, Question
from kimicode.repo.symbols import RepoPathIndex
from kimicode.repo.terms import definition_hash, term_hash, words

if TYPE_CHECKING:
    import numpy as np

# Columns of the signal matrix, in order (rank.WEIGHTS follows it).
NAMES = (
    "lexical",  # BM25 of the question's words over the file's words, / the best file's
    "coverage",  # share of the question's words (by idf) the file contains at all
    "definitions",  # identifiers the question names in prose or frames that the file defines (idf-weighted)
    "code_definitions",  # identifiers only in the question's code (a reproduction, usually) that it defines
    "name",  # the file's own name is a word of the question (idf-weighted)
    "folder",  # its folders' names are words of the question
    "mentioned",  # named by path or dotted module in the question (1 / number of files that name fits)
    "traceback",  # a frame of a traceback in the question is in this file
    "deepest",  # the file of the innermost frame of the question's traceback
    "entry",  # the file of the outermost frame outside tests: where the caller entered the code
    "test",  # a test file (tests/, test_*.py, *_test.go, *.spec.ts...)
    "source",  # source code in a language kimicode outlines (not docs, data or config)
    "size",  # log of its lines, / log of 10,000
)
TEST_DIRS = frozenset({"test", "tests", "testing", "spec", "specs", "__tests__"})
# A mention that fits this many files or more says nothing about which one is meant.
MAX_MENTION_FITS = 8


@dataclass
class Evidence:
    """The signal matrix for one question, and what produced it."""

    paths: Sequence[str]
    matrix: np.ndarray  # files x len(NAMES)
    matches: Matches | None = None
    words_by_hash: dict[int, str] = field(default_factory=dict)
    identifiers_by_hash: dict[int, str] = field(default_factory=dict)
    definition_matches: Matches | None = None
    mentions: dict[int, str] = field(default_factory=dict)  # file index -> the mention that named it
    frames: dict[int, list[Frame]] = field(default_factory=dict)  # file index -> its frames in the question

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, NAMES.index(name)]

    def words_of(self, i: int, limit: int = 6) -> list[str]:
        """The question's words that weigh most in file ``i``'s BM25."""
        return _top(self.matches, i, self.words_by_hash, limit)

    def definitions_of(self, i: int, limit: int = 4) -> list[str]:
        return _top(self.definition_matches, i, self.identifiers_by_hash, limit)


def _top(matches: Matches | None, i: int, names: Mapping[int, str], limit: int) -> list[str]:
    if matches is None:
        return []
    import numpy as np

    rows = np.flatnonzero(matches.doc == i)
    best = rows[np.argsort(-matches.score[rows], kind="stable")][:limit]
    return [names.get(int(matches.keys[matches.term[r]]), "?") for r in best]


def is_test(path: str) -> bool:
    parts = path.lower().split("/")
    name = parts[-1]
    stem = name.split(".", 1)[0]
    return (any(p in TEST_DIRS for p in parts[:-1]) or stem.startswith("test_") or stem.endswith(("_test", "_tests"))
            or stem in ("test", "tests", "conftest") or ".test." in name or ".spec." in name)


def _scaled(values: np.ndarray) -> np.ndarray:
    top = float(values.max()) if len(values) else 0.0
    return values / top if top > 0 else values


def _fits(mention: str, paths: RepoPathIndex) -> list[str]:
    """Repository files a path mention can mean: the longest trailing run of its parts that fits any."""
    parts = [p for p in mention.split("/") if p]
    for size in range(len(parts), 0, -1):
        found = paths.with_suffix("/".join(parts[-size:]))
        if found:
            return found
    return []


def _module_fits(module: str, paths: RepoPathIndex) -> list[str]:
    """Files a dotted module (as a slash path) can mean, dropping trailing attribute names."""
    parts = module.split("/")
    for size in range(len(parts), 1, -1):
        stem = "/".join(parts[:size])
        found = [p for suffix in (stem + ".py", stem + "/__init__.py", stem + ".pyi") for p in paths.with_suffix(suffix)]
        if found:
            return found
    return []


def mention_signals(question: Question, order: Sequence[str], index: Mapping[str, int]
                    ) -> tuple[dict[int, float], dict[int, str], dict[int, list[Frame]], int | None, int | None]:
    """(strength of the best mention per file, the mention, the frames per file, the innermost frame's file,
    the outermost frame's file that is not a test)."""
    if not (question.paths or question.modules or question.frames):
        return {}, {}, {}, None, None  # most questions name no file: no index of every path (0.05 s at 10k files)
    paths = RepoPathIndex(order)
    strength: dict[int, float] = {}
    said: dict[int, str] = {}

    def credit(found: list[str], mention: str) -> None:
        if not found or len(found) >= MAX_MENTION_FITS:
            return
        for path in found:
            i = index[path]
            if 1 / len(found) > strength.get(i, 0.0):
                strength[i], said[i] = 1 / len(found), mention

    for mention in question.paths:
        credit(_fits(mention, paths), mention)
    for module in question.modules:
        credit(_module_fits(module, paths), module.replace("/", "."))
    frames: dict[int, list[Frame]] = {}
    deepest: int | None = None
    entry: int | None = None
    for frame in question.frames:
        found = _fits(frame.path, paths)
        if len(found) != 1:
            continue
        i = index[found[0]]
        frames.setdefault(i, []).append(frame)
        deepest = i
        if entry is None and not is_test(found[0]):
            entry = i
    return strength, said, frames, deepest, entry


def gather(order: Sequence[str], defines: Mapping[str, str], lines: Mapping[str, int],
           lexical: LexicalIndex | None, question: Question) -> Evidence:
    """The signals of every file in ``order`` (the lexical index's file order) for ``question``."""
    import numpy as np

    n = len(order)
    index = {p: i for i, p in enumerate(order)}
    matrix = np.zeros((n, len(NAMES)))
    evidence = Evidence(order, matrix)
    word_weights = {term_hash(w): weight for w, weight in question.terms.items()}
    evidence.words_by_hash = {term_hash(w): w for w in question.terms}
    if lexical is not None and word_weights:
        evidence.matches = lexical.match(word_weights)
        matrix[:, NAMES.index("lexical")] = _scaled(lexical.bm25(evidence.matches))
        matrix[:, NAMES.index("coverage")] = lexical.coverage(evidence.matches, word_weights)
    ident_weights = {definition_hash(name): weight for name, weight in question.identifiers.items()}
    evidence.identifiers_by_hash = {definition_hash(name): name for name in question.identifiers}
    if lexical is not None and ident_weights:
        evidence.definition_matches = lexical.match(ident_weights)
        m = evidence.definition_matches
        weight = np.asarray([ident_weights[int(k)] for k in m.keys]) * lexical.idf(m.df)
        named = np.asarray([evidence.identifiers_by_hash[int(k)] in question.named for k in m.keys], dtype=bool)
        for column, keep in (("definitions", named), ("code_definitions", ~named)):
            part = np.where(keep[m.term], weight[m.term], 0.0)
            matrix[:, NAMES.index(column)] = _scaled(np.bincount(m.doc, weights=part, minlength=n))
    _names(order, question, lexical, evidence, matrix)
    strength, said, frames, deepest, entry = mention_signals(question, order, index)
    for i, value in strength.items():
        matrix[i, NAMES.index("mentioned")] = value
    evidence.mentions = said
    evidence.frames = frames
    for i in frames:
        matrix[i, NAMES.index("traceback")] = 1.0
    for column, row in (("deepest", deepest), ("entry", entry)):
        if row is not None:
            matrix[row, NAMES.index(column)] = 1.0
    matrix[:, NAMES.index("test")] = [1.0 if is_test(p) else 0.0 for p in order]
    matrix[:, NAMES.index("source")] = [0.0 if language_for(p) is None else 1.0 for p in order]
    matrix[:, NAMES.index("size")] = [math.log1p(lines.get(p, 0)) / math.log(10_000) for p in order]
    return evidence


def _names(order: Sequence[str], question: Question, lexical: LexicalIndex | None, evidence: Evidence, matrix: np.ndarray) -> None:
    """File and folder names that are words of the question, weighted by how rare the word is in the code."""

    if not question.terms:
        return
    rarity: dict[str, float] = {}
    if evidence.matches is not None and lexical is not None:
        m = evidence.matches
        for key, value in zip(m.keys, lexical.idf(m.df)):
            word = evidence.words_by_hash.get(int(key))
            if word:
                rarity[word] = float(value)
    default = max(rarity.values(), default=1.0)
    name_col, folder_col = NAMES.index("name"), NAMES.index("folder")
    folder_score: dict[str, float] = {}
    for i, path in enumerate(order):
        folder, _, name = path.rpartition("/")
        stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
        matrix[i, name_col] = sum(question.terms[w] * rarity.get(w, default) for w in set(_words(stem)) if w in question.terms)
        if folder:
            if folder not in folder_score:
                folder_score[folder] = sum(question.terms[w] * rarity.get(w, default)
                                           for w in set(_words(folder)) if w in question.terms)
            matrix[i, folder_col] = folder_score[folder]
    matrix[:, name_col] = _scaled(matrix[:, name_col])
    matrix[:, folder_col] = _scaled(matrix[:, folder_col])


def _words(text: str) -> list[str]:
    return [w.decode() for w in words(posixpath.normpath(text).encode())]
