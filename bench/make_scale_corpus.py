"""Build the monorepo-scale corpus: N copies of the 10k-file corpus in one git repository.

    python3 bench/make_scale_corpus.py [--source DIR] [--copies 10] [--dest DIR] [--distinct]

The source is the corpus of ../shared/checks/make-corpus.sh (this interpreter's standard library
plus /usr/include: about 10,400 files, 233 MB); it is built first when missing. Ten copies make
about 104,000 files and 2.3 GB, committed once. Prints the destination; reuses it when it exists.

Identical copies share their content, so anything cached by content digest is made once for all
ten. --distinct appends one line naming the copy to every text file of copies 1..N-1, so no two
copies share a text file (binary files stay identical): the harder, more honest variant.

Standard library, git and tar only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

MAKE_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "checks" / "make-corpus.sh"
DEFAULT_SOURCE = Path("/tmp/kimicode-corpus/stdinc")
SNIFF = 8192  # as kimicode's own binary check: a NUL in the first 8 KB means binary


def tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def copy_tree(source: Path, dest: Path) -> None:
    """The source's tracked files as they are committed (git archive keeps modes and symlinks)."""
    dest.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(source), "archive", "HEAD"], stdout=subprocess.PIPE)
    subprocess.run(["tar", "xf", "-", "-C", str(dest)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait():
        raise SystemExit(f"git archive failed in {source}")


def make_distinct(root: Path, label: str) -> int:
    """Append a line to every regular text file under ``root``; returns how many changed."""
    changed = 0
    line = f"\n/* {label} */\n".encode()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as fh:
                head = fh.read(SNIFF)
            if b"\0" in head:
                continue
            with open(path, "ab") as fh:
                fh.write(line)
            changed += 1
    return changed


def git(dest: Path, *args: str) -> None:
    # loose objects compressed fast: the corpus is built once, and 2.3 GB at level 6 takes minutes
    subprocess.run(["git", "-c", "core.looseCompression=1", "-c", "user.email=corpus@example.invalid",
                    "-c", "user.name=corpus", *args], cwd=dest, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help=f"the 10k corpus [{DEFAULT_SOURCE}; built by make-corpus.sh when missing]")
    parser.add_argument("--copies", type=int, default=10, help="how many copies [10]")
    parser.add_argument("--dest", type=Path, help="where [/tmp/kimicode-corpus/stdinc-xN, -distinct-xN with --distinct]")
    parser.add_argument("--distinct", action="store_true", help="make every copy's text files differ")
    args = parser.parse_args(argv)
    if args.copies < 1:
        parser.error("--copies must be at least 1")
    dest = args.dest or Path(f"/tmp/kimicode-corpus/stdinc-{'distinct-' if args.distinct else ''}x{args.copies}")
    if (dest / ".git").exists():
        print(dest)
        return 0
    if not (args.source / ".git").exists():
        if args.source != DEFAULT_SOURCE:
            parser.error(f"{args.source} is not a git repository")
        subprocess.run(["bash", str(MAKE_CORPUS), str(args.source)], check=True, stdout=subprocess.DEVNULL)
    need = tree_bytes(args.source) * args.copies * 1.3  # files, plus objects and index
    free = shutil.disk_usage(dest.parent if dest.parent.exists() else Path("/tmp")).free
    if need > free:
        print(f"error: {dest.parent} has {free / 1e9:.1f} GB free; this corpus needs about {need / 1e9:.1f} GB",
              file=sys.stderr)
        return 1
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    for i in range(args.copies):
        print(f"... copy {i + 1}/{args.copies}", file=sys.stderr, flush=True)
        copy_tree(args.source, work / f"copy{i:02d}")
        if args.distinct and i:
            make_distinct(work / f"copy{i:02d}", f"copy {i}")
    print("... git add and commit", file=sys.stderr, flush=True)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-qm", f"{args.copies} copies of {args.source.name}")
    work.rename(dest)  # only a finished corpus is reused
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
