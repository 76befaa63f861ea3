"""Side-by-side benchmark of `kimicode pack` against repomix and aider's repo map.

    .venv/bin/python bench/pack_bench.py [--corpus DIR] [--budget 128000] [--skip-peers]
                                         [--peers-dir /tmp/bench-peers] [--runs N] [--query TEXT]

Standard library only. See bench/README.md for what each row means and how memory is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Measurement, run_measured  # noqa: E402

DEFAULT_CORPUS = Path("/tmp/kimicode-corpus/stdinc")
MAKE_CORPUS = "bash ../shared/checks/make-corpus.sh"
# seconds at a 128K budget, by corpus size (issue 12): the goals of the largest size class the
# corpus reaches apply
GOALS = [(0, {"cold": 2.5, "warm": 0.5}),          # saleor-size (~5k files)
         (8_000, {"cold": 5.0, "warm": 0.5}),      # the 10k corpus
         (50_000, {"cold": 15.0, "warm": 0.8})]    # the 100k corpus (bench/make_scale_corpus.py)
TOUCH_GOAL_OVER_WARM = 0.3   # one edited file costs at most this over a warm pack
OTHER_QUERY = "and where is it tested"  # appended to --query for the warm pack of a new question
GOAL_PEAK_MB = 300.0
MB = 1_000_000

REPOMIX_VERSION = "1.14.0"
AIDER_VERSION = "0.86.2"


@dataclass
class Row:
    tool: str
    runs: list[Measurement] = field(default_factory=list)
    output_bytes: list[int] = field(default_factory=list)
    tokens: int | None = None
    note: str = ""                # "not installed ..." or a failure
    goal_wall: float | None = None
    flags: set[str] = field(default_factory=set)   # oddities worth a footnote

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(m.ok for m in self.runs)

    @property
    def wall(self) -> float:
        return statistics.median(m.wall_s for m in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(m.peak_bytes for m in self.runs) / MB

    @property
    def rss_sum_mb(self) -> float:
        return max(m.tree_rss_peak_bytes for m in self.runs) / MB

    @property
    def out_kb(self) -> float:
        return statistics.median(self.output_bytes) / 1000 if self.output_bytes else 0.0


# ---------------------------------------------------------------------------------------------
# Machine and corpus


def corpus_stats(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames and Path(dirpath) == root:
            dirnames.remove(".git")
        # os.walk lists a symlink to a directory among dirnames (and does not follow it): git
        # tracks it as a file, so count it as one.
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            files += 1
            size += st.st_size
    return files, size


def warm_page_cache(root: Path) -> None:
    """Read every file once, so that no tool pays for the disk alone.

    Done before every cold run, not once: a kernel may page out file data that has been idle
    for a while (this machine's DAMON reclaim does after about a minute), so a corpus read at
    the start would be partly back on disk by the later runs.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames and Path(dirpath) == root:
            dirnames.remove(".git")
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            try:
                with open(path, "rb") as f:
                    while f.read(1 << 20):
                        pass
            except OSError:
                pass


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_line() -> str:
    usable = usable_cpus()
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    except OSError:
        pass
    return (f"machine: nproc {usable} (cpu_count {os.cpu_count()}){mem}, {platform.machine()}, "
            f"Linux {platform.release()}, Python {platform.python_version()} ({sys.executable})")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The current environment with a throwaway HOME (and XDG dirs), so no tool writes into ours."""
    # PYTHONDONTWRITEBYTECODE (set in some shells and CI) would make every run compile the tool's
    # modules from source, which no installed tool does: the first cold run writes the bytecode instead
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIMICODE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local/share"), XDG_STATE_HOME=str(home / ".local/state"))
    env.update(extra)
    return env


def tool_version(argv: list[str], env: dict[str, str]) -> str:
    import subprocess
    try:
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[-1].strip() if text else "?"


# ---------------------------------------------------------------------------------------------
# The tools


def touched_file(pack: Path) -> str | None:
    """The first file a pack sends in full: editing it changes blocks the pack must recount."""
    with pack.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            found = re.match(r'<file path="([^"]+)" mode="full">', line)
            if found:
                return found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return None


class Edit:
    """One file of the corpus edited (a line appended), and put back exactly as it was (bytes and times)."""

    def __init__(self, path: Path) -> None:
        self.path, self.original, st = path, path.read_bytes(), path.stat()
        self.times = (st.st_atime_ns, st.st_mtime_ns)

    def apply(self, run: int) -> None:
        comment = "#" if self.path.suffix in (".py", ".rb", ".sh", ".toml", ".yaml", ".yml") else "//"
        self.path.write_bytes(self.original + f"\n{comment} edited by pack_bench, run {run}\n".encode())

    def restore(self) -> None:
        self.path.write_bytes(self.original)
        os.utime(self.path, ns=self.times)


class KimicodeBench:
    """Cold, warm and one-file-edited packs with ``exe``, run by run; ``goals`` None for a baseline (no goal column)."""

    def __init__(self, args: argparse.Namespace, tmp: Path, goals: dict[str, float] | None, exe: Path,
                 name: str = "kimicode") -> None:
        self.args, self.tmp, self.goals, self.exe, self.name = args, tmp, goals, exe, name
        self.cold = Row(f"{name} cold", goal_wall=goals["cold"] if goals else None)
        self.warm = Row(f"{name} warm", goal_wall=goals["warm"] if goals else None)
        self.touch = Row(f"{name}, 1 file edited")   # its goal is set from the warm median below
        # with a question, also a warm pack for another one: the per-file cache is reused, the ranking is not
        self.other = Row(f"{name} warm, new query") if args.query else None
        self.rows = [self.cold, self.warm] + ([self.touch] if args.touch else []) + ([self.other] if self.other else [])
        self.edit: Edit | None = None
        self.stopped = not exe.exists()
        if self.stopped:
            for row in self.rows:
                row.note = f"not found: {exe} (pip install -e . in the venv)"

    def run(self, run: int) -> None:
        """One cold pack and the packs that follow it, each into its row (nothing once a cold run failed)."""
        if self.stopped:
            return
        args, tmp, name = self.args, self.tmp, self.name
        home = Path(tempfile.mkdtemp(prefix="kc-home-", dir=tmp))      # empty cache: cold
        env = clean_env(home, KIMICODE_HOME=str(home / "kimicode"),
                        TIKTOKEN_CACHE_DIR=str(Path(tempfile.mkdtemp(prefix="tiktoken-", dir=tmp))))
        kinds = ["cold", "warm"] + (["touch"] if args.touch else []) + (["other"] if self.other else [])
        try:
            for row, kind in zip(self.rows, kinds):
                out = tmp / f"{name}-{kind}-{run}.xml"
                if kind == "cold":
                    before_cold(args)
                if kind == "touch":
                    edited = touched_file(tmp / f"{name}-cold-{run}.xml")
                    if edited is None:
                        row.note = "no file sent in full to edit"
                        break
                    self.edit = self.edit or Edit(args.corpus / edited)
                    self.edit.apply(run)
                argv = [str(self.exe), "pack", str(args.corpus), "--budget", str(args.budget), "--output", str(out)]
                if args.query:
                    argv += ["--query", args.query + (f" ({OTHER_QUERY}, run {run})" if kind == "other" else "")]
                progress(f"{name} {kind} (run {run}/{args.runs})")
                m = run_measured(argv, env=env, cwd=tmp, workdir=tmp / "logs", label=f"{name}-{kind}-{run}",
                                 timeout=args.timeout)
                if kind == "touch" and self.edit is not None:
                    self.edit.restore()
                row.runs.append(m)
                if not m.ok:
                    row.note = failure_note(m)
                    break
                row.output_bytes.append(out.stat().st_size if out.exists() else 0)
                found = re.search(r"\(([\d,]+) tokens\)", m.stderr_path.read_text(errors="replace"))
                if found and kind == "cold":
                    row.tokens = int(found.group(1).replace(",", ""))
        finally:
            if self.edit is not None:
                self.edit.restore()
        if not self.cold.ok:
            self.warm.note = self.warm.note or "skipped: cold run failed"
            self.stopped = True
        elif self.warm.ok:
            same = (tmp / f"{name}-cold-{run}.xml").read_bytes() == (tmp / f"{name}-warm-{run}.xml").read_bytes()
            if not same:
                self.warm.flags.add("output differs from cold")
        shutil.rmtree(home, ignore_errors=True)

    def finish(self) -> list[Row]:
        if self.edit is not None:
            self.touch.flags.add(f"edited: {self.edit.path.relative_to(self.args.corpus)} (a line appended; put back after each run)")
        if self.warm.ok and self.goals:
            self.touch.goal_wall = round(self.warm.wall + TOUCH_GOAL_OVER_WARM, 2)
        return self.rows


def kimicode_rows(args: argparse.Namespace, benches: list[KimicodeBench]) -> list[Row]:
    """Run every bench ``args.runs`` times, taking turns run by run: a machine that speeds up or
    slows down over the minutes the runs take (a shared host does) then weighs on each alike."""
    for run in range(1, args.runs + 1):
        for bench in benches:
            bench.run(run)
    return [row for bench in benches for row in bench.finish()]


def repomix_rows(args: argparse.Namespace, tmp: Path) -> list[Row]:
    exe = args.peers_dir / "repomix" / "node_modules" / ".bin" / "repomix"
    rows = [Row("repomix"), Row("repomix --compress")]
    if not exe.exists():
        hint = f"not installed: npm install --prefix {args.peers_dir / 'repomix'} repomix@{REPOMIX_VERSION}"
        for row in rows:
            row.note = hint
        return rows
    if not args.repomix_compress:
        rows[1].note = "not run (--no-repomix-compress)"
    for row, extra in zip(rows, ([], ["--compress"]) if args.repomix_compress else ([],)):
        for run in range(1, args.runs + 1):
            home = Path(tempfile.mkdtemp(prefix="repomix-home-", dir=tmp))
            work = Path(tempfile.mkdtemp(prefix="repomix-cwd-", dir=tmp))   # no repomix.config.json here
            out = tmp / f"repomix{'-compress' if extra else ''}-{run}.xml"
            argv = [str(exe), str(args.corpus), "--output", str(out), *extra]
            before_cold(args)
            progress(f"{row.tool} (run {run}/{args.runs})")
            m = run_measured(argv, env=clean_env(home), cwd=work, workdir=tmp / "logs",
                             label=f"repomix{'-compress' if extra else ''}-{run}", timeout=args.timeout)
            row.runs.append(m)
            shutil.rmtree(home, ignore_errors=True)
            if not m.ok:
                row.note = failure_note(m)
                break
            row.output_bytes.append(out.stat().st_size if out.exists() else 0)
            found = re.search(r"Total Tokens:\s*([\d,]+)", m.stdout_path.read_text(errors="replace"))
            if found:
                row.tokens = int(found.group(1).replace(",", ""))
            out.unlink(missing_ok=True)   # up to 150 MB each
    return rows


def aider_rows(args: argparse.Namespace, tmp: Path) -> list[Row]:
    exe = args.peers_dir / "aider" / "bin" / "aider"
    rows = [Row("aider map cold"), Row("aider map warm")]
    if not exe.exists():
        hint = (f"not installed: python3 -m venv {args.peers_dir / 'aider'} && "
                f"{args.peers_dir / 'aider' / 'bin' / 'pip'} install aider-chat=={AIDER_VERSION}")
        for row in rows:
            row.note = hint
        return rows
    argv = [str(exe), "--no-check-update", "--analytics-disable", "--no-show-model-warnings",
            "--model", "gpt-4o", "--map-tokens", str(args.aider_map_tokens), "--show-repo-map"]
    for run in range(1, args.runs + 1):
        # aider writes .aider.tags.cache.v4 and history files into the repository, and may touch
        # .gitignore: run it on a throwaway copy (copy time is not measured). Cold = fresh copy,
        # warm = the same copy again (its tags cache is in the copy).
        progress(f"aider: copying the corpus (run {run}/{args.runs})")
        copy = Path(tempfile.mkdtemp(prefix="aider-repo-", dir=tmp)) / "corpus"
        shutil.copytree(args.corpus, copy, symlinks=True)
        home = Path(tempfile.mkdtemp(prefix="aider-home-", dir=tmp))
        env = clean_env(home, LITELLM_LOCAL_MODEL_COST_MAP="True", OPENAI_API_KEY="sk-unused-offline")
        for row, kind in zip(rows, ("cold", "warm")):
            if kind == "cold":
                before_cold(args)
            progress(f"aider map {kind} (run {run}/{args.runs})")
            m = run_measured(argv, env=env, cwd=copy, workdir=tmp / "logs", label=f"aider-{kind}-{run}",
                             timeout=args.timeout)
            row.runs.append(m)
            if not m.ok:
                row.note = failure_note(m)
                break
            row.output_bytes.append(m.stdout_bytes())   # the map is printed on stdout
        shutil.rmtree(copy.parent, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        if not rows[0].ok:
            rows[1].note = rows[1].note or "skipped: cold run failed"
            break
    return rows


def before_cold(args: argparse.Namespace) -> None:
    if not args.no_warm_page_cache:
        progress("reading the corpus (OS page cache)")
        warm_page_cache(args.corpus)


def failure_note(m: Measurement) -> str:
    if m.timed_out:
        return f"timed out after {m.wall_s:.0f} s"
    last = (m.tail("stderr", 1) or m.tail("stdout", 1)).strip()
    return f"failed (exit {m.returncode}): {last[:150]}"


def progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The table


def times(x: float) -> str:
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x" if x >= 1 else f"{x:.2f}x"


def goals_for(files: int) -> dict[str, float]:
    return [goals for least, goals in GOALS if files >= least][-1]


def render(rows: list[Row], budget: int) -> str:
    base = next((r for r in rows if r.tool == "kimicode cold" and r.ok), None)
    header = ["tool", "wall s", "cpu s", "peak MB", "output KB", "tokens", "vs kimicode cold (time / mem)", "goal (at 128K)" if budget == 128000 else f"goal (set for 128K; budget {budget:,})"]
    lines = []
    for r in rows:
        if not r.ok:
            lines.append([r.tool, "-", "-", "-", "-", "-", "-", r.note])
            continue
        ratio = (f"{times(r.wall / base.wall)} / {times(r.peak_mb / base.peak_mb)}"
                 if base and base.wall > 0 and base.peak_mb > 0 else "-")
        goal = ""
        if r.goal_wall is not None:
            misses = [f"wall > {r.goal_wall:g} s"] if r.wall > r.goal_wall else []
            misses += [f"peak > {GOAL_PEAK_MB:g} MB"] if r.peak_mb > GOAL_PEAK_MB else []
            goal = f"<= {r.goal_wall:g} s, <= {GOAL_PEAK_MB:g} MB: " + ("PASS" if not misses else "FAIL (" + ", ".join(misses) + ")")
        wall = f"{r.wall:.2f}" if r.wall < 10 else f"{r.wall:.1f}"
        if len(r.runs) > 1:
            wall += f" ({min(m.wall_s for m in r.runs):.2f}-{max(m.wall_s for m in r.runs):.2f})"
        cpu = statistics.median(m.cpu_s for m in r.runs)
        lines.append([r.tool, wall, f"{cpu:.2f}" if cpu < 10 else f"{cpu:.1f}", f"{r.peak_mb:,.0f}", f"{r.out_kb:,.0f}",
                      f"{r.tokens:,}" if r.tokens is not None else "", ratio, goal])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    notes = [f"{r.tool}: {flag}" for r in rows for flag in sorted(r.flags)]
    for r in rows:
        procs = max((m.max_procs for m in r.runs), default=0)
        if r.ok and procs > 1 and r.rss_sum_mb > 1.1 * r.peak_mb:
            notes.append(f"{r.tool}: up to {procs} processes at once; their summed RSS peaked at "
                         f"{r.rss_sum_mb:,.0f} MB (shared pages counted once per process)")
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, lines),
                      *(f"note: {n}" for n in notes)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help=f"repository to pack [{DEFAULT_CORPUS}, built by {MAKE_CORPUS}]")
    parser.add_argument("--budget", type=int, default=128000, help="kimicode token budget [128000]")
    parser.add_argument("--skip-peers", action="store_true", help="only the kimicode rows")
    parser.add_argument("--peers-dir", type=Path, default=Path("/tmp/bench-peers"),
                        help="where repomix (npm --prefix) and aider (venv) are installed [/tmp/bench-peers]")
    parser.add_argument("--runs", type=int, default=1, help="runs per tool; the table shows the median wall time "
                                                            "and the highest peak [1]")
    parser.add_argument("--baseline", type=Path,
                        help="another kimicode executable (e.g. main's checkout) measured the same way in the same run")
    parser.add_argument("--query", default="", help="pack for this question (kimicode --query); adds a warm row for another one")
    parser.add_argument("--no-touch", dest="touch", action="store_false",
                        help="leave out the row that packs again after editing one file")
    parser.add_argument("--no-repomix-compress", dest="repomix_compress", action="store_false",
                        help="leave out repomix --compress (at 100k files it grows past 6 GB resident)")
    parser.add_argument("--only", default="", help="comma list of kimicode,repomix,aider (default: all)")
    parser.add_argument("--aider-map-tokens", type=int, default=8192,
                        help="aider --map-tokens; with no files in the chat aider doubles it [8192]")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per tool run [1800]")
    parser.add_argument("--json", type=Path, help="also write the raw measurements to this file")
    parser.add_argument("--no-warm-page-cache", action="store_true",
                        help="do not read the corpus before each cold run")
    args = parser.parse_args(argv)
    args.corpus = args.corpus.resolve()
    args.peers_dir = args.peers_dir.resolve()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not (args.corpus / ".git").exists():
        parser.error(f"{args.corpus} is not a git repository; build the corpus with: {MAKE_CORPUS}")
    only = {t.strip() for t in args.only.split(",") if t.strip()} or {"kimicode", "repomix", "aider"}
    if args.skip_peers:
        only &= {"kimicode"}

    load_start = os.getloadavg()[0]
    files, size = corpus_stats(args.corpus)
    print(machine_line())
    print(f"corpus: {args.corpus}: {files:,} files, {size / MB:,.1f} MB ({size / 2**20:,.1f} MiB), .git excluded")
    sys.stdout.flush()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pack-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if "kimicode" in only:
            # .venv/bin/kimicode next to this interpreter (do not resolve the symlink)
            benches = [KimicodeBench(args, tmp, goals_for(files), Path(sys.executable).parent / "kimicode")]
            if args.baseline:
                benches.append(KimicodeBench(args, tmp, None, args.baseline, "baseline"))
            rows += kimicode_rows(args, benches)
        if "repomix" in only:
            rows += repomix_rows(args, tmp)
        if "aider" in only:
            rows += aider_rows(args, tmp)
        versions = []
        if "repomix" in only and (args.peers_dir / "repomix/node_modules/.bin/repomix").exists():
            versions.append("repomix " + tool_version([str(args.peers_dir / "repomix/node_modules/.bin/repomix"), "--version"],
                                                      clean_env(tmp)))
        if "aider" in only and (args.peers_dir / "aider/bin/aider").exists():
            versions.append(tool_version([str(args.peers_dir / "aider/bin/aider"), "--version"], clean_env(tmp)))
        if args.json:
            args.json.write_text(json.dumps([{
                "tool": r.tool, "note": r.note, "tokens": r.tokens, "output_bytes": r.output_bytes,
                "runs": [{"argv": m.argv, "returncode": m.returncode, "wall_s": m.wall_s, "cpu_s": m.cpu_s,
                          "peak_bytes": m.peak_bytes, "tree_pss_peak_bytes": m.tree_pss_peak_bytes,
                          "tree_rss_peak_bytes": m.tree_rss_peak_bytes,
                          "maxrss_bytes": m.maxrss_bytes, "max_procs": m.max_procs, "timed_out": m.timed_out}
                         for m in r.runs]} for r in rows], indent=2))

    print()
    print(render(rows, args.budget))
    print(f"\nload average (1 min): {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end on {usable_cpus()} CPUs"
          + ("; the machine was busy: wall times are inflated" if max(load_start, os.getloadavg()[0]) > 0.5 * usable_cpus() + 0.5
             else ""))
    if versions:
        aider_note = (f"; aider --map-tokens {args.aider_map_tokens} (aider doubles it with no files in the chat)"
                      if "aider" in only else "")
        print(f"\npeers: {', '.join(versions)}{aider_note}")
    print("peak MB = max(sampled sum of PSS over the process tree, ru_maxrss of its largest process); "
          "MB = 10^6 bytes; tokens as reported by each tool")
    return 0 if all(r.ok for r in rows if r.tool.startswith("kimicode")) else 1


if __name__ == "__main__":
    sys.exit(main())
