"""Do kimicode's slices show the lines a real fix changed?

    .venv/bin/python bench/slice_coverage.py [--repos sympy/sympy,...] [--limit N] [--work DIR]

For each issue of bench/localize.py's set whose repository is here with its history, the lines
of the gold file that the real fix changed are read from git (the pull request's merge commit,
``Merge pull request #N``, against the base commit; or the squashed commit naming ``(#N)``). At the
base commit, kimicode makes the slice of the gold file for the issue text exactly as a pack would
(the question's words weighted by their rarity in the repository, its identifiers, the lines of
traceback frames in that file) and the script prints how often the slice shows all, some or none
of the changed lines, and the slice's size against the whole file's. plan.VALUE[SLICE] rests on it.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localize import Issue, add_source_options, bare_dir, checkout, select  # noqa: E402

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", re.MULTILINE)


def fix_commit(bare: str, issue: Issue) -> str | None:
    """The commit that fixed ``issue``: the data's, else the pull request's head or a commit naming #N."""
    if issue.fix_commit:
        return issue.fix_commit
    number = issue.instance_id.rsplit("-", 1)[1]
    log = subprocess.run(["git", "--git-dir", bare, "log", "--all", "-E", "--format=%H %P", "--grep", rf"#{number}\b"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    fix = None
    for line in filter(None, log):
        commit, *parents = line.split()
        fix = parents[1] if len(parents) == 2 else commit  # a merge: the pull request's head
        if len(parents) == 2:
            break
    return fix


def fix_lines(mirror: Path, issue: Issue, path: str) -> list[int]:
    """Lines of ``path`` at the base commit that the issue's fix changed (an insertion: the lines around it)."""
    bare = str(bare_dir(mirror, issue.repo))
    fix = fix_commit(bare, issue)
    if fix is None:
        return []
    diff = subprocess.run(["git", "--git-dir", bare, "diff", "-U0", issue.base_commit, fix, "--", path],
                          capture_output=True, text=True, check=True).stdout
    lines: list[int] = []
    for m in _HUNK.finditer(diff):
        start, count = int(m.group(1)), int(m.group(2)) if m.group(2) is not None else 1
        lines += list(range(start, start + count)) if count else [start, start + 1]
    return lines


def gold_slice(root: Path, issue: Issue, path: str, cache_dir: Path) -> tuple[set[int] | None, int, int]:
    """(the lines the slice of ``path`` shows, or None if kimicode makes none; its tokens; the file's)."""
    from kimicode.repo.cache import PackCache, cache_path
    from kimicode.repo.contents import Contents
    from kimicode.repo.files import list_files
    from kimicode.repo.lexical import load_index
    from kimicode.repo.query import parse_question
    from kimicode.repo.scan import scan_files
    from kimicode.repo.signals import mention_signals
    from kimicode.repo.slices import Slicer, focus_for
    from kimicode.repo.terms import term_hash
    from kimicode.tokens import TokenCounter

    listing = list_files(root)
    cache = PackCache(cache_path(cache_dir, listing.root))
    try:
        records = sorted(scan_files(listing.root, listing.files, cache).records, key=lambda r: r.path)
        order = [r.path for r in records]
        lexical = load_index(listing.root, records, cache)
        question = parse_question(issue.problem_statement)
        matches = lexical.match({term_hash(w): 1.0 for w in question.terms})
        by_hash = {term_hash(w): w for w in question.terms}
        idf = {by_hash[int(k)]: float(v) for k, v in zip(matches.keys, lexical.idf(matches.df))}
        row = order.index(path)
        frames = mention_signals(question, order, {p: i for i, p in enumerate(order)})[2].get(row, [])
        focus = focus_for(question, idf, [f.line for f in frames if f.line])
        contents = Contents(listing.root, cache, TokenCounter(), "xml")
        slicer = Slicer(contents, {path: focus})
        piece = slicer.get(records[row])
        whole = contents.block_tokens(records[row], "full")
        if piece is None:
            return None, 0, whole
        return {n for a, b in piece.shown for n in range(a, b + 1)}, slicer.tokens(records[row]) or 0, whole
    finally:
        cache.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    parser.add_argument("--json", type=Path, help="write each issue's figures to this file")
    args = parser.parse_args(argv)
    _, exact, _ = select(args)
    rows = []
    for n, issue in enumerate(exact, start=1):
        print(f"... [{n}/{len(exact)}] {issue.instance_id}", file=sys.stderr, flush=True)
        path = issue.gold_files[0]
        changed = fix_lines(args.mirror, issue, path)
        if not changed:
            continue
        shown, tokens, whole = gold_slice(checkout(args.work, args.mirror, issue), issue, path, args.work / "kimicode-cache")
        share = None if shown is None else sum(line in shown for line in changed) / len(changed)
        rows.append({"instance_id": issue.instance_id, "path": path, "changed": len(changed), "shown": share,
                     "slice_tokens": tokens, "file_tokens": whole})
    sliced = [r for r in rows if r["shown"] is not None]
    big = [r for r in sliced if r["file_tokens"] >= 8_000]
    print(f"{len(rows)} issues with their fix in the history; a slice of the gold file made for {len(sliced)}")
    for label, group in (("all", sliced), ("files of 8K tokens or more", big)):
        if group:
            print(f"  {label} ({len(group)}): every changed line shown {sum(r['shown'] == 1 for r in group) / len(group):.2f}, "
                  f"some {sum(r['shown'] > 0 for r in group) / len(group):.2f}, "
                  f"mean share {statistics.mean(r['shown'] for r in group):.2f}; "
                  f"slice / whole file {statistics.mean(r['slice_tokens'] / r['file_tokens'] for r in group):.2f} of the tokens")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
