"""Is a pack the same text whatever kimicode's per-file cache holds?

For the dev issues of bench/localize.py (same checkouts, same options to pick them), each issue
is packed with its text as the question twice per budget: once with an empty cache, and once with
a cache shared by all the issues before it, as on a machine where other questions were asked
(whole-pack results are cleared first, so the pack is planned again). The two texts should be
identical. Each ``--code`` checkout runs in its own process (PYTHONPATH), one after the other in
the same sitting, so a fix and its baseline are printed side by side:

    .venv/bin/python bench/pack_repeat.py --limit 10 --code /work/main --code /work/branch
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from localize import _clear_pack_results, add_source_options, select, source  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, int]:
    """Pack every selected issue cold and warm with the kimicode importable here; count the same texts."""
    from kimicode.repo.pack import PackOptions, pack_repository

    issues, _, _ = select(args)
    counts = {"packs": 0, "identical": 0}
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        for n, issue in enumerate(issues, start=1):
            print(f"... [{n}/{len(issues)}] {issue.instance_id}", file=sys.stderr, flush=True)
            root = source(args.work, args.mirror, args.sdists, issue)
            for budget in args.budgets:
                options = PackOptions(budget=budget, query=issue.problem_statement)
                with tempfile.TemporaryDirectory(dir=tmp) as cold:
                    first = pack_repository(root, options, Path(cold)).text
                _clear_pack_results(warm)
                again = pack_repository(root, options, warm).text
                counts["packs"] += 1
                counts["identical"] += first == again
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    parser.add_argument("--budgets", default="32000,128000", help="comma list of token budgets [32000,128000]")
    parser.add_argument("--code", type=Path, action="append", default=[],
                        help="a kimicode checkout to measure (repeat for a baseline); default: the one importable")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    if args.worker or not args.code:
        print(json.dumps(run(args)))
        return 0
    given = argv if argv is not None else sys.argv[1:]  # the same options for each worker, which ignores --code
    print(f"{'code':<40} {'packs':>6} {'identical cold and warm':>24}")
    for code in args.code:
        env = {**os.environ, "PYTHONPATH": str(code.resolve())}
        out = subprocess.run([sys.executable, __file__, *given, "--worker"], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        counts = json.loads(out.strip().splitlines()[-1])
        print(f"{str(code):<40} {counts['packs']:>6} {counts['identical']:>24}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
