"""The repository is untrusted input: it cannot pick where data and keys go, or smuggle secrets out."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.runner import run_cli
from tests.repos import make_repo

DOTENV_VALUE = "postgres://app:Zq9vLw2XbT7kPm4R@db.internal/app"


def test_ask_file_refuses_a_link_to_a_secret_file(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_repo(root, {"main.py": "print(1)\n", ".gitignore": ".env\n"})
    (root / ".env").write_text(f"DATABASE_URL={DOTENV_VALUE}\n")
    os.symlink(".env", root / "notes.txt")
    result = run_cli("ask", "--dry-run", "--no-repo", "--file", "notes.txt", "what is in my notes?", cwd=root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["kimicode: error: refusing to send notes.txt: it looks like a secret (dotenv file)"]
    assert DOTENV_VALUE not in result.stdout + result.stderr
