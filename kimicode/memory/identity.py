"""Which repository a memory belongs to, the same for every clone of it.

The root commit is the best key: every clone, fork and CI checkout has it, whatever the
remote is called or how it is spelled (ssh or https). A repository without commits falls
back to its remote URL, and one without a remote to its path on this machine.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class RepoIdentity:
    key: str  # "root:<sha>", "remote:<host/path>" or "path:<absolute path>"

    @property
    def collection(self) -> str:
        """A Chroma collection name: 3-512 of [a-zA-Z0-9._-], alphanumeric at both ends."""
        return "kimicode-" + hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:20]


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def normalize_remote(url: str) -> str:
    """``git@github.com:Org/Repo.git`` and ``https://user:pw@github.com/Org/Repo`` -> ``github.com/org/repo``."""
    url = url.strip()
    scp = re.match(r"^[\w.-]+@([\w.-]+):(?!/)(.+)$", url)
    if scp:
        host, path = scp.groups()
    else:
        url = re.sub(r"^[a-z+]+://", "", url)
        url = re.sub(r"^[^@/]*@", "", url)  # credentials never become part of a key
        host, _, path = url.partition("/")
        host = host.split(":")[0]
    path = re.sub(r"\.git/?$", "", path.strip("/"))
    return f"{host}/{path}".lower()


def repo_identity(root: Path) -> RepoIdentity:
    roots = _git(root, "rev-list", "--max-parents=0", "HEAD").split()
    if roots:
        return RepoIdentity("root:" + sorted(roots)[0])
    remote = _git(root, "config", "--get", "remote.origin.url")
    if remote:
        return RepoIdentity("remote:" + normalize_remote(remote))
    return RepoIdentity("path:" + str(root.expanduser().resolve()))


def head_commit(root: Path) -> str:
    return _git(root, "rev-parse", "HEAD")


DEFAULT_BRANCHES = frozenset({"main", "master", "trunk", "develop", "development", "dev"})


def current_task(root: Path) -> str:
    """The task at hand: the branch checked out, unless it is the default branch or HEAD is detached.

    Multi-session work lives on a branch; a note of task scope is seen only while it is checked out.
    """
    branch = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    return "" if not branch or branch in DEFAULT_BRANCHES else branch
