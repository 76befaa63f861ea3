"""Fit the weights of kimicode's relevance signals on real issues, and say how well they carry over.

    .venv/bin/python bench/relevance_fit.py [--sdists DIR] [--repos ...] [--limit N] [--work DIR]
                                            [--l2 0.5]

For each issue (the same sources as bench/localize.py: base commits checked out from the bare
mirrors, and with --sdists release sources standing in for django, scikit-learn and matplotlib),
kimicode's own code computes every signal of every file (kimicode.repo.rank.SIGNALS) for the
issue text as the question. The weights are those of a conditional logit: a softmax over the
repository's files whose log-likelihood of the file the fix changed is maximised (Newton's method,
an L2 penalty). The import-graph signals depend on a first guess made with the weights
themselves, so the fit alternates with recomputing them (three rounds).

It prints the weights fit on every issue (to paste into rank.WEIGHTS), then the gold file's
rank statistics in-sample and leave-one-repository-out (each repository scored with weights fit
on the others), beside BM25 alone (the lexical signal) and the weights in rank.py today.
Per-issue signals are cached under --work by a fingerprint of the code that computes them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localize import Issue, add_source_options, select, source  # noqa: E402

from kimicode.repo.rank import (  # noqa: E402
    CALIBRATION_EXPONENT,
    CALIBRATION_SHARE,
    EVIDENCE,
    SIGNALS,
    WEIGHTS,
    Graph,
    calibrated,
    softmax,
    structure_columns,
)

ROUNDS = 3
TODAY_WEIGHTS = np.asarray([WEIGHTS.get(name, 0.0) for name in SIGNALS])  # rank.WEIGHTS in SIGNALS order
LEXICAL, HUB = SIGNALS.index("lexical"), SIGNALS.index("hub")
BUDGETS = (32_000, 128_000)
HEADER_TOKENS = 500  # about what a pack's header takes


@dataclass
class IssueData:
    issue: Issue
    paths: list[str]  # row order
    evidence: np.ndarray  # files x len(EVIDENCE)
    graph: Graph
    recent: np.ndarray
    gold: list[int]  # rows of the gold files
    tokens: np.ndarray  # estimated tokens per file (bytes / 3.6)

    def matrix(self, weights: np.ndarray) -> np.ndarray:
        first = softmax(self.evidence @ weights[: len(EVIDENCE)])
        return np.hstack([self.evidence, structure_columns(self.graph, self.recent, first)])


def compute(root: Path, issue: Issue, cache_dir: Path) -> IssueData:
    from kimicode.repo.cache import PackCache, cache_path
    from kimicode.repo.files import list_files
    from kimicode.repo.gitinfo import read_git_info
    from kimicode.repo.lexical import load_index
    from kimicode.repo.query import parse_question
    from kimicode.repo.scan import scan_files
    from kimicode.repo.signals import gather
    from kimicode.repo.symbols import RepoPathIndex, resolve_imports

    listing = list_files(root)
    cache = PackCache(cache_path(cache_dir, listing.root))
    try:
        scan = scan_files(listing.root, listing.files, cache)
        records = sorted(scan.records, key=lambda r: r.path)
        lexical = load_index(listing.root, records, cache)
        defines = dict(cache.defines())
    finally:
        cache.close()
    order = [r.path for r in records]
    paths = RepoPathIndex(order)
    imports = {r.path: resolve_imports(r.path, r.language, r.imports, paths) for r in records}
    recent = read_git_info(listing.git_root, listing.root).recent if listing.git_root else {}
    evidence = gather(order, defines, {r.path: r.lines for r in records}, lexical,
                      parse_question(issue.problem_statement))
    row = {p: i for i, p in enumerate(order)}
    return IssueData(issue, order, evidence.matrix.astype(np.float32), Graph.build(order, imports),
                     np.asarray([recent.get(p, 0.0) for p in order]), [row[g] for g in issue.gold_files if g in row],
                     np.asarray([r.size / 3.6 for r in records]))


def signals_fingerprint() -> str:
    """Digest of the code the cached signals depend on (not of rank.WEIGHTS: refitting must not recompute them)."""
    import hashlib
    import inspect

    from kimicode.repo import files, lexical, query, rank, scan, signals, symbols, terms

    h = hashlib.sha256()
    for module in (files, lexical, query, scan, signals, symbols, terms):
        h.update(inspect.getsource(module).encode())
    for part in (rank.Graph, rank._edges, rank._pagerank):
        h.update(inspect.getsource(part).encode())
    return h.hexdigest()[:16]


def load(issues: Sequence[Issue], args: argparse.Namespace) -> list[IssueData]:
    import pickle

    folder = args.work / "signals" / signals_fingerprint()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, issue in enumerate(issues, start=1):
        path = folder / f"{issue.instance_id}.pickle"
        if path.exists():
            data = pickle.loads(path.read_bytes())
        else:
            print(f"... [{n}/{len(issues)}] {issue.instance_id}", file=sys.stderr, flush=True)
            data = compute(source(args.work, args.mirror, args.sdists, issue), issue, args.work / "kimicode-cache")
            path.write_bytes(pickle.dumps(data))
        if data.gold:
            out.append(data)
    return out


def log_likelihood(data: Sequence[IssueData], matrices: Sequence[np.ndarray], l2: float, w: np.ndarray) -> float:
    total = -0.5 * l2 * len(data) * float(w @ w)
    for d, x in zip(data, matrices):
        s = x @ w
        top = s.max()
        total += float(s[d.gold].mean() - top - np.log(np.exp(s - top).sum()))
    return total


def _newton(data: Sequence[IssueData], matrices: Sequence[np.ndarray], l2: float, start: np.ndarray) -> np.ndarray:
    """Maximise the penalised log-likelihood for fixed signal matrices (Newton, halving bad steps)."""
    w = start.copy()
    current = log_likelihood(data, matrices, l2, w)
    for _ in range(100):
        grad = -l2 * w * len(data)
        hess = -l2 * np.eye(len(w)) * len(data)
        for d, x in zip(data, matrices):
            p = softmax(x @ w)
            mean = p @ x
            grad += x[d.gold].mean(axis=0) - mean
            hess -= (x * p[:, None]).T @ x - np.outer(mean, mean)
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-4:
            trial = w - size * step
            value = log_likelihood(data, matrices, l2, trial)
            if value >= current:
                break
            size /= 2
        else:
            break
        w, gain, current = trial, value - current, value
        if gain < 1e-7:
            break
    return w


def fit(data: Sequence[IssueData], l2: float) -> np.ndarray:
    w = TODAY_WEIGHTS
    for _ in range(ROUNDS):
        w = _newton(data, [d.matrix(w) for d in data], l2, w)
    return w


def ranks(data: Sequence[IssueData], score) -> list[int]:  # type: ignore[no-untyped-def]
    out = []
    for d in data:
        s = score(d)
        for g in d.gold:
            out.append(int((s > s[g]).sum()) + 1)
    return out


def describe(label: str, found: Sequence[int]) -> str:
    n = len(found)
    top = lambda k: sum(r <= k for r in found) / n  # noqa: E731
    mrr = sum(1 / r for r in found) / n
    return (f"{label:<34} top1 {top(1):.2f}  top3 {top(3):.2f}  top5 {top(5):.2f}  top10 {top(10):.2f}  "
            f"MRR {mrr:.3f}  median rank {statistics.median(found):g}  ({n} gold files)")


def weighted(w: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda d: d.matrix(w) @ w


Calibration = tuple[float, float]  # rank.calibrated's share and exponent
TODAY: Calibration = (CALIBRATION_SHARE, CALIBRATION_EXPONENT)


def fit_calibration(held: Sequence[tuple[IssueData, np.ndarray]], matrix=None) -> Calibration:  # type: ignore[no-untyped-def]
    """The share and exponent of rank.calibrated that make held-out predictions likeliest.

    ``held`` pairs each issue with weights fit without its repository, so the mixture learns how
    wrong the softmax is on code it was not fit on, not how well it remembers its training set.
    """
    matrix = matrix or (lambda d, w: d.matrix(w))
    scored = [(softmax(matrix(d, w) @ w), d.gold) for d, w in held]
    best, best_ll = (0.0, 1.0), -np.inf
    for share in np.arange(0.0, 0.951, 0.05):
        for exponent in np.arange(0.5, 3.001, 0.1):
            ll = sum(float(np.log(np.maximum(calibrated(p, share, exponent)[gold], 1e-300)).mean()) for p, gold in scored)
            if ll > best_ll:
                best, best_ll = (round(float(share), 2), round(float(exponent), 2)), ll
    return best


def simulate(data: Sequence[IssueData], w: np.ndarray, budget: int, calibration: Calibration = TODAY,
             matrix=None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(gold in full, gold as a slice) per issue, if kimicode's planner chose on byte estimates.

    ``matrix(d, w)``: the signals to score with, if not ``d.matrix(w)`` (see --trials).

    The pack's own counts differ a little (exact tokens, the header, the final trim): this is for
    comparing weights, bench/localize.py measures the real thing.
    """
    from kimicode.repo.cache import FileRecord
    from kimicode.repo.languages import language_for as language
    from kimicode.repo.plan import CANDIDATES, FULL, QUESTION_TREE_SHARE, SLICE, estimator, plan_best
    from kimicode.tokens import TokenCounter

    room = budget - HEADER_TOKENS - int((budget - HEADER_TOKENS) * QUESTION_TREE_SHARE)
    estimate = estimator(TokenCounter(), room)
    full = sliced = 0.0
    for d in data:
        p = calibrated(softmax((matrix(d, w) if matrix else d.matrix(w)) @ w), *calibration)
        top = np.argsort(-p, kind="stable")[:CANDIDATES]
        candidates = [(FileRecord(d.paths[i], int(d.tokens[i] * 3.6), 0, "", language(d.paths[i]), None, 0, True, ()),
                       float(p[i])) for i in top]
        modes = {c.record.path: c.mode for c in plan_best(candidates, room, estimate, estimate)}
        gold = [d.paths[g] for g in d.gold]
        full += sum(modes.get(g) == FULL for g in gold) / len(gold)
        sliced += sum(modes.get(g) == SLICE for g in gold) / len(gold)
    return full / len(data), sliced / len(data)


def plan_line(label: str, data: Sequence[IssueData], w: np.ndarray, calibration: Calibration = TODAY) -> str:
    cells = []
    for budget in BUDGETS:
        full, sliced = simulate(data, w, budget, calibration)
        cells.append(f"{budget // 1000}K full {full:.2f} slice {sliced:.2f}")
    return f"{label:<34} " + "   ".join(cells)


def report(data: Sequence[IssueData], l2: float, label: str, plans: bool) -> None:
    repos = sorted({d.issue.repo for d in data})
    print(f"\n== {label}: {len(data)} issues, {', '.join(f'{r} {sum(d.issue.repo == r for d in data)}' for r in repos)}")
    print(describe("BM25 alone (lexical signal)", ranks(data, lambda d: d.evidence[:, LEXICAL])))
    print(describe("rank.WEIGHTS as committed", ranks(data, weighted(TODAY_WEIGHTS))))
    w = fit(data, l2)
    print(describe("fit on all (in-sample)", ranks(data, weighted(w))))
    held: list[int] = []
    held_data: list[IssueData] = []
    held_weights: list[np.ndarray] = []
    loro = without_each_repo(data, lambda train: fit(train, l2)) if len(repos) > 1 else {}
    for repo, w_repo in loro.items():
        test = [d for d in data if d.issue.repo == repo]
        found = ranks(test, weighted(w_repo))
        held += found
        held_data += test
        held_weights += [w_repo] * len(test)
        print(describe(f"  held out {repo}", found))
        print(describe("  same, rank.WEIGHTS", ranks(test, weighted(TODAY_WEIGHTS))))
    if held:
        print(describe("leave-one-repository-out", held))
    if plans:
        print("planner on byte estimates (see simulate):")
        print(plan_line("rank.WEIGHTS as committed", data, TODAY_WEIGHTS))
        print(plan_line("fit on all (in-sample)", data, w))
        if held_data:
            full = {b: [0.0, 0.0] for b in BUDGETS}
            for d, w_repo in zip(held_data, held_weights):
                for b in BUDGETS:
                    f, s_ = simulate([d], w_repo, b)
                    full[b][0] += f / len(held_data)
                    full[b][1] += s_ / len(held_data)
            print(f"{'leave-one-repository-out':<34} " + "   ".join(
                f"{b // 1000}K full {full[b][0]:.2f} slice {full[b][1]:.2f}" for b in BUDGETS))
    print("weights fit on all:")
    print("    " + ",\n    ".join(f'"{name}": {value:.2f}' for name, value in zip(SIGNALS, w)))


def without_each_repo(data: Sequence[IssueData], fitted) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Per repository of ``data``, the weights ``fitted`` makes from the other repositories' issues."""
    return {repo: fitted([d for d in data if d.issue.repo != repo]) for repo in sorted({d.issue.repo for d in data})}


def held_out(train: Sequence[IssueData], test: Sequence[IssueData], l2: float) -> None:
    """Weights and calibration fit on ``train`` alone, scored on ``test`` (which they never saw)."""
    print(f"\n== fit on {len(train)} issues of {', '.join(sorted({d.issue.repo for d in train}))}; "
          f"scored on {len(test)} held-out issues of {', '.join(sorted({d.issue.repo for d in test}))}")
    w = fit(train, l2)
    without = without_each_repo(train, lambda data: fit(data, l2))
    held = [(d, without[d.issue.repo]) for d in train]
    calibration = fit_calibration(held)
    print(describe("BM25 alone (lexical signal)", ranks(test, lambda d: d.evidence[:, LEXICAL])))
    print(describe("rank.WEIGHTS as committed", ranks(test, weighted(TODAY_WEIGHTS))))
    print(describe("fit on the training issues", ranks(test, weighted(w))))
    print("planner on byte estimates (see simulate), held-out issues:")
    print(plan_line("committed weights and calibration", test, TODAY_WEIGHTS))
    print(plan_line("training fit, no calibration", test, w, (0.0, 1.0)))
    print(plan_line(f"training fit, calibration {calibration}", test, w, calibration))
    print(f"calibration fit on the training issues' leave-one-repository-out predictions: share {calibration[0]}, "
          f"exponent {calibration[1]}")
    print("weights fit on the training issues:")
    print("    " + ",\n    ".join(f'"{name}": {value:.2f}' for name, value in zip(SIGNALS, w)))


# --------------------------------------------------------------------------------------------
# Trials (--trials): changes tried against the committed ranking, each scored on the fit issues
# (other repositories) and on the held-out issues; only what helps on both is worth keeping.

# Planner settings (kimicode.repo.plan globals), with the committed weights and calibration.
PLANNER_TRIALS: dict[str, dict[str, object]] = {
    "MAP_VALUE 1e-5": {"MAP_VALUE": 1e-5},
    "MAP_VALUE 0": {"MAP_VALUE": 0.0},
    "VALUE outline 0.05": {"VALUE": {"full": 1.0, "slice": 0.5, "outline": 0.05}},
    "VALUE outline 0.2": {"VALUE": {"full": 1.0, "slice": 0.5, "outline": 0.2}},
    "VALUE slice 0.3": {"VALUE": {"full": 1.0, "slice": 0.3, "outline": 0.1}},
    # the five likeliest files (>= 1%) each tried whole first, not three (>= 5%)
    "5 whole-first tries": {"ENUMERATED": 5, "ENUMERATE_CHANCE": 0.01},
}
CALIBRATION_TRIALS: tuple[Calibration, ...] = ((0.8, 1.2), (0.8, 1.0), (0.9, 1.2), (0.8, 2.0))


def _rank_of(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    out = np.empty(len(values))
    out[order] = np.arange(1, len(values) + 1)
    return out


# Columns derived from the signals, added to them and fit with them (rank-fusion normalisations).
_PAIRS: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _tested(d: IssueData, by: np.ndarray, best: bool = False) -> np.ndarray:
    """Each source file: the sum (or ``best``) of ``by`` over the test files that test it by name
    (bench/tested_names.py), / the largest."""
    from tested_names import tested_pairs

    if d.issue.instance_id not in _PAIRS:
        pairs = tested_pairs(d.paths)
        _PAIRS[d.issue.instance_id] = (np.asarray([p[0] for p in pairs], dtype=int), np.asarray([p[1] for p in pairs], dtype=int),
                                       np.asarray([p[2] for p in pairs], dtype=float))
    test, source, share = _PAIRS[d.issue.instance_id]
    out = np.zeros(len(by))
    if best:
        np.maximum.at(out, source, by[test] * share)
    elif len(test):
        out = np.bincount(source, weights=by[test] * share, minlength=len(by))
    return out / max(float(out.max()), 1e-12)


TODAY_EVIDENCE = TODAY_WEIGHTS[: len(EVIDENCE)]  # SIGNALS begins with EVIDENCE
FUSION_TRIALS = {
    # an issue's reproduction reads like a test: the module its best-matching tests test
    "tested: first guess of its tests": lambda d, x: _tested(d, softmax(d.evidence @ TODAY_EVIDENCE)),
    "tested: best lexical of its tests": lambda d, x: _tested(d, x[:, LEXICAL], best=True),
    "lexical 10 / (10 + rank)": lambda d, x: 10.0 / (10.0 + _rank_of(x[:, LEXICAL])),
    "lexical -log(rank) / log(files)": lambda d, x: -np.log(_rank_of(x[:, LEXICAL])) / np.log(len(x)),
    "lexical x hub": lambda d, x: x[:, LEXICAL] * x[:, HUB],
}


def _with_column(column):  # type: ignore[no-untyped-def]
    """IssueData.matrix plus one column, ``column(issue, its signals)`` (its weight is the last of w)."""
    def matrix(d: IssueData, w: np.ndarray) -> np.ndarray:
        base = d.matrix(w[: len(SIGNALS)])
        return np.hstack([base, column(d, base)[:, None]])
    return matrix


def _fit_matrix(data: Sequence[IssueData], matrix, l2: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    w = np.append(TODAY_WEIGHTS, 0.0)
    for _ in range(ROUNDS):
        w = _newton(data, [matrix(d, w) for d in data], l2, w)
    return w


def _planner_cells(label: str, fit_set: Sequence[IssueData], dev: Sequence[IssueData], calibration: Calibration = TODAY) -> str:
    return (f"{label:<34} fit " + plan_line("", fit_set, TODAY_WEIGHTS, calibration).strip()
            + " | held out " + plan_line("", dev, TODAY_WEIGHTS, calibration).strip())


def trials(fit_set: Sequence[IssueData], dev: Sequence[IssueData], l2: float) -> None:
    from kimicode.repo import plan

    print(f"\n== trials: fit on {len(fit_set)} issues, held out {len(dev)}; planner on byte estimates (see simulate)")
    print(_planner_cells("committed", fit_set, dev))
    for label, settings in PLANNER_TRIALS.items():
        saved = {name: getattr(plan, name) for name in settings}
        for name, value in settings.items():
            setattr(plan, name, value)
        try:
            print(_planner_cells(label, fit_set, dev))
        finally:
            for name, value in saved.items():
                setattr(plan, name, value)
    for calibration in CALIBRATION_TRIALS:
        print(_planner_cells(f"calibration {calibration}", fit_set, dev, calibration))
    print("fusion columns: fit on the fit issues (leave-one-repository-out there), calibration refit likewise")
    for label, column in {"none": None, **FUSION_TRIALS}.items():
        _fusion_trial(label, column, fit_set, dev, l2)


def _fusion_trial(label: str, column, fit_set: Sequence[IssueData], dev: Sequence[IssueData], l2: float,  # type: ignore[no-untyped-def]
                  show_weights: bool = False) -> None:
    def matrix(d: IssueData, w: np.ndarray) -> np.ndarray:
        return d.matrix(w) if column is None else _with_column(column)(d, w)

    def fitted(data: Sequence[IssueData]) -> np.ndarray:
        return fit(data, l2) if column is None else _fit_matrix(data, matrix, l2)

    def score(w: np.ndarray):  # type: ignore[no-untyped-def]
        return lambda d: matrix(d, w) @ w

    repos = sorted({d.issue.repo for d in fit_set})
    loro = without_each_repo(fit_set, fitted)
    w = fitted(fit_set)
    held = [r for repo in repos for r in ranks([d for d in fit_set if d.issue.repo == repo], score(loro[repo]))]
    calibration = fit_calibration([(d, loro[d.issue.repo]) for d in fit_set], matrix)
    cells = []
    for budget in BUDGETS:
        on_fit = np.mean([simulate([d], loro[d.issue.repo], budget, calibration, matrix)[0] for d in fit_set])
        cells.append(f"{budget // 1000}K fit {on_fit:.2f} held out {simulate(dev, w, budget, calibration, matrix)[0]:.2f}")
    print(describe(f"  {label}: fit issues, LORO", held))
    print(describe(f"  {label}: held out", ranks(dev, score(w))))
    print(f"  {label}: gold in full, calibration {calibration}: " + "   ".join(cells))
    if show_weights:
        names = SIGNALS + (() if column is None else (label,))
        print(f"  {label}: weights fit on all fit issues: " + ", ".join(f'"{n}": {v:.2f}' for n, v in zip(names, w)))


CALIBRATION_GRID = [(share, exponent) for share in (0.6, 0.7, 0.8, 0.9, 0.95)
                    for exponent in (1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5)]


def plan_calibration(fit_set: Sequence[IssueData], dev: Sequence[IssueData], l2: float) -> None:
    """The calibration that makes the planner send the gold file in full most often on the fit issues.

    fit_calibration picks the share and exponent that make the gold file likeliest; the planner,
    though, turns them into a decision (what goes in full), and the likeliest calibration need not
    decide best. Each point of CALIBRATION_GRID is scored by simulate on the fit issues, each
    repository with weights fit on the others; the best mean over both budgets is then run once on
    the held-out issues (which chose nothing), beside the committed calibration.
    """
    loro = without_each_repo(fit_set, lambda data: fit(data, l2))
    print(f"\n== calibration for the planner: {len(fit_set)} fit issues (leave-one-repository-out weights)")
    scores: dict[Calibration, list[float]] = {}
    for calibration in CALIBRATION_GRID:
        scores[calibration] = [float(np.mean([simulate([d], loro[d.issue.repo], budget, calibration)[0] for d in fit_set]))
                               for budget in BUDGETS]
        print(f"  {calibration}: " + "   ".join(f"{b // 1000}K full {v:.3f}" for b, v in zip(BUDGETS, scores[calibration])),
              flush=True)
    best = max(CALIBRATION_GRID, key=lambda c: (float(np.mean(scores[c])), c == TODAY))
    for label, calibration in (("committed", TODAY), ("best on the fit issues", best)):
        print(plan_line(f"{label} {calibration}, held out", dev, TODAY_WEIGHTS, calibration))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    parser.add_argument("--l2", type=float, default=0.01, help="L2 penalty per issue [0.01]")
    parser.add_argument("--plans", action="store_true", help="also simulate the planner's full/slice rates (slower)")
    parser.add_argument("--hold-out-exact", action="store_true",
                        help="fit on the --sdists issues only (other repositories) and score on the issues at their "
                             "base commits, which the fit never sees")
    parser.add_argument("--trials", action="store_true",
                        help="score the changes of PLANNER_TRIALS, CALIBRATION_TRIALS and FUSION_TRIALS on the --sdists "
                             "issues and on the held-out issues at their base commits (slow: many fits)")
    parser.add_argument("--plan-calibration", action="store_true",
                        help="choose the calibration by the planner's gold in full on the --sdists issues, and score it "
                             "on the held-out issues at their base commits")
    args = parser.parse_args(argv)
    issues, exact, approximate = select(args)
    if not issues:
        parser.error("no issue has its repository on this machine")
    args.work.mkdir(parents=True, exist_ok=True)
    data = load(issues, args)
    exact_ids = {i.instance_id for i in exact}
    fit_set = [d for d in data if d.issue.instance_id not in exact_ids]  # release sources: other repositories
    held = [d for d in data if d.issue.instance_id in exact_ids]  # at their base commits
    if args.trials:
        trials(fit_set, held, args.l2)
        return 0
    if args.plan_calibration:
        plan_calibration(fit_set, held, args.l2)
        return 0
    if args.hold_out_exact:
        held_out(fit_set, held, args.l2)
        return 0
    report(held, args.l2, "at their base commits", args.plans)
    if approximate:
        report(data, args.l2, "all, with APPROXIMATE release sources", args.plans)
    return 0


if __name__ == "__main__":
    sys.exit(main())
