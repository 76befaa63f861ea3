"""Secret redaction: false positives on real code and recall on planted secrets, beside plain detect-secrets.

    .venv/bin/python bench/secrets_bench.py [--corpus DIR] [--repo DIR] [--seed N] [--rounds N]
                                            [--max-files N] [--show N] [--json FILE]

Two scanners run on the same texts in the same run:

* **detect-secrets**: detect-secrets 1.5 with its default plugins and filters, line by line
  (the way kimicode called it before), each reported value replaced in its line.
* **kimicode**: ``kimicode.secrets.redact``, what every text about to be sent goes through.

(a) False positives: lines redacted in the tracked text files of this repository and of the
stdlib corpus (``bash ../shared/checks/make-corpus.sh``), files refused by name left out as
kimicode never reads them. (b) Recall: secrets of every covered kind, generated afresh (random
values, see tests/secret_samples.py) and planted in code, config files, prose and key files;
a secret leaks when any 8-character piece of it survives redaction.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from kimicode.secrets import redact, secret_file_kind  # noqa: E402
from tests.secret_samples import (  # noqa: E402
    ALNUM,
    B64,
    HEX,
    KINDS,
    URLSAFE,
    base64_pem,
    leaks,
    password,
    pem_body,
    rand,
    uuid,
)

DEFAULT_CORPUS = Path("/tmp/kimicode-corpus/stdinc")
MAX_FILE_BYTES = 1_000_000
MB = 1_000_000

Scanner = Callable[[str, str], tuple[str, set[int], list[str]]]  # (text, path) -> (redacted, lines, kinds)


# ---------------------------------------------------------------------------------------------
# The two scanners


def kimicode_scan(text: str, path: str) -> tuple[str, set[int], list[str]]:
    result = redact(text, path)
    return result.text, {f.line for f in result.findings}, [f.kind for f in result.findings]


def detect_secrets_scan(text: str, path: str) -> tuple[str, set[int], list[str]]:
    from detect_secrets.core.scan import _process_line_based_plugins

    lines = text.split("\n")
    flagged: set[int] = set()
    kinds: list[str] = []
    for secret in _process_line_based_plugins(list(enumerate(lines, start=1)), path):
        flagged.add(secret.line_number)
        kinds.append(secret.type)
        if secret.secret_value:
            index = secret.line_number - 1
            lines[index] = lines[index].replace(secret.secret_value, f"[REDACTED:{secret.type}]")
    return "\n".join(lines), flagged, kinds


# ---------------------------------------------------------------------------------------------
# (a) False positives on real code


@dataclass
class FalsePositives:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    seconds: float = 0.0
    flagged: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


def text_files(root: Path, max_files: int) -> Iterator[tuple[str, str]]:
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    paths = [p for p in listed.decode("utf-8", "replace").split("\0") if p and secret_file_kind(p) is None]
    step = max(1, len(paths) // max_files) if max_files else 1
    for path in paths[::step]:
        file = root / path
        if file.is_symlink() or not file.is_file() or file.stat().st_size > MAX_FILE_BYTES:
            continue
        data = file.read_bytes()
        if b"\0" in data[:8192]:
            continue
        yield path, data.decode("utf-8", "replace")


def false_positives(root: Path, scanner: Scanner, max_files: int, show: int) -> FalsePositives:
    found = FalsePositives()
    for path, text in text_files(root, max_files):
        started = time.perf_counter()
        _, flagged, kinds = scanner(text, path)
        found.seconds += time.perf_counter() - started
        found.files += 1
        found.bytes += len(text.encode("utf-8", "replace"))
        found.lines += text.count("\n") + 1
        found.flagged += len(flagged)
        found.kinds.update(kinds)
        lines = text.split("\n")
        for number in sorted(flagged)[: max(0, show - len(found.examples))]:
            found.examples.append(f"{path}:{number}: {lines[number - 1].strip()[:140]}")
    return found


# ---------------------------------------------------------------------------------------------
# (b) Recall on planted secrets


@dataclass(frozen=True)
class Planted:
    group: str  # what the table row counts
    path: str
    text: str
    values: tuple[str, ...]  # each must be gone, whole and in part


# Where a token that proves itself by its format can sit: anywhere, under any name.
NEUTRAL = (
    ("app/service.py", 'value = "{v}"'),
    ("config/app.yaml", "setting: {v}"),
    ("docs/deploy.md", "Use {v} for the staging deploy."),
    ("scripts/run.sh", "export SETTING={v}"),
    ("config/app.json", '{{"value": "{v}"}}'),
)
# Where a secret is known by its name, URL or sentence: every config dialect and then some.
NAMED = (
    ("config/settings.yaml", "db_password: {v}"),
    ("config/settings.yaml", "  api_token: '{v}'"),
    ("config/app.toml", 'secret_key = "{v}"'),
    ("config/app.ini", "password = {v}"),
    ("src/main/resources/application.properties", "spring.datasource.password={v}"),
    ("config/oauth.json", '  "client_secret": "{v}",'),
    ("docker-compose.yml", "      - POSTGRES_PASSWORD={v}"),
    ("scripts/env.sh", "export AWS_SECRET_ACCESS_KEY={v}"),
    ("scripts/env.sh", 'export GITLAB_TOKEN="{v}"'),
    ("config.fish", "set -gx OPENAI_API_KEY {v}"),
    ("infra/main.tf", '  password = "{v}"'),
    ("Dockerfile", "ENV API_KEY={v}"),
    ("Dockerfile", "ARG NPM_TOKEN {v}"),
    ("k8s/secret.yaml", "  DATABASE_PASSWORD: {v}"),
    ("k8s/kubeconfig.yaml", "    token: {v}"),
    ("conf/web.xml", "<password>{v}</password>"),
    ("app/settings.py", 'SECRET_KEY = "{v}"'),
    ("app/client.py", 'client = Client(api_key="{v}", timeout=30)'),
    ("app/api.ts", 'const headers = {{ Authorization: "Bearer {v}" }};'),
    ("app/Main.java", 'private static final String DB_PASSWORD = "{v}";'),
    ("app/main.go", 'apiKey := "{v}"'),
    ("app/settings.py", 'DATABASE_URL = "postgres://app:{v}@db.internal:5432/app"'),
    ("config/cache.yaml", "url: redis://:{v}@cache:6379/0"),
    ("scripts/deploy.sh", "deploy --api-token {v} --region eu"),
    ("scripts/call.sh", 'curl "https://api.example.com/v1/items?api_key={v}"'),
    ("NOTES.md", "The admin password is {v} until we rotate it."),
    ("NOTES.md", "staging db password: {v}"),
    ("docs/setup.md", "Your API key is `{v}`."),
)
FILLER = ("import os", "", "def main() -> None:", "    print('ready')", "")


def named_value(rng: Random) -> str:
    return rng.choice([password(rng), rand(rng, ALNUM, 32), rand(rng, HEX, 40), rand(rng, B64, 40),
                       uuid(rng), rand(rng, URLSAFE, 24)])


def key_files(rng: Random) -> Iterator[Planted]:
    for label in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY",
                  "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK"):
        body = pem_body(rng)
        yield Planted("private key (PEM file text)", "docs/key.txt",
                      "\n".join(["here:", f"-----BEGIN {label}-----", *body, f"-----END {label}-----", ""]), tuple(body))
        indented = "\n".join(f"    {line}" for line in [f"-----BEGIN {label}-----", *body, f"-----END {label}-----"])
        yield Planted("private key (YAML block)", "k8s/tls.yaml", f"stringData:\n  tls.key: |\n{indented}\n", tuple(body))
    body = pem_body(rng)
    escaped = "\\n".join(["-----BEGIN PRIVATE KEY-----", *body, "-----END PRIVATE KEY-----", ""])
    yield Planted("private key (service-account JSON)", "deploy/gcp.json",
                  json.dumps({"type": "service_account", "private_key_id": rand(rng, HEX, 40)})[:-1]
                  + f', "private_key": "{escaped}"}}', tuple(body))
    encoded = base64_pem(rng)
    yield Planted("private key (base64, kubeconfig)", "kube/dev.yaml", f"users:\n- user:\n    client-key-data: {encoded}\n",
                  (encoded,))
    body = pem_body(rng, 6)
    putty = ["PuTTY-User-Key-File-2: ssh-rsa", "Encryption: none", "Comment: deploy", "Public-Lines: 1",
             rand(rng, B64, 64), "Private-Lines: 6", *body, f"Private-MAC: {rand(rng, HEX, 40)}"]
    yield Planted("private key (PuTTY)", "keys/deploy.txt", "\n".join(putty), tuple(body))


def planted(seed: int, rounds: int) -> list[Planted]:
    rng = Random(seed)
    out: list[Planted] = []
    for _ in range(rounds):
        for kind in KINDS:
            places = [(kind.filename, kind.line)] + (list(NEUTRAL) if kind.self_evident else [])
            for path, line in places:
                value = kind.make(rng)
                out.append(Planted(f"{kind.id}", path, "\n".join([*FILLER, line.format(v=value), *FILLER]), (value,)))
        for path, line in NAMED:
            value = named_value(rng)
            out.append(Planted(f"named: {path.rsplit('/', 1)[-1]}", path, "\n".join([*FILLER, line.format(v=value)]), (value,)))
        out.extend(key_files(rng))
    return out


def recall(cases: list[Planted], scanner: Scanner) -> tuple[Counter[str], list[str]]:
    leaked: Counter[str] = Counter()
    where: list[str] = []
    for case in cases:
        text, _, _ = scanner(case.text, case.path)
        if any(leaks(value, text) for value in case.values):
            leaked[case.group] += 1
            where.append(f"{case.group} in {case.path}: {next(line for line in text.splitlines() if any(leaks(v, line) for v in case.values))[:140]}")
    return leaked, where


# ---------------------------------------------------------------------------------------------
# Report


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def top_kinds(kinds: Counter[str], n: int = 6) -> str:
    return ", ".join(f"{k} {c}" for k, c in kinds.most_common(n)) or "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"stdlib corpus [{DEFAULT_CORPUS}]")
    parser.add_argument("--repo", type=Path, default=ROOT, help="this repository [the checkout of this script]")
    parser.add_argument("--seed", type=int, default=None, help="seed of the planted secrets [random, printed]")
    parser.add_argument("--rounds", type=int, default=3, help="planted values per kind and place [3]")
    parser.add_argument("--max-files", type=int, default=0, help="scan about this many files per source, evenly spread [all]")
    parser.add_argument("--show", type=int, default=0, help="print up to N redacted lines and N leaks per scanner")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--kimicode-only", action="store_true", help="skip the detect-secrets baseline (quicker)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else Random().randrange(10**9)
    kimicode_scan("warm-up: builds the plugins once", "x.txt")

    from detect_secrets.settings import default_settings

    sources = [("this repository", args.repo)]
    if (args.corpus / ".git").is_dir():
        sources.append(("stdlib corpus", args.corpus))
    else:
        print(f"corpus not found: {args.corpus} (bash ../shared/checks/make-corpus.sh); skipped", file=sys.stderr)
    scanners: dict[str, Scanner] = {"detect-secrets": detect_secrets_scan, "kimicode": kimicode_scan}
    if args.kimicode_only:
        del scanners["detect-secrets"]
    fp: dict[tuple[str, str], FalsePositives] = {}
    cases = planted(seed, args.rounds)
    leaked: dict[str, tuple[Counter[str], list[str]]] = {}
    with default_settings():
        for name, scanner in scanners.items():
            for label, root in sources:
                print(f"{name}: scanning {label}...", file=sys.stderr, flush=True)
                fp[(name, label)] = false_positives(root, scanner, args.max_files, args.show)
            leaked[name] = recall(cases, scanner)

    print("\n## (a) Lines of ordinary code redacted (false positives)\n")
    rows = [["source", "files", "MB", "scanner", "lines redacted", "per 10k lines", "MB/s", "top kinds"]]
    for label, _ in sources:
        for name in scanners:
            f = fp[(name, label)]
            rows.append([label, f"{f.files:,}", f"{f.bytes / MB:.1f}", name, f"{f.flagged:,}",
                         f"{f.flagged / max(f.lines, 1) * 10_000:.2f}", f"{f.bytes / MB / max(f.seconds, 1e-9):.1f}",
                         top_kinds(f.kinds)])
    print(table(rows))
    print(f"\n## (b) Planted secrets leaked (seed {seed}, {len(cases)} planted, {args.rounds} round(s))\n")
    groups = Counter(case.group for case in cases)
    rows = [["planted", "count", *(f"leaked: {name}" for name in scanners)]]
    for group in sorted(groups):
        rows.append([group, str(groups[group]), *(str(leaked[name][0][group]) for name in scanners)])
    totals = [sum(leaked[name][0].values()) for name in scanners]
    rows.append(["**total**", str(len(cases)), *(f"{t} ({t / len(cases):.1%})" for t in totals)])
    print(table(rows))
    if args.show:
        for name in scanners:
            print(f"\n### {name}: redacted lines (first {args.show} per source)\n")
            for label, _ in sources:
                print("\n".join(fp[(name, label)].examples))
            print(f"\n### {name}: leaks (first {args.show})\n")
            print("\n".join(leaked[name][1][: args.show]))
    if args.json:
        args.json.write_text(json.dumps({
            "seed": seed, "planted": len(cases),
            "false_positives": {f"{n}/{source}": {"files": f.files, "bytes": f.bytes, "lines": f.lines, "flagged": f.flagged,
                                              "seconds": round(f.seconds, 3), "kinds": dict(f.kinds)}
                                for (n, source), f in fp.items()},
            "leaked": {n: dict(c) for n, (c, _) in leaked.items()},
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
