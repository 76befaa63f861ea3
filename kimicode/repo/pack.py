"""Fit a ranked repository into a token budget: full text, then outlines, then a tree.

The budget is never exceeded: every piece is counted exactly, once per content, and the
final check sums the pieces (the whole text's exact count: see ``_fit``) and drops the
least relevant piece until it fits. The result stays typed (a header,
blocks, a tree): whoever sends it renders it, and may first change it block by block.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from kimicode.config import PackSettings
from kimicode.prompt import Block
from kimicode.repo.cache import FileRecord, PackCache, cache_path
from kimicode.repo.contents import VERSION as CONTENTS_VERSION
from kimicode.repo.contents import Contents
from kimicode.repo.files import ListingError, ListingMemo, RepoFile, Skipped, survey
from kimicode.repo.gitinfo import GitInfo, read_git_info, read_head
from kimicode.repo.graph import ImportEdges
from kimicode.repo.plan import FULL, OUTLINE, SLICE, Choice, plan_for_question, plan_tiers
from kimicode.repo.rank import RELEVANCE_VERSION, RankedFile, rank_files
from kimicode.repo.render import Header, render_footer, render_header, render_pack, render_tree_block
from kimicode.repo.scan import ScanResult, scan_files
from kimicode.repo.slices import Slicer
from kimicode.repo.tree import TreeMemo, render_tree
from kimicode.secrets import Finding
from kimicode.tokens import DEFAULT_ENCODING, EncodingUnavailable, TokenCounter

RESULT_VERSION = 4  # of the cached whole-pack result: 2 keeps packs typed, 3 has slices, 4 plans independent of the cache
RANKING_KEPT = 200  # paths of the ranking kept in the report (bench/localize.py reads ranks from it)
EXPLAINED = 12  # files beyond those sent whose signals --explain shows
LISTING_STATE = "listing"  # the cache's state entries: the last listing, the last import graph
GRAPH_STATE = "imports"
TREE_STATE = "tree"  # the last tree of the files left out, as tree.TreeMemo
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
    full_files: bool = True  # False: outlines and the tree only (lean mode: the model reads files through tools)

    @classmethod
    def from_settings(cls, pack: PackSettings, counter: TokenCounter) -> PackOptions:
        """The options ``[pack]`` sets, counted as ``counter`` counts (its encoding and calibration)."""
        return cls(budget=pack.budget, fmt=pack.format, include=pack.include, exclude=pack.exclude,
                   max_file_bytes=pack.max_file_bytes, encoding=counter.encoding, calibration=counter.calibration)


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
    slices: list[tuple[str, int]] = field(default_factory=list)
    tree_files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    redactions: list[tuple[str, int, str]] = field(default_factory=list)  # (path, line, kind)
    top: list[tuple[str, float, list[str]]] = field(default_factory=list)  # ranked head with reasons
    ranking: list[str] = field(default_factory=list)  # the first RANKING_KEPT paths in rank order
    # per file sent or ranked near the top: (path, rank, probability, reasons, [(signal, contribution)])
    explain: list[tuple[str, int, float, list[str], list[tuple[str, float]]]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    files_reused: int = 0
    files_scanned: int = 0
    from_cache: bool = False
    parts: int = 1
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pack:
    """One pack before it is text: rendered as a whole by ``render``, the last step."""

    header: Header
    blocks: tuple[Block, ...]  # files in full, then outlines, best first
    tree: str  # the folded tree of the files left out ("" when none)
    fmt: str

    def render(self) -> str:
        return render_pack(self.header, self.blocks, self.tree, self.fmt)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pack:
        header = dict(data["header"])
        header["skipped"] = [tuple(x) for x in header["skipped"]]
        header["part"] = tuple(header["part"]) if header.get("part") else None
        return cls(Header(**header), tuple(Block(**b) for b in data["blocks"]), data["tree"], data["fmt"])


@dataclass(frozen=True)
class PackResult:
    packs: tuple[Pack, ...]  # one, or several with --split
    report: PackReport

    @property
    def pack(self) -> Pack:
        return self.packs[0]

    @property
    def text(self) -> str:
        return self.packs[0].render()

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p.render() for p in self.packs)


@dataclass
class _Plan:
    """What goes into the pack, best first within each mode; full, then slices, then outlines."""

    choices: list[Choice] = field(default_factory=list)

    def of(self, mode: str) -> list[Choice]:
        return [c for c in self.choices if c.mode == mode]

    def used(self) -> int:
        return sum(c.tokens for c in self.choices)

    def paths(self) -> set[str]:
        return {c.record.path for c in self.choices}

    def drop_least(self) -> bool:
        """Take out the least valuable piece (the last outline, else slice, else full file)."""
        for mode in (OUTLINE, SLICE, FULL):
            tier = self.of(mode)
            if tier:
                self.choices.remove(tier[-1])
                return True
        return False


@dataclass
class _Blocks:
    """Every way of sending a file: full text and outline (contents.py), slices (slices.py)."""

    contents: Contents
    slicer: Slicer | None

    @property
    def counter(self) -> TokenCounter:
        return self.contents.counter

    def tokens(self, record: FileRecord, mode: str) -> int | None:
        if mode == SLICE:
            return self.slicer.tokens(record) if self.slicer else None
        return self.contents.block_tokens(record, mode)

    def raw(self, record: FileRecord, mode: str) -> int:
        """A planned block's tokens before calibration (counted already: cached)."""
        if mode == SLICE:
            assert self.slicer is not None, "slices are planned only with a slicer"
            raw = self.slicer.raw(record)
            assert raw is not None, "only a slice that exists is planned"
            return raw
        return self.contents.block_raw(record, mode)

    def typed(self, choice: Choice, why: str) -> Block:
        record, mode = choice.record, choice.mode
        if mode == SLICE:
            assert self.slicer is not None, "slices are planned only with a slicer"
            text, shown = self.slicer.text(record)
            return Block(record.path, mode, text, choice.tokens, why, shown)
        return Block(record.path, mode, self.contents.text(record, mode), choice.tokens, why)

    def findings(self, record: FileRecord, mode: str) -> tuple[Finding, ...]:
        if mode == SLICE:
            return self.slicer.findings(record) if self.slicer else ()
        return self.contents.findings.get((record.path, mode), ())

    def prefetch(self, wanted: Sequence[tuple[FileRecord, str]]) -> None:
        """Make these texts now: full text and outlines on every core, slices here (each cut from
        its file's full text along its definitions, which are found with the rest)."""
        texts = [(r, made) for r, mode in wanted for made in ((FULL, "spans") if mode == SLICE else (mode,))]
        self.contents.prefetch(list(dict.fromkeys(texts)))
        for record, mode in wanted:
            if mode == SLICE and self.slicer is not None:
                self.slicer.get(record)


class _Trees:
    """The tree of the files left out, by the set of them: the last one's memo is kept in the cache,
    so a pack after an edit that leaves out the same files neither builds nor counts it again."""

    def __init__(self, cache: PackCache, counter: TokenCounter) -> None:
        self._cache = cache
        self._salt = f"{counter.encoding}\0{counter.calibration!r}\0"
        self._memos: dict[str, TreeMemo] = {}
        self._stored: tuple[str, int] | None = None
        self._last: str | None = None
        try:
            key, lengths, counted, folders = marshal.loads(cache.get_state(TREE_STATE))  # type: ignore[arg-type]
            self._memos[key] = TreeMemo(list(lengths), dict(counted), folders)
            self._stored = (key, len(counted))
        except (TypeError, ValueError, EOFError):
            pass  # none yet, or damaged: made afresh

    def render(self, paths: Sequence[str], budget: int, count: Callable[[str], int]) -> str:
        joined = self._salt + "\0".join(sorted(paths))
        self._last = hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        return render_tree(paths, budget, count, self._memos.setdefault(self._last, TreeMemo()))

    def keep(self) -> None:
        """Store the memo of the tree rendered last, unless it is stored as it is."""
        if self._last is None or self._stored == (self._last, len(self._memos[self._last].counted)):
            return
        memo = self._memos[self._last]
        self._cache.put_state(TREE_STATE, marshal.dumps((self._last, memo.lengths, memo.counted, memo.folders)))


def _header(report: PackReport, skipped: Sequence[Skipped], counts: tuple[int, int, int], secrets: tuple[int, int],
            part: tuple[int, int] | None = None, slices: int = 0) -> Header:
    reasons = Counter(s.reason.split(":")[0] for s in skipped).most_common()
    return Header(report.name, report.commit, report.budget, report.encoding, report.query, *counts, reasons, *secrets,
                  part=part, slices=slices)


def _assemble(report: PackReport, plan: _Plan, ranked: Sequence[FileRecord], skipped: Sequence[Skipped], blocks: _Blocks,
              fmt: str, why: Mapping[str, str], trees: _Trees) -> tuple[Pack, int]:
    """The pack of ``plan`` and its exact token count (see ``_fit``)."""
    counter = blocks.counter
    ordered = plan.of(FULL) + plan.of(SLICE) + plan.of(OUTLINE)
    made = tuple(blocks.typed(c, why.get(c.record.path, "")) for c in ordered)
    found = [(c.record.path, f) for c in ordered for f in blocks.findings(c.record, c.mode)]
    taken = plan.paths()
    rest = [r.path for r in ranked if r.path not in taken]
    counts = (len(plan.of(FULL)), len(plan.of(OUTLINE)), len(rest))
    header = _header(report, skipped, counts, (len(found), len({p for p, _ in found})), slices=len(plan.of(SLICE)))
    header_tokens = counter.count(render_header(header, fmt))
    room = report.budget - header_tokens - counter.count(render_footer(fmt)) - plan.used() - counter.count(render_tree_block("x", fmt))
    tree = trees.render(rest, room, counter.count) if room > 0 else ""
    report.full = [(c.record.path, c.tokens) for c in plan.of(FULL)]
    report.slices = [(c.record.path, c.tokens) for c in plan.of(SLICE)]
    report.outline = [(c.record.path, c.tokens) for c in plan.of(OUTLINE)]
    report.tree_files = len(rest) if tree else 0
    report.header_tokens = header_tokens
    report.tree_tokens = counter.count(render_tree_block(tree, fmt)) if tree else 0
    report.redactions = [(path, f.line, f.kind) for path, f in found]
    raw = (counter.raw(render_header(header, fmt)) + sum(blocks.raw(c.record, c.mode) for c in ordered)
           + counter.raw(render_tree_block(tree, fmt)) + counter.raw(render_footer(fmt)))
    return Pack(header, made, tree, fmt), counter.scale(raw)


def _fit(report: PackReport, plan: _Plan, ranked: Sequence[FileRecord], skipped: Sequence[Skipped], blocks: _Blocks,
         fmt: str, why: Mapping[str, str], trees: _Trees) -> Pack:
    """Assemble, then drop the least relevant piece until the exact count is within budget.

    The count of the whole is the sum of its pieces' counts, each counted once per content (a pack
    after one edit counts that file's block, the header and the tree, not 120K tokens again): the
    tokenizer encodes each match of its split pattern on its own, and no match crosses from one
    piece into the next, because every piece ends with ``>`` or a fence and newlines (which end a
    match) and the next begins with ``<`` or ``#`` (tests/unit/test_pack_count.py)."""
    while True:
        pack, report.total_tokens = _assemble(report, plan, ranked, skipped, blocks, fmt, why, trees)
        if report.total_tokens <= report.budget:
            return pack
        if not plan.drop_least():
            raise PackError(f"budget {report.budget} is too small even for the pack header ({report.total_tokens} tokens)")


def _preload(counter: TokenCounter, outlined: Sequence[RepoFile]) -> None:
    """Load what ranking and packing need after the scan: numpy (0.07 s), the tokenizer (0.15 s) and
    the outline queries of the languages of ``outlined`` (0.1 s for C++)."""
    from kimicode.repo.outline import prepare
    from kimicode.repo.parallel import importing

    with importing():  # loading them imports modules: no worker may be forked meanwhile
        import numpy  # noqa: F401

        try:
            counter.check()
        except EncodingUnavailable:
            pass  # said once, as a one-line error, when the main thread first counts
        prepare(f.path for f in outlined)


def _result_key(root: Path, fingerprint: str, git: GitInfo | None, options: PackOptions, split: bool) -> str:
    # the fingerprint stands for every listed file's name and content (files.Survey)
    data = [RESULT_VERSION, CONTENTS_VERSION, RELEVANCE_VERSION, str(root), fingerprint, asdict(options), split,
            git.commit if git else None]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def _imports(records: Sequence[FileRecord], cache: PackCache) -> ImportEdges:
    """The import edges among the files; the last graph (graph.py) is reused where it holds."""
    from kimicode.repo import symbols
    from kimicode.repo.graph import import_graph

    # the resolution rules are part of the state's name: a graph made by other rules is not reused
    name = GRAPH_STATE + ":" + hashlib.sha256(Path(symbols.__file__).read_bytes()).hexdigest()[:16]
    graph = import_graph(records, cache.get_state(name))
    if not graph.stored:
        cache.put_state(name, graph.to_bytes())
    return graph.edges()


def _ranked(root: Path, scan: ScanResult, git: GitInfo | None, query: str | None, cache: PackCache) -> tuple[list[FileRecord], list[RankedFile]]:
    paths = [r.path for r in scan.records]
    imports = _imports(scan.records, cache)
    defines = cache.defines()  # read only where a signal asks: 90 MB of text at 100k files
    lexical = None
    if query:
        from kimicode.repo.lexical import load_index

        lexical = load_index(root, sorted(scan.records, key=lambda r: r.path), cache)
    lines = {r.path: r.lines for r in scan.records} if query else {}  # a signal of the question's
    ranked = rank_files(paths, defines, imports, git.recent if git else {}, query, lexical, lines)
    by_path = {r.path: r for r in scan.records}
    return [by_path[r.path] for r in ranked], ranked


def _slicer(contents: Contents, query: str | None, ranked: Sequence[RankedFile]) -> Slicer | None:
    """Slices for the likeliest files, looking for what the question names (None without a question)."""
    if not query:
        return None
    from kimicode.repo.plan import CANDIDATES

    return Slicer(contents, {r.path: r.focus for r in ranked[:CANDIDATES] if r.focus is not None})


def _explain(ranked: Sequence[RankedFile], sent: set[str]) -> list[tuple[str, int, float, list[str], list[tuple[str, float]]]]:
    """Why each sent file (and the next best unsent ones) was placed where it was."""
    out = []
    unsent = 0
    for rank, r in enumerate(ranked, start=1):
        if r.path not in sent:
            if unsent >= EXPLAINED:
                continue
            unsent += 1
        out.append((r.path, rank, round(r.probability, 5), list(r.reasons), [(name, value) for name, value in r.signals]))
    return out


def _min_header_tokens(report: PackReport, skipped: Sequence[Skipped], n: int, contents: Contents, fmt: str) -> int:
    # the widest header these files could produce: every count at its largest
    worst = _header(report, skipped, (n, n, n), (n * 9, n), part=(n, n), slices=n)
    return contents.counter.count(render_header(worst, fmt) + render_footer(fmt))


def _split(report: PackReport, ordered: Sequence[FileRecord], skipped: Sequence[Skipped], contents: Contents, fmt: str,
           why: Mapping[str, str]) -> list[Pack]:
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
        blocks = tuple(Block(r.path, m, contents.text(r, m), contents.block_tokens(r, m), why.get(r.path, "")) for r, m in group)
        found = [(b.path, f) for b in blocks for f in contents.findings.get((b.path, b.mode), ())]
        counts = (sum(m == "full" for _, m in group), sum(m == "outline" for _, m in group), 0)
        header = _header(report, skipped, counts, (len(found), len({p for p, _ in found})), part=(n, len(groups)))
        parts.append(Pack(header, blocks, "", fmt))
        report.redactions += [(p, f.line, f.kind) for p, f in found]
        report.full += [(r.path, contents.block_tokens(r, m)) for r, m in group if m == "full"]
        report.outline += [(r.path, contents.block_tokens(r, m)) for r, m in group if m == "outline"]
    report.parts = len(parts)
    report.total_tokens = max(contents.counter.count(p.render()) for p in parts)
    return parts


_PACKING = threading.Lock()  # one pack at a time in a process (the TUI also packs in the background)


def pack_repository(root: Path, options: PackOptions, cache_dir: Path | None, split: bool = False, progress: Progress | None = None) -> PackResult:
    # two packs at once would fork workers while the other imports modules (see parallel.py)
    with _PACKING:
        return _pack(root, options, cache_dir, split, progress)


def _pack(root: Path, options: PackOptions, cache_dir: Path | None, split: bool, progress: Progress | None) -> PackResult:
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
            return PackResult(tuple(Pack.from_dict(p) for p in data["packs"]), report)
        previous = ListingMemo.from_bytes(cache.get_state(LISTING_STATE))
        listing = found.listing(previous)
        del found  # its dump of git's index (10 MB at 100k files) would be held through the scan and ranking
        if listing.memo is not None and (previous is None or previous.fingerprint != listing.fingerprint):
            cache.put_state(LISTING_STATE, listing.memo.to_bytes())
        git = read_git_info(listing.git_root, listing.root, listing.changed) if listing.git_root else None
        lap("listing")
        report = PackReport(listing.root.name, git.describe() if git else "not a git repository", options.budget, counter.describe(), options.query)
        if progress:
            progress("scanning", 0, len(listing.files))
        # the main thread idles while workers scan: what comes after is loaded then; the queries only
        # for a first pack of the folder, whose every outline is made (after an edit, a few at most)
        loading = threading.Thread(target=_preload, args=(counter, listing.files if previous is None else ()), daemon=True)
        # started once the scan's workers are forked: while it loads, it holds off any fork (parallel.py)
        scan = scan_files(listing.root, listing.files, cache, started=loading.start)
        report.files_reused, report.files_scanned = scan.reused, scan.scanned
        skipped = list(listing.skipped) + list(scan.skipped)
        report.skipped = [(s.path, s.reason) for s in skipped]
        lap("scan")
        if not scan.records:
            raise PackError(f"nothing to pack in {listing.root}: no text files" + (f" ({len(skipped)} skipped)" if skipped else ""))
        if progress:
            progress("ranking", 0, len(scan.records))
        records, ranked = _ranked(listing.root, scan, git, options.query, cache)
        report.top = [(r.path, round(r.score, 4), list(r.reasons)) for r in ranked[:15]]
        why = {r.path: "; ".join(r.reasons) for r in ranked if r.reasons}  # most files have none: read with .get
        report.ranking = [r.path for r in ranked[:RANKING_KEPT]]
        lap("rank")
        loading.join()
        contents = Contents(listing.root, cache, counter, options.fmt)
        if progress:
            progress("packing", 0, len(records))
        if split:
            packs = _split(report, sorted(records, key=lambda r: r.path), skipped, contents, options.fmt, why)
        else:
            available = options.budget - _min_header_tokens(report, skipped, len(records), contents, options.fmt)
            if available <= 0:
                raise PackError(
                    f"budget {options.budget} is smaller than the pack header alone; use --budget {options.budget - available + 1000} or more"
                )
            blocks = _Blocks(contents, _slicer(contents, options.query, ranked))
            if not options.full_files:
                choices = plan_tiers(records, blocks, available, full=False)  # lean: best outlines first, then the tree
            elif options.query:
                choices = plan_for_question([(r, q.probability) for r, q in zip(records, ranked)], blocks, available)
            else:
                choices = plan_tiers(records, blocks, available)
            plan = _Plan(choices)
            trees = _Trees(cache, counter)
            packs = [_fit(report, plan, records, skipped, blocks, options.fmt, why, trees)]
            trees.keep()
            report.explain = _explain(ranked, plan.paths())
        contents.flush()
        lap("pack")
        report.timings = timings
        cache.put_result(key, json.dumps({"packs": [p.to_dict() for p in packs], "report": asdict(report)}))
        if cache.warning:
            report.warnings.append(cache.warning)
        return PackResult(tuple(packs), report)
    finally:
        cache.close()
