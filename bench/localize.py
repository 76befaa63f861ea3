"""File localization on real issues: does `kimicode pack --query ISSUE` send the file the fix changed?

    .venv/bin/python bench/localize.py [--data FILE ...] [--repos sympy/sympy,pallets/flask]
                                       [--budgets 32000,128000] [--limit N] [--work DIR]
                                       [--json FILE] [--per-repo]

For every issue of ``--data`` (SWE-bench Lite rows: instance_id, repo, base_commit,
problem_statement, gold_files) whose repository is on this machine as a bare git dir
(``--mirror``/OWNER+NAME/repo, brought by the `fetch` tool), the script checks out the base
commit, packs it with the issue text as the query at each budget, and records for each gold
file whether it was sent in full, as a slice, as an outline, or not at all, and its rank.

Repositories too large to bring here (django, scikit-learn, matplotlib) can be approximated with
``--sdists DIR``: release source distributions unpacked there (``pip download --no-deps
--no-binary :all: Django==4.1``), one per range of pull-request numbers (RELEASES below). That
code is not the code at the base commit, so those issues are reported in a table of their own,
marked approximate, and issues whose gold file is not in the release are left out.
A BM25 baseline runs in the same pass: rank_bm25's BM25Okapi over path + contents (identifiers
split by snake/camel case), whole files in BM25 order until the budget is full.

Rates are per issue: the share of the issue's gold files in that mode, averaged over issues.
Ranks are 1-based; "median rank" is over all gold files.

Everything slow is cached under ``--work`` (default /tmp/kimicode-localize): one worktree per
repository, kimicode's per-file cache, BM25 term counts per blob, and each result keyed by a
fingerprint of kimicode's source, so a rerun with unchanged code prints at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "swebench-lite-dev.jsonl"
DEFAULT_MIRROR = Path("/work/.mirror")
DEFAULT_WORK = Path("/tmp/kimicode-localize")
MODES = ("full", "slice", "outline", "absent")
# Release nearest the issues' base commits, by pull-request number (an approximation: see above).
RELEASES: dict[str, list[tuple[int, str]]] = {
    "django/django": [(11500, "Django-3.0"), (13500, "Django-3.2"), (15500, "Django-4.1"), (10**9, "Django-4.2")],
    "scikit-learn/scikit-learn": [(12000, "scikit-learn-0.20.0"), (10**9, "scikit-learn-0.22")],
    "matplotlib/matplotlib": [(23000, "matplotlib-3.5.0"), (10**9, "matplotlib-3.7.0")],
}
BM25_VERSION = "bm25-1"
HEADER_RESERVE = 400  # tokens the BM25 baseline keeps back for a header, like kimicode's summary


@dataclass(frozen=True)
class Issue:
    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    gold_files: tuple[str, ...]
    fix_commit: str = ""  # the commit that fixed it, where the data says (bench/data/other-repos.jsonl)


@dataclass
class Outcome:
    """Where each gold file ended up in one pack."""

    system: str  # "kimicode" or "bm25"
    budget: int
    modes: dict[str, str]  # gold path -> full/slice/outline/absent
    ranks: dict[str, int | None]  # gold path -> 1-based rank (None: not ranked at all)
    tokens: int
    seconds: float


# --------------------------------------------------------------------------------------------
# Issues and checkouts


def load_issues(path: Path, repos: set[str] | None) -> list[Issue]:
    issues = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if repos is None or row["repo"] in repos:
                issues.append(Issue(row["instance_id"], row["repo"], row["base_commit"], row["problem_statement"],
                                    tuple(row["gold_files"]), row.get("fix_commit", "")))
    return issues


def bare_dir(mirror: Path, repo: str) -> Path:
    return mirror / repo.replace("/", "+") / "repo"


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def release_dir(sdists: Path | None, issue: Issue) -> Path | None:
    """The unpacked release standing in for the issue's base commit, if there is one with its gold files."""
    if sdists is None or issue.repo not in RELEASES:
        return None
    number = int(issue.instance_id.rsplit("-", 1)[1])
    name = next(dist for limit, dist in RELEASES[issue.repo] if number < limit)
    root = sdists / name
    return root if root.is_dir() and all((root / g).is_file() for g in issue.gold_files) else None


def available(issues: Sequence[Issue], mirror: Path, sdists: Path | None) -> tuple[list[Issue], list[Issue]]:
    """(issues whose base commit is here, issues approximated by a release)."""
    exact = [i for i in issues if bare_dir(mirror, i.repo).exists()]
    approximate = [i for i in issues if i not in exact and release_dir(sdists, i) is not None]
    return exact, approximate


def source(work: Path, mirror: Path, sdists: Path | None, issue: Issue) -> Path:
    """Where the issue's code is: its base commit checked out, else the release standing in for it."""
    if bare_dir(mirror, issue.repo).exists():
        return checkout(work, mirror, issue)
    root = release_dir(sdists, issue)
    assert root is not None
    return root


def checkout(work: Path, mirror: Path, issue: Issue) -> Path:
    """The repository at the issue's base commit, in one reused worktree per repository."""
    tree = work / "checkouts" / issue.repo.replace("/", "+")
    bare = bare_dir(mirror, issue.repo)
    if not (tree / ".git").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        git("--git-dir", str(bare), "worktree", "add", "--detach", "--no-checkout", str(tree), issue.base_commit)
    # Everything but the files whose contents the mirror lacks (fetch leaves out a repository's
    # largest files, e.g. astropy's IERS tables): git would refuse the whole checkout for one.
    patterns = Path(git("rev-parse", "--path-format=absolute", "--git-path", "info/sparse-checkout", cwd=tree).strip())
    patterns.parent.mkdir(parents=True, exist_ok=True)
    escaped = [re.sub(r"([\\*?\[\]!#])", r"\\\1", path) for path in missing_blobs(bare, issue.base_commit)]
    patterns.write_text("".join(f"{line}\n" for line in ["/*", *(f"!/{path}" for path in escaped)]))
    # git rewrites only the files that differ, so unchanged files keep their mtime and cache entries
    git("-c", "core.sparseCheckout=true", "-c", "core.sparseCheckoutCone=false",
        "checkout", "-q", "-f", "--detach", issue.base_commit, cwd=tree)
    git("clean", "-q", "-f", "-d", "-x", cwd=tree)
    return tree


def missing_blobs(bare: Path, commit: str) -> list[str]:
    """Paths at ``commit`` whose contents are not in the mirror."""
    entries = [e.partition("\t") for e in git("--git-dir", str(bare), "ls-tree", "-r", "-z", commit).split("\0") if e]
    blobs = [(meta.split()[2], path) for meta, _, path in entries if meta.split()[1] == "blob"]
    checked = subprocess.run(["git", "--git-dir", str(bare), "cat-file", "--batch-check"], check=True, text=True,
                             capture_output=True, input="".join(f"{blob}\n" for blob, _ in blobs)).stdout.splitlines()
    return [path for (_, path), line in zip(blobs, checked) if line.endswith(" missing")]


# --------------------------------------------------------------------------------------------
# kimicode


def code_fingerprint() -> str:
    """Digest of kimicode's source: a result computed by other code is not reused."""
    import kimicode

    package = Path(kimicode.__file__).parent  # the one imported: PYTHONPATH may point at another checkout
    h = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".scm", ".json") and "__pycache__" not in path.parts:
            h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _clear_pack_results(cache_dir: Path) -> None:
    # whole-pack results are keyed by options and file stats, not by kimicode's code: a stale one
    # would hide a change under test
    for db in (cache_dir / "repos").glob("*.sqlite"):
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM results")


def _ranking(report: object, root: Path, cache_dir: Path, query: str) -> list[str]:
    ranking = getattr(report, "ranking", None)
    if ranking is not None:
        return list(ranking)
    # kimicode before the relevance work (main at 1a3d37c) kept only its top 15 in the report:
    # rank again from the warm per-file cache
    from kimicode.repo.cache import PackCache, cache_path
    from kimicode.repo.files import list_files
    from kimicode.repo.gitinfo import read_git_info
    from kimicode.repo.pack import _ranked
    from kimicode.repo.scan import scan_files

    listing = list_files(root)
    cache = PackCache(cache_path(cache_dir, listing.root))
    try:
        scan = scan_files(listing.root, listing.files, cache)
    finally:
        cache.close()
    gitinfo = read_git_info(listing.git_root, listing.root) if listing.git_root else None
    return [r.path for r in _ranked(scan, gitinfo, query)[1]]


def run_kimicode(root: Path, issue: Issue, budget: int, cache_dir: Path) -> Outcome:
    from kimicode.repo.pack import PackOptions, pack_repository

    _clear_pack_results(cache_dir)
    start = time.perf_counter()
    result = pack_repository(root, PackOptions(budget=budget, query=issue.problem_statement), cache_dir)
    seconds = time.perf_counter() - start
    report = result.report
    sent = {p: "outline" for p, _ in report.outline}
    sent.update({p: "slice" for p, _ in getattr(report, "slices", [])})
    sent.update({p: "full" for p, _ in report.full})
    order = {p: i + 1 for i, p in enumerate(_ranking(report, root, cache_dir, issue.problem_statement))}
    return Outcome("kimicode", budget, {g: sent.get(g, "absent") for g in issue.gold_files},
                   {g: order.get(g) for g in issue.gold_files}, report.total_tokens, seconds)


# --------------------------------------------------------------------------------------------
# BM25 baseline

_WORD = re.compile(r"[A-Za-z0-9_]+")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def bm25_tokens(text: str) -> list[str]:
    """Words, lower-cased, plus their snake/camel parts: 'parseHTTP_v2' -> parsehttp_v2 parse http v 2."""
    out: list[str] = []
    for word in _WORD.findall(text):
        lower = word.lower()
        out.append(lower)
        parts = [p.lower() for chunk in word.split("_") for p in _PART.findall(chunk)]
        if len(parts) > 1:
            out.extend(parts)
    return out


class TermCache:
    """Token counts of a file's path + text, and its token count, by content digest (SQLite)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS terms (key TEXT PRIMARY KEY, value TEXT)")

    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM terms WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO terms VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self.db.commit()
        self.db.close()


def run_bm25(root: Path, issue: Issue, budgets: Sequence[int], terms: TermCache) -> list[Outcome]:
    from rank_bm25 import BM25Okapi

    from kimicode.repo.files import list_files
    from kimicode.repo.render import render_file
    from kimicode.repo.scan import decode
    from kimicode.tokens import DEFAULT_ENCODING, TokenCounter

    start = time.perf_counter()
    counter = TokenCounter(DEFAULT_ENCODING)
    paths: list[str] = []
    docs: list[list[str]] = []
    sizes: dict[str, int] = {}
    for entry in list_files(root).files:
        data = (root / entry.path).read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary: no text to match
        key = f"{BM25_VERSION}:{entry.path}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"
        cached = terms.get(key)
        if cached is None:
            text = decode(data)[0]
            counts = Counter(bm25_tokens(entry.path + "\n" + text))
            tokens = counter.raw(render_file(entry.path, "full", text, "xml"))
            cached = json.dumps([tokens, counts])
            terms.put(key, cached)
        tokens, counts = json.loads(cached)
        paths.append(entry.path)
        docs.append([t for t, n in counts.items() for _ in range(n)])
        sizes[entry.path] = tokens
    scores = BM25Okapi(docs).get_scores(bm25_tokens(issue.problem_statement))
    order = [paths[i] for i in sorted(range(len(paths)), key=lambda i: (-scores[i], paths[i]))]
    rank = {p: i + 1 for i, p in enumerate(order)}
    seconds = time.perf_counter() - start
    outcomes = []
    for budget in budgets:
        room, used, sent = budget - HEADER_RESERVE, 0, set()
        for path in order:
            if used + sizes[path] <= room:
                sent.add(path)
                used += sizes[path]
            if room - used < 50:
                break
        outcomes.append(Outcome("bm25", budget, {g: "full" if g in sent else "absent" for g in issue.gold_files},
                                {g: rank.get(g) for g in issue.gold_files}, used, seconds))
    return outcomes


# --------------------------------------------------------------------------------------------
# Results


class ResultStore:
    """Outcomes keyed by issue, system, budget and the code that produced them (JSON lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                row = json.loads(line)
                self.rows[row["key"]] = row

    def get(self, key: str) -> Outcome | None:
        row = self.rows.get(key)
        return Outcome(**row["outcome"]) if row else None

    def put(self, key: str, outcome: Outcome) -> None:
        row = {"key": key, "outcome": asdict(outcome)}
        self.rows[key] = row
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


def summarize(outcomes: Iterable[tuple[Issue, Outcome]]) -> dict[str, float]:
    from kimicode.repo.plan import VALUE

    per_issue: dict[str, list[float]] = {m: [] for m in MODES}
    ranks: list[float] = []
    for _, outcome in outcomes:
        for mode in MODES:
            per_issue[mode].append(sum(m == mode for m in outcome.modes.values()) / len(outcome.modes))
        ranks += [r if r is not None else float("inf") for r in outcome.ranks.values()]
    n = len(per_issue["full"])
    summary = {m: sum(v) / n if n else 0.0 for m, v in per_issue.items()}
    # what kimicode's planner means to maximise, realised: the gold file's block at plan.VALUE
    summary["value"] = sum(VALUE.get(m, 0.0) * summary[m] for m in MODES)
    summary["n"] = n
    summary["median_rank"] = statistics.median(ranks) if ranks else float("nan")
    return summary


def table(rows: list[tuple[str, int, dict[str, float]]]) -> str:
    header = ["system", "budget", "full", "slice", "outline", "absent", "full+slice", "value", "median rank", "issues"]
    lines = [[system, f"{budget // 1000}K", *(f"{s[m]:.2f}" for m in MODES), f"{s['full'] + s['slice']:.2f}",
              f"{s['value']:.3f}", f"{s['median_rank']:g}", str(s["n"])] for system, budget, s in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, lines)])


def evaluate(issues: Sequence[Issue], args: argparse.Namespace) -> dict[tuple[str, str, int], Outcome]:
    fingerprint = code_fingerprint()
    store = ResultStore(args.work / "results.jsonl")
    terms = TermCache(args.work / "bm25-terms.sqlite")
    cache_dir = args.work / "kimicode-cache"
    found: dict[tuple[str, str, int], Outcome] = {}
    try:
        for n, issue in enumerate(issues, start=1):
            keys = {("kimicode", b): f"{issue.instance_id}:kimicode:{b}:{fingerprint}" for b in args.budgets}
            keys.update({("bm25", b): f"{issue.instance_id}:bm25:{b}:{BM25_VERSION}" for b in args.budgets})
            cached = {k: store.get(v) for k, v in keys.items()}
            if any(v is None for v in cached.values()):
                print(f"... [{n}/{len(issues)}] {issue.instance_id}", file=sys.stderr, flush=True)
                root = source(args.work, args.mirror, args.sdists, issue)
                if any(cached[("bm25", b)] is None for b in args.budgets):
                    for outcome in run_bm25(root, issue, args.budgets, terms):
                        cached[("bm25", outcome.budget)] = outcome
                        store.put(keys[("bm25", outcome.budget)], outcome)
                for budget in args.budgets:
                    if cached[("kimicode", budget)] is None:
                        outcome = run_kimicode(root, issue, budget, cache_dir)
                        cached[("kimicode", budget)] = outcome
                        store.put(keys[("kimicode", budget)], outcome)
            for (system, budget), outcome in cached.items():
                assert outcome is not None
                found[(issue.instance_id, system, budget)] = outcome
    finally:
        terms.close()
    return found


def select(args: argparse.Namespace) -> tuple[list[Issue], list[Issue], list[Issue]]:
    """(all issues to run, those at their base commit, those approximated by a release)."""
    wanted = {r.strip() for r in args.repos.split(",") if r.strip()} or None
    issues = [issue for path in data_files(args) for issue in load_issues(path, wanted)]
    repeated = sorted(name for name, count in Counter(i.instance_id for i in issues).items() if count > 1)
    if repeated:
        sys.exit(f"error: issues given twice in --data: {', '.join(repeated[:5])}")
    exact, approximate = available(issues, args.mirror, args.sdists)
    missing = sorted({i.repo for i in issues} - {i.repo for i in exact + approximate})
    if missing:
        print(f"not on this machine (skipped): {', '.join(missing)}", file=sys.stderr)
    if args.limit:
        exact = [i for r in sorted({x.repo for x in exact}) for i in [x for x in exact if x.repo == r][: args.limit]]
        approximate = [i for r in sorted({x.repo for x in approximate})
                       for i in [x for x in approximate if x.repo == r][: args.limit]]
    return exact + approximate, exact, approximate


def data_files(args: argparse.Namespace) -> list[Path]:
    return args.data or [DEFAULT_DATA]


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, action="append",
                        help=f"issues, JSON lines; repeat to run several sets [{DEFAULT_DATA}]")
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="where OWNER+NAME/repo bare git dirs are")
    parser.add_argument("--sdists", type=Path, help="unpacked release sources standing in for repositories not in --mirror")
    parser.add_argument("--repos", default="", help="comma list of OWNER/NAME (default: every repository found)")
    parser.add_argument("--limit", type=int, default=0, help="at most N issues per repository (0: all)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"checkouts and caches [{DEFAULT_WORK}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    parser.add_argument("--budgets", default="32000,128000", help="comma list of token budgets [32000,128000]")
    parser.add_argument("--per-repo", action="store_true", help="also print the table per repository")
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    parser.add_argument("--baseline", type=Path,
                        help="a --json file of an earlier kimicode: its rows are printed beside this run's")
    args = parser.parse_args(argv)
    args.budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    issues, exact, approximate = select(args)
    if not issues:
        parser.error("no issue has its repository on this machine; bring one with the fetch tool")
    args.work.mkdir(parents=True, exist_ok=True)
    found = evaluate(issues, args)
    systems = ["kimicode", "bm25"]
    if args.baseline:
        # an earlier kimicode's outcomes, as that version's --json wrote them (not run again here)
        label = f"kimicode {args.baseline.stem}"
        for row in json.loads(args.baseline.read_text()):
            if row["system"] == "kimicode":
                instance_id = row.pop("instance_id")
                found[(instance_id, label, row["budget"])] = Outcome(**{**row, "system": label})
        systems.append(label)

    def rows_for(subset: Sequence[Issue]) -> list[tuple[str, int, dict[str, float]]]:
        return [(system, budget, summarize((i, found[(i.instance_id, system, budget)]) for i in subset
                                           if (i.instance_id, system, budget) in found))
                for budget in args.budgets for system in systems]

    print(f"kimicode {code_fingerprint()}")
    groups = [("at their base commits", exact, True), ("APPROXIMATE: release sources, not the base commits", approximate, True)]
    if len(data_files(args)) > 1:  # each set's issues at their base commits on their own too (per repository above)
        at_base = {i.instance_id for i in exact}
        groups[1:1] = [(f"at their base commits, from {path.name}", [i for i in load_issues(path, None) if i.instance_id in at_base],
                        False) for path in data_files(args)]
    for title, subset, per_repo in groups:
        if not subset:
            continue
        repos = sorted({i.repo for i in subset})
        print(f"\n{len(subset)} issues {title}: {', '.join(f'{r} {sum(i.repo == r for i in subset)}' for r in repos)}")
        print(table(rows_for(subset)))
        if args.per_repo and per_repo:
            for repo in repos:
                print(f"\n{repo}")
                print(table(rows_for([i for i in subset if i.repo == repo])))
    if args.json:
        args.json.write_text(json.dumps([{"instance_id": k[0], **asdict(v)} for k, v in found.items()], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
