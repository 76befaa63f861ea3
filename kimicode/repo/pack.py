"""Fit a ranked repository into a token budget: full text, then outlines, then a tree.

The budget is never exceeded: every piece is counted with the same tokenizer
(and calibration) as the final check, which counts the whole text once more
and drops the least relevant piece until it fits.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from kimicode.repo.cache import FileRecord, PackCache, cache_path
from kimicode.repo.contents import VERSION as CONTENTS_VERSION
from kimicode.repo.contents import Contents
from kimicode.repo.files import ListingError, ListingMemo, Skipped, survey
from kimicode.repo.gitinfo import GitInfo, read_git_info, read_head
from kimicode.repo.rank import RankedFile, rank_files
from kimicode.repo.render import Header, render_file, render_footer, render_header, render_tree_block
from kimicode.repo.scan import ScanResult, scan_files
from kimicode.repo.tree import render_tree
from kimicode.tokens import DEFAULT_ENCODING, EncodingUnavailable, TokenCounter

FULL_SHARE = 0.6  # of the budget for full files, when not everything fits
TREE_SHARE = 0.08  # kept back from outlines so the rest of the paths can be listed
MAX_MISSES = 40
LISTING_STATE = "listing"  # the cache's state entries: the last listing, the last import graph
GRAPH_STATE = "imports"
OUTLINE_RATIO = 0.12  # an outline is roughly this share of its file's tokens  # consecutive files that did not fit before a tier stops trying
Progress = Callable[[str, int, int], None]


class PackError(Exception):
    """Nothing useful can be packed; the message is one line for the user."""


@dataclass(frozen=True)
class PackOptions:
    budget: int
    query: str | None = None
    fmt: str = "xml"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = 1_000_000
    encoding: str = DEFAULT_ENCODING
    calibration: float = 1.0


@dataclass
class PackReport:
    name: str
    commit: str
    budget: int
    encoding: str
    query: str | None
    total_tokens: int = 0
    header_tokens: int = 0
    tree_tokens: int = 0
    full: list[tuple[str, int]] = field(default_factory=list)  # (path, tokens)
    outline: list[tuple[str, int]] = field(default_factory=list)
    tree_files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    redactions: list[tuple[str, int, str]] = field(default_factory=list)  # (path, line, kind)
    top: list[tuple[str, float, list[str]]] = field(default_factory=list)  # ranked head with reasons
    timings: dict[str, float] = field(default_factory=dict)
    files_reused: int = 0
    files_scanned: int = 0
    from_cache: bool = False
    parts: int = 1
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PackResult:
    parts: tuple[str, ...]  # one text, or several with --split
    report: PackReport

    @property
    def text(self) -> str:
        return self.parts[0]


@dataclass
class _Plan:
    full: list[tuple[FileRecord, int]] = field(default_factory=list)
    outline: list[tuple[FileRecord, int]] = field(default_factory=list)

    def used(self) -> int:
        return sum(t for _, t in self.full) + sum(t for _, t in self.outline)

    def paths(self) -> set[str]:
        return {r.path for r, _ in self.full} | {r.path for r, _ in self.outline}


def _fill(plan: list[tuple[FileRecord, int]], candidates: Sequence[FileRecord], cap: int, cost: Callable[[FileRecord], int | None]) -> int:
    """Greedily add candidates (best first) whose cost fits in ``cap``; returns tokens used."""
    used = misses = 0
    for record in candidates:
        if misses >= MAX_MISSES or cap - used < 20:
            break
        tokens = cost(record)
        if tokens is not None and tokens <= cap - used:
            plan.append((record, tokens))
            used += tokens
            misses = 0
        else:
            misses += 1
    return used


def _likely_needed(ranked: Sequence[FileRecord], counter: TokenCounter, full_cap: int, outline_cap: int) -> list[tuple[FileRecord, str]]:
    """The texts the greedy fill will probably ask for, guessed from byte sizes (so they can be made in parallel)."""
    wanted: list[tuple[FileRecord, str]] = []
    full = outline = 0
    for record in ranked:
        estimate = counter.estimate_bytes(record.size)
        if full + estimate <= full_cap * 1.1:
            wanted.append((record, "full"))
            full += estimate
        elif outline <= outline_cap * 1.3:
            wanted.append((record, "outline"))
            outline += int(estimate * OUTLINE_RATIO)
        else:
            break
    return wanted


def _plan(ranked: Sequence[FileRecord], contents: Contents, available: int) -> _Plan:
    counter = contents.counter
    plan = _Plan()
    everything = sum(counter.estimate_bytes(r.size) for r in ranked)
    full_cap = available if everything <= available else int(available * FULL_SHARE)
    contents.prefetch(_likely_needed(ranked, counter, full_cap, available - full_cap))

    def full_cost(record: FileRecord) -> int | None:
        # half the byte estimate already over the room left: not worth an exact count
        if counter.estimate_bytes(record.size) // 2 > full_cap:
            return None
        return contents.block_tokens(record, "full")

    used = _fill(plan.full, ranked, full_cap, full_cost)
    taken = plan.paths()
    rest = [r for r in ranked if r.path not in taken]
    outline_cap = available - used - (int(available * TREE_SHARE) if rest else 0)
    _fill(plan.outline, rest, outline_cap, lambda r: contents.block_tokens(r, "outline"))
    return plan


def _header(report: PackReport, skipped: Sequence[Skipped], counts: tuple[int, int, int], secrets: tuple[int, int], part: tuple[int, int] | None = None) -> Header:
    reasons = Counter(s.reason.split(":")[0] for s in skipped).most_common()
    return Header(report.name, report.commit, report.budget, report.encoding, report.query, *counts, reasons, *secrets, part=part)


def _assemble(report: PackReport, plan: _Plan, ranked: Sequence[FileRecord], skipped: Sequence[Skipped], contents: Contents, fmt: str) -> str:
    counter = contents.counter
    blocks = [contents.block(r, "full") for r, _ in plan.full] + [contents.block(r, "outline") for r, _ in plan.outline]
    included = [(r.path, "full") for r, _ in plan.full] + [(r.path, "outline") for r, _ in plan.outline]
    found = [(path, f) for path, mode in included for f in contents.findings.get((path, mode), ())]
    taken = plan.paths()
    rest = [r.path for r in ranked if r.path not in taken]
    header = render_header(_header(report, skipped, (len(plan.full), len(plan.outline), len(rest)), (len(found), len({p for p, _ in found}))), fmt)
    footer = render_footer(fmt)
    room = report.budget - counter.count(header) - counter.count(footer) - plan.used() - counter.count(render_tree_block("x", fmt))
    tree = render_tree(rest, max(room, 0), counter.count) if room > 0 else ""
    tree_block = render_tree_block(tree, fmt)
    report.full = [(r.path, t) for r, t in plan.full]
    report.outline = [(r.path, t) for r, t in plan.outline]
    report.tree_files = len(rest) if tree else 0
    report.header_tokens = counter.count(header)
    report.tree_tokens = counter.count(tree_block) if tree else 0
    report.redactions = [(path, f.line, f.kind) for path, f in found]
    return header + "".join(blocks) + tree_block + footer


def _fit(report: PackReport, plan: _Plan, ranked: Sequence[FileRecord], skipped: Sequence[Skipped], contents: Contents, fmt: str) -> str:
    """Render, then drop the least relevant piece until the exact count is within budget."""
    while True:
        text = _assemble(report, plan, ranked, skipped, contents, fmt)
        report.total_tokens = contents.counter.count(text)
        if report.total_tokens <= report.budget:
            return text
        tier = plan.outline or plan.full
        if not tier:
            raise PackError(f"budget {report.budget} is too small even for the pack header ({report.total_tokens} tokens)")
        tier.pop()


def _preload(counter: TokenCounter) -> None:
    try:
        counter.check()
    except EncodingUnavailable:
        pass  # said once, as a one-line error, when the main thread first counts


def _result_key(root: Path, fingerprint: str, git: GitInfo | None, options: PackOptions, split: bool) -> str:
    # the fingerprint stands for every listed file's name and content (files.Survey)
    data = [CONTENTS_VERSION, str(root), fingerprint, asdict(options), split, git.commit if git else None]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def _ranked(scan: ScanResult, git: GitInfo | None, query: str | None, cache: PackCache) -> tuple[list[FileRecord], list[RankedFile]]:
    from kimicode.repo.graph import ImportGraph, import_graph

    paths = [r.path for r in scan.records]
    graph = import_graph(scan.records, ImportGraph.from_bytes(cache.get_state(GRAPH_STATE)))
    if graph.resolved:
        cache.put_state(GRAPH_STATE, graph.to_bytes())
    imports = graph.targets
    defines = {r.path: r.defines for r in scan.records}
    ranked = rank_files(paths, defines, imports, git.recent if git else {}, query)
    by_path = {r.path: r for r in scan.records}
    return [by_path[r.path] for r in ranked], ranked


def _min_header_tokens(report: PackReport, skipped: Sequence[Skipped], n: int, contents: Contents, fmt: str) -> int:
    # the widest header these files could produce: every count at its largest
    worst = _header(report, skipped, (n, n, n), (n * 9, n), part=(n, n))
    return contents.counter.count(render_header(worst, fmt) + render_footer(fmt))


def _split(report: PackReport, ordered: Sequence[FileRecord], skipped: Sequence[Skipped], contents: Contents, fmt: str) -> list[str]:
    """Several packs, each within the budget, on file boundaries in path order (so folders stay together)."""
    room = report.budget - _min_header_tokens(report, skipped, len(ordered), contents, fmt)
    groups: list[list[tuple[FileRecord, str]]] = [[]]
    used = 0
    for record in ordered:
        mode = "full" if contents.block_tokens(record, "full") <= room else "outline"
        tokens = contents.block_tokens(record, mode)
        if tokens > room:
            report.skipped.append((record.path, "too large for one part"))
            continue
        if used + tokens > room and groups[-1]:
            groups.append([])
            used = 0
        groups[-1].append((record, mode))
        used += tokens
    parts = []
    for n, group in enumerate(groups, start=1):
        found = [(r.path, f) for r, mode in group for f in contents.findings.get((r.path, mode), ())]
        counts = (sum(m == "full" for _, m in group), sum(m == "outline" for _, m in group), 0)
        header = _header(report, skipped, counts, (len(found), len({p for p, _ in found})), part=(n, len(groups)))
        parts.append(render_header(header, fmt) + "".join(contents.block(r, m) for r, m in group) + render_footer(fmt))
        report.redactions += [(p, f.line, f.kind) for p, f in found]
        report.full += [(r.path, contents.block_tokens(r, m)) for r, m in group if m == "full"]
        report.outline += [(r.path, contents.block_tokens(r, m)) for r, m in group if m == "outline"]
    report.parts = len(parts)
    report.total_tokens = max(contents.counter.count(p) for p in parts)
    return parts


def pack_repository(root: Path, options: PackOptions, cache_dir: Path | None, split: bool = False, progress: Progress | None = None) -> PackResult:
    tick = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 4)
        tick = now

    try:
        private = cache_path(cache_dir, Path(root).resolve()).with_suffix(".index") if cache_dir else None
        found = survey(root, options.include, options.exclude, options.max_file_bytes, private)
    except ListingError as exc:
        raise PackError(str(exc)) from None
    head = read_head(found.git_root) if found.git_root else None
    lap("list")
    counter = TokenCounter(options.encoding, options.calibration)
    cache = PackCache(cache_path(cache_dir, found.root) if cache_dir else None)
    try:
        # HEAD and the listing's fingerprint determine everything else git could tell us
        key = _result_key(found.root, found.fingerprint, head, options, split)
        cached = cache.get_result(key)
        if cached is not None:
            data = json.loads(cached)
            report = PackReport(**data["report"])
            report.from_cache = True
            lap("cache")
            report.timings = timings
            return PackResult(tuple(data["parts"]), report)
        previous = ListingMemo.from_bytes(cache.get_state(LISTING_STATE))
        listing = found.listing(previous)
        if listing.memo is not None and (previous is None or previous.fingerprint != listing.fingerprint):
            cache.put_state(LISTING_STATE, listing.memo.to_bytes())
        git = read_git_info(listing.git_root, listing.root, listing.changed) if listing.git_root else None
        lap("listing")
        report = PackReport(listing.root.name, git.describe() if git else "not a git repository", options.budget, counter.describe(), options.query)
        if progress:
            progress("scanning", 0, len(listing.files))
        # the tokenizer takes ~0.25 s to load; the main thread idles while workers scan, so load it then
        loading = threading.Thread(target=_preload, args=(counter,), daemon=True)
        loading.start()
        scan = scan_files(listing.root, listing.files, cache)
        report.files_reused, report.files_scanned = scan.reused, scan.scanned
        skipped = list(listing.skipped) + list(scan.skipped)
        report.skipped = [(s.path, s.reason) for s in skipped]
        lap("scan")
        if not scan.records:
            raise PackError(f"nothing to pack in {listing.root}: no text files" + (f" ({len(skipped)} skipped)" if skipped else ""))
        if progress:
            progress("ranking", 0, len(scan.records))
        records, ranked = _ranked(scan, git, options.query, cache)
        report.top = [(r.path, round(r.score, 4), list(r.reasons)) for r in ranked[:15]]
        lap("rank")
        loading.join()
        contents = Contents(listing.root, cache, counter, options.fmt)
        if progress:
            progress("packing", 0, len(records))
        if split:
            parts = _split(report, sorted(records, key=lambda r: r.path), skipped, contents, options.fmt)
        else:
            available = options.budget - _min_header_tokens(report, skipped, len(records), contents, options.fmt)
            if available <= 0:
                raise PackError(
                    f"budget {options.budget} is smaller than the pack header alone; use --budget {options.budget - available + 1000} or more"
                )
            plan = _plan(records, contents, available)
            parts = [_fit(report, plan, records, skipped, contents, options.fmt)]
        contents.flush()
        lap("pack")
        report.timings = timings
        cache.put_result(key, json.dumps({"parts": parts, "report": asdict(report)}))
        if cache.warning:
            report.warnings.append(cache.warning)
        return PackResult(tuple(parts), report)
    finally:
        cache.close()
