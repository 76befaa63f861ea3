"""How often an edit block as models quote it lands where it should: kimicode's matcher beside exact-only.

    .venv/bin/python bench/edit_match.py [--edits 2000] [--seed 1] [--root kimicode]

Blocks of 2-8 lines are drawn from the Python files under ``--root`` (fixed seed) and quoted the
ways models get them wrong: verbatim, with trailing whitespace, re-indented (the enclosing
indentation dropped, or tabs for spaces), with a line that is not in the file (a stale or
invented quote), or too short to be unique. The replacement is the block with a marker line
appended. An outcome is *right* when the file becomes exactly the intended text, *refused* when
the tool says it does not match (the model quotes again), *wrong* when anything else is written
(the outcome that costs the user). The baseline is exact-only replacement of a unique occurrence
(kimi-cli's and Claude Code's ``Edit``: ``old_string`` must occur once).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kimicode.edits.match import NoMatch, replace_block  # noqa: E402

KINDS = ("verbatim", "trailing spaces", "dedented", "tabs for spaces", "stale line", "not unique")


def exact_only(text: str, old: str, new: str, path: str) -> str:
    if text.count(old) != 1:
        raise NoMatch("not exactly once")
    return text.replace(old, new)


def kimicode(text: str, old: str, new: str, path: str) -> str:
    return replace_block(text, old, new, path).text


def quote(kind: str, block: list[str], rng: Random) -> list[str] | None:
    """The block as a model might quote it (None: this kind does not apply to this block)."""
    if kind == "verbatim":
        return block
    if kind == "trailing spaces":
        return [line.rstrip("\n") + " " * rng.randint(1, 3) + "\n" for line in block]
    indents = [len(line) - len(line.lstrip(" ")) for line in block if line.strip()]
    if kind == "dedented":
        least = min(indents, default=0)
        return [line[least:] if line.strip() else line for line in block] if least else None
    if kind == "tabs for spaces":
        if not any(i >= 4 for i in indents):
            return None
        return [("\t" * ((len(line) - len(line.lstrip(" "))) // 4)) + line.lstrip(" ") for line in block]
    if kind == "stale line":
        at = rng.randrange(len(block))
        return block[:at] + ["    value = compute_the_old_way(value)  # a line the file does not have\n"] + block[at + 1:]
    return None


def cases(files: list[tuple[str, str]], count: int, rng: Random) -> list[tuple[str, str, str, str, str, str]]:
    """(kind, path, text, old, new, intended) for ``count`` draws of each kind."""
    out = []
    for kind in KINDS:
        made = 0
        while made < count:
            path, text = files[rng.randrange(len(files))]
            lines = text.splitlines(keepends=True)
            if kind == "not unique":
                repeated = [line for line in set(lines) if line.strip() and lines.count(line) > 1]
                if not repeated:
                    continue
                line = sorted(repeated)[rng.randrange(len(repeated))]
                out.append((kind, path, text, line, line + "# MARKER\n", ""))  # no single right answer: refusal is right
                made += 1
                continue
            size = rng.randint(2, 8)
            if len(lines) < size + 1:
                continue
            start = rng.randrange(len(lines) - size)
            block = lines[start:start + size]
            if not any(line.strip() for line in block) or not block[-1].endswith("\n") or text.count("".join(block)) != 1:
                continue
            quoted = quote(kind, block, rng)
            if quoted is None:
                continue
            if not block[-1].strip():
                continue  # the marker goes after a line with code: its indentation is clear
            indent = block[-1][: len(block[-1]) - len(block[-1].lstrip())]
            intended = "".join(lines[:start] + block + [f"{indent}# MARKER\n"] + lines[start + size:])
            if kind == "stale line":
                intended = ""  # the quote does not say what is there: refusal is right
            last = quoted[-1].rstrip("\n").rstrip(" ")  # the model writes its new line without the stray blanks
            new = "".join(quoted) + f"{last[: len(last) - len(last.lstrip())]}# MARKER\n"
            out.append((kind, path, text, "".join(quoted), new, intended))
            made += 1
    return out


def score(matcher, draws) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    tally = {kind: [0, 0, 0] for kind in KINDS}  # right, refused, wrong
    for kind, path, text, old, new, intended in draws:
        try:
            result = matcher(text, old, new, path)
        except NoMatch:
            tally[kind][0 if not intended else 1] += 1
            continue
        tally[kind][0 if intended and result == intended else 2] += 1
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=2000, help="draws per kind of quote")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent / "kimicode")
    args = parser.parse_args()
    files = [(p.relative_to(args.root).as_posix(), p.read_text(encoding="utf-8")) for p in sorted(args.root.rglob("*.py"))]
    draws = cases(files, args.edits, Random(args.seed))
    results = {"kimicode": score(kimicode, draws), "exact-only": score(exact_only, draws)}
    print(f"{len(files)} files under {args.root}, {args.edits} draws per kind, seed {args.seed}")
    print(f"{'quote':<18} {'kimicode right/refused/wrong':>30} {'exact-only right/refused/wrong':>32}")
    for kind in KINDS:
        cells = ["/".join(f"{n / args.edits:.1%}" for n in results[name][kind]) for name in results]
        print(f"{kind:<18} {cells[0]:>30} {cells[1]:>32}")
    for name, tally in results.items():
        right, refused, wrong = (sum(t[i] for t in tally.values()) for i in range(3))
        print(f"{name}: right {right}, refused {refused}, wrong {wrong} of {len(draws)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
