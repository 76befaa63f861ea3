"""New relevance evidence, tried before it is built: does a column help on other repositories AND the held-out issues?

    .venv/bin/python bench/relevance_evidence.py --sdists /tmp/kimicode-localize/sdists [--signals DIR] [--top 300]

bench/relevance_fit.py --trials showed that re-weighting kimicode's signals cannot lift the gold
file in full at 128K: the misses rank 12th or lower. This script measures candidate columns that
need the files' text, computed for the ``--top`` files of the committed ranking of each issue
(what a pack could afford to read), zero for the rest:

- ``passage``: BM25 of the question's words over windows of PASSAGE_WORDS words (half
  overlapping), the best window per file. File-level BM25 divides a long module's score by its
  length; a module with one function that is about the question scores for that function.
- ``called``: names the question's code calls or reads as attributes (``.col_insert(``,
  ``.is_zero``, ``simplify(``) that the file defines (``def``/``class`` name), each worth
  1 / (number of top files defining it), summed.

Each column is added to the committed signals and fit as bench/relevance_fit.py --trials does
(fit issues leave-one-repository-out, calibration refit), and the planner is simulated on byte
estimates at 32K and 128K. The "none" row refits without a column: the comparison is within one run.

Document frequencies for the passage idf come from the files of one snapshot per repository (the
reused checkout or the release), not each base commit: an approximation of the index's idf.
"""

from __future__ import annotations

import argparse
import math
import pickle
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localize import Issue, add_source_options, bare_dir, release_dir, select  # noqa: E402
from relevance_fit import WEIGHTS, IssueData, _fusion_trial, load, signals_fingerprint  # noqa: E402

from kimicode.repo.query import parse_question  # noqa: E402
from kimicode.repo.rank import SIGNALS  # noqa: E402
from kimicode.repo.terms import words  # noqa: E402

PASSAGE_WORDS = 400  # about one function; windows overlap by half so a definition is rarely cut in two
K1 = 1.2
B = 0.75
_STEP = PASSAGE_WORDS // 2


def best_passages(texts: Mapping[str, bytes], weights: Mapping[str, float]) -> dict[str, float]:
    """Per file of ``texts``, the BM25 of its best window for the words of ``weights`` (word -> weight x idf).

    The index's own word split (terms.words, C speed), a C-level set lookup per word and numpy
    counts per window: about 0.4 s for the 10 MB of sympy's 300 likeliest files.
    """
    wanted = sorted(w for w, v in weights.items() if v > 0)
    if not wanted or not texts:
        return {}
    number = {w.encode(): i for i, w in enumerate(wanted)}
    value = np.asarray([weights[w] for w in wanted])
    out: dict[str, float] = {}
    for path, data in texts.items():
        tokens = words(data)
        hit = np.flatnonzero(np.fromiter(map(number.__contains__, tokens), bool, len(tokens)))
        if not len(hit):
            out[path] = 0.0
            continue
        windows = max((len(tokens) - 1) // _STEP, 1)  # window k: words [k * step, k * step + PASSAGE_WORDS)
        # a word is in window i // step and the one before it (windows overlap by half)
        window = np.concatenate([hit // _STEP, hit // _STEP - 1])
        word = np.tile(np.fromiter((number[tokens[i]] for i in hit), np.int64, len(hit)), 2)
        keep = (window >= 0) & (window < windows)
        pairs, tf = np.unique(window[keep] * len(wanted) + word[keep], return_counts=True)
        win, w = pairs // len(wanted), pairs % len(wanted)
        size = np.minimum(len(tokens) - win * _STEP, PASSAGE_WORDS)
        norm = K1 * (1 - B + B * size / PASSAGE_WORDS)
        out[path] = float(np.bincount(win, weights=value[w] * tf * (K1 + 1) / (tf + norm)).max())
    return out


_CALLED = re.compile(rb"(?:\.|\b)([A-Za-z_]\w{2,})\s*\(|\.([A-Za-z_]\w{2,})\b")
_DEFINES = re.compile(rb"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)


def read_files(issue: Issue, paths: Sequence[str], args: argparse.Namespace) -> dict[str, bytes]:
    """The files' bytes at the issue's base commit (bare mirror), else in the release standing in for it."""
    bare = bare_dir(args.mirror, issue.repo)
    if bare.exists():
        request = b"".join(f"{issue.base_commit}:{p}\n".encode() for p in paths)
        out = subprocess.run(["git", "--git-dir", str(bare), "cat-file", "--batch"], input=request,
                             capture_output=True, check=True).stdout
        found: dict[str, bytes] = {}
        at = 0
        for path in paths:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                found[path] = out[at : at + size]
                at += size + 1
        return found
    root = release_dir(args.sdists, issue)
    assert root is not None
    return {p: (root / p).read_bytes() for p in paths if (root / p).is_file()}


_DF: dict[str, tuple[int, Counter[bytes]]] = {}


def document_frequency(issue: Issue, args: argparse.Namespace) -> tuple[int, Counter[bytes]]:
    """(files, files containing each word) over one snapshot of the repository (see the module doc)."""
    root = release_dir(args.sdists, issue) or args.work / "checkouts" / issue.repo.replace("/", "+")
    key = str(root)
    if key not in _DF:
        df: Counter[bytes] = Counter()
        n = 0
        for path in root.rglob("*"):
            if ".git" in path.parts or not path.is_file() or path.stat().st_size > 1_000_000:
                continue
            try:
                df.update(set(words(path.read_bytes())))
            except OSError:
                continue
            n += 1
        _DF[key] = (n, df)
    return _DF[key]


def passage_scores(texts: dict[str, bytes], terms: dict[str, float], files: int, df: Counter[bytes]) -> dict[str, float]:
    """The best window's BM25 per file, question words weighted as the file-level BM25 weighs them."""
    return best_passages(texts, {w: weight * math.log(1 + (files - df[w.encode()] + 0.5) / (df[w.encode()] + 0.5))
                                 for w, weight in terms.items()})


def called_scores(texts: dict[str, bytes], code: str) -> dict[str, float]:
    """Per file, the names the question's code calls or reads that it defines, each 1 / (files defining it)."""
    called = {a or b for a, b in _CALLED.findall(code.encode())}
    defined = {path: set(_DEFINES.findall(data)) & called for path, data in texts.items()}
    fits = Counter(name for names in defined.values() for name in names)
    return {path: sum(1 / fits[name] for name in names) for path, names in defined.items() if names}


def columns(d: IssueData, args: argparse.Namespace) -> dict[str, np.ndarray]:
    from kimicode.repo.query import _code

    today = np.asarray([WEIGHTS.get(name, 0.0) for name in SIGNALS])
    top = np.argsort(-(d.matrix(today) @ today), kind="stable")[: args.top]
    paths = [d.paths[i] for i in top]
    texts = read_files(d.issue, paths, args)
    files, df = document_frequency(d.issue, args)
    question = parse_question(d.issue.problem_statement)
    code, _ = _code(d.issue.problem_statement)
    out = {}
    row = {p: i for i, p in enumerate(d.paths)}
    for name, scores in (("passage", passage_scores(texts, question.terms, files, df)), ("called", called_scores(texts, code))):
        column = np.zeros(len(d.paths))
        for path, value in scores.items():
            column[row[path]] = value
        top_value = column.max()
        out[name] = column / top_value if top_value > 0 else column
    return out


def columns_fingerprint() -> str:
    """Digest of the code the cached columns depend on: a changed column is recomputed, not reused."""
    import hashlib
    import inspect

    parts = (best_passages, called_scores, passage_scores, columns, document_frequency, read_files)
    source = "".join(inspect.getsource(f) for f in parts) + f"{PASSAGE_WORDS} {_CALLED.pattern!r} {_DEFINES.pattern!r}"
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    parser.add_argument("--signals", type=Path, help="a folder of relevance_fit's cached signals to reuse "
                        "(default: the one of this code's fingerprint, computed if missing)")
    parser.add_argument("--top", type=int, default=300, help="files per issue the new columns are computed for [300]")
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--only", default="", help="comma list of columns to try [all]")
    args = parser.parse_args(argv)
    issues, exact, _ = select(args)
    if args.signals:
        data = [pickle.loads((args.signals / f"{i.instance_id}.pickle").read_bytes()) for i in issues]
        data = [d for d in data if d.gold]
        print(f"signals reused from {args.signals}")
    else:
        data = load(issues, args)
        print(f"signals of fingerprint {signals_fingerprint()}")
    folder = args.work / "evidence" / f"{columns_fingerprint()}-{args.top}"
    folder.mkdir(parents=True, exist_ok=True)
    extra: dict[str, dict[str, np.ndarray]] = {}
    for n, d in enumerate(data, start=1):
        path = folder / f"{d.issue.instance_id}.pickle"
        if not path.exists():
            print(f"... [{n}/{len(data)}] {d.issue.instance_id}", file=sys.stderr, flush=True)
            path.write_bytes(pickle.dumps(columns(d, args)))
        extra[d.issue.instance_id] = pickle.loads(path.read_bytes())
    exact_ids = {i.instance_id for i in exact}
    fit_set = [d for d in data if d.issue.instance_id not in exact_ids]
    dev = [d for d in data if d.issue.instance_id in exact_ids]
    print(f"fit on {len(fit_set)} issues, held out {len(dev)}; columns for the top {args.top} files")
    names = [n for n in ("passage", "called") if not args.only or n in args.only.split(",")]
    trials: dict[str, Callable[[IssueData, np.ndarray], np.ndarray] | None] = {"none": None}
    for name in names:
        trials[name] = lambda d, x, name=name: extra[d.issue.instance_id][name]  # type: ignore[misc]
    for label, column in trials.items():
        _fusion_trial(label, column, fit_set, dev, args.l2, show_weights=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
