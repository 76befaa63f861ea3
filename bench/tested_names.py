"""Which source file each test file tests, by the naming conventions of test frameworks: a trial
column of bench/relevance_fit.py --trials ("tested"), not used by kimicode (it did not help on both sets).

An issue's reproduction reads like a test (``Matrix.hstack(M1, M2).shape``), so the tests that
match it best say which module the behaviour lives in, even when the issue never names it and
the test imports it only through the package (``from sympy import Matrix``), which the import
graph cannot follow. ``tests/test_sparse.py`` tests ``sparse.py``, ``foo_test.go`` ``foo.go``,
``Foo.spec.ts`` ``Foo.ts``, ``FooTest.java`` ``Foo.java``, ``spec/foo_spec.rb`` ``lib/foo.rb``:
the test's stem without its marker names the source file, the nearest one by folder when the
stem is common (Python's private ``_foo.py`` counts as ``foo``). Pure, over sorted paths.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from typing import Sequence

from kimicode.repo.signals import TEST_DIRS, is_test

# A test marker on a stem, and what is left is the tested name.
_MARKER = re.compile(r"^(?:test_|tests_)(?P<a>.+)$|^(?P<b>.+?)(?:_tests?|_spec|Tests?|Spec|\.test|\.spec)$")
# A stem this common names no module in particular (``tests/test_utils.py`` among 40 ``utils.py``).
MAX_CANDIDATES = 4


def _tested_stem(name: str) -> str | None:
    stem, ext = posixpath.splitext(name)
    m = _MARKER.match(stem)
    if m is None:
        return None
    tested = m.group("a") or m.group("b")
    return _source_key(tested + ext) if tested and ext else None


def _source_key(name: str) -> str:
    stem, ext = posixpath.splitext(name)
    return stem.lower().lstrip("_") + ext


def _distance(a: str, b: str) -> int:
    """Folders between two files' folders in the tree (0: the same folder)."""
    parts_a, parts_b = a.split("/")[:-1], b.split("/")[:-1]
    shared = 0
    for x, y in zip(parts_a, parts_b):
        if x != y:
            break
        shared += 1
    return len(parts_a) + len(parts_b) - 2 * shared


def _package(test: str) -> str:
    """The folder a test's sources are under: the one holding its test folder, else its own
    (``sympy/vector/`` for ``sympy/vector/tests/test_printing.py``, ``src/`` for ``src/test/java/...``)."""
    parts = test.split("/")[:-1]
    for n, part in enumerate(parts):
        if part.lower() in TEST_DIRS:
            return "".join(p + "/" for p in parts[:n])
    return "".join(p + "/" for p in parts)


def tested_pairs(order: Sequence[str]) -> list[tuple[int, int, float]]:
    """(test row, source row, share) for each test file of ``order`` and the source file(s) it tests:
    under its package, the nearest in the folder tree; ties share the test equally."""
    sources: defaultdict[str, list[int]] = defaultdict(list)
    tests: list[tuple[int, str]] = []
    for row, path in enumerate(order):
        name = path.rsplit("/", 1)[-1]
        if is_test(path):
            key = _tested_stem(name)
            if key:
                tests.append((row, key))
        elif "." in name[1:]:
            sources[_source_key(name)].append(row)
    pairs: list[tuple[int, int, float]] = []
    for row, key in tests:
        within = _package(order[row])
        found = [s for s in sources.get(key, ()) if order[s].startswith(within)]
        if not found:
            continue
        far = [_distance(order[row], order[s]) for s in found]
        best = [s for s, n in zip(found, far) if n == min(far)]
        if len(best) <= MAX_CANDIDATES:
            pairs += [(row, s, 1 / len(best)) for s in best]
    return pairs
