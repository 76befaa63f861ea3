"""CPU of each step of the scan, in one process, over a corpus: where a cold pack's scan goes.

    PYTHONPATH=<checkout> .venv/bin/python bench/scan_steps.py [--corpus DIR]

Runs the scan's steps one file at a time (no workers), timing each with the process's CPU clock:
reading, the binary/generated checks, decoding, the definitions regex by language, the digest and
the lexical index's words (capped as the scan caps them). Also counts the files whose content
another listed file already has (one git blob id, one language): the scan reads those once.
Run it with two checkouts on PYTHONPATH to compare them; figures are seconds of CPU.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from pathlib import Path

from kimicode.repo import files, scan, symbols, terms
from kimicode.repo.cache import digest_bytes
from kimicode.repo.languages import language_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/kimicode-corpus/stdinc"))
    args = parser.parse_args()
    listed = files.list_files(args.corpus).files
    cap = scan.index_cap([f.size for f in listed])
    read = getattr(scan, "_read", None)  # checkouts before it read with open().read()
    spent: defaultdict[str, float] = defaultdict(float)
    volume: Counter[str] = Counter()
    clock = time.process_time
    for entry in listed:
        path = str(args.corpus / entry.path)
        t0 = clock()
        if read is not None:
            data = read(path, entry.size)
        else:
            with open(path, "rb") as fh:
                data = fh.read()
        t1 = clock()
        skip = files.content_reason(data)
        t2 = clock()
        spent["read"] += t1 - t0
        spent["checks"] += t2 - t1
        if skip:
            continue
        text, _ = scan.decode(data)
        t3 = clock()
        language = language_for(entry.path) or "none"
        found = symbols.scan(language, text)
        t4 = clock()
        digest_bytes(data)
        t5 = clock()
        terms.file_terms(data if cap is None else data[:cap], found.defines)
        t6 = clock()
        spent["decode"] += t3 - t2
        spent[f"definitions regex: {language}"] += t4 - t3
        volume[f"definitions regex: {language}"] += len(data)
        spent["digest"] += t5 - t4
        spent["lexical words"] += t6 - t5
    keys = Counter((f.oid, language_for(f.path)) for f in listed if f.oid)
    copies = sum(n - 1 for n in keys.values())
    print(f"{args.corpus}: {len(listed):,} files, words capped at {cap} bytes a file" if cap else f"{args.corpus}: {len(listed):,} files")
    for step, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        mb = f"  ({volume[step] / 1e6:.1f} MB)" if step in volume else ""
        print(f"{step:32s} {seconds:6.2f} s{mb}")
    print(f"{'total':32s} {sum(spent.values()):6.2f} s")
    print(f"copies of a content listed before them (same blob, same language): {copies:,}")


if __name__ == "__main__":
    main()
