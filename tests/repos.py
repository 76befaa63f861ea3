"""Real git repositories in temp dirs, made with gitpython."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import git


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_repo(root: Path, files: Mapping[str, str | bytes], commit: bool = True) -> git.Repo:
    root.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "Test").set_value("user", "email", "test@example.invalid")
    write_files(root, files)
    if commit and files:
        repo.git.add("-A")
        repo.index.commit("initial")
    return repo


def commit_all(repo: git.Repo, message: str) -> None:
    repo.git.add("-A")
    repo.index.commit(message)
