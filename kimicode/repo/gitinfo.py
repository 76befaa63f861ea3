"""What git says about a work tree: where HEAD is, what changed, which files changed lately.

Everything comes from the git command itself (a few milliseconds a call), not GitPython:
importing GitPython alone costs more than a warm pack of a 5,000-file repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

RECENT_COMMITS = 30
BULK_COMMIT_FILES = 50  # an import, a reformat or a vendored drop says nothing about what is active


class GitError(Exception):
    """A git command failed; the message names it and gives git's own last line."""


@dataclass(frozen=True)
class GitInfo:
    commit: str | None  # full sha of HEAD; None in a repo with no commits
    branch: str | None
    dirty: bool
    # repo-relative path (relative to the packed root) -> recency weight in (0, 1]
    recent: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        if self.commit is None:
            return "no commits yet"
        text = self.commit[:12] + (f" ({self.branch})" if self.branch else "")
        return text + (" with uncommitted changes" if self.dirty else "")


@dataclass(frozen=True)
class WorkTreeStatus:
    """`git status` of a work tree, paths relative to the folder it was asked about."""

    dirty: frozenset[str]  # tracked files whose work tree differs from the index (edited, deleted, unmerged)
    untracked: tuple[str, ...]  # not ignored, not tracked
    changed: tuple[str, ...]  # relative to the repository root: staged or not, for recency
    raw: bytes  # the command's whole output: part of a listing's fingerprint


def git(cwd: Path, *args: str, check: bool = True) -> bytes:
    """stdout of ``git args`` run in ``cwd``; raises GitError when ``check`` and git fails."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise GitError(f"git {args[0]}: {exc.strerror}") from None
    if check and done.returncode:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
        raise GitError(f"git {args[0]} failed (exit {done.returncode}): {last}")
    return done.stdout


def work_tree_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``; None outside one, in a bare repository or a .git folder."""
    try:
        out = git(path, "rev-parse", "--show-toplevel", check=False).strip()
    except GitError:
        return None
    return Path(out.decode("utf-8", "surrogateescape")) if out else None


def read_head(git_root: Path) -> GitInfo:
    """Only where HEAD is: two tiny calls, enough to key a cached pack."""
    commit = git(git_root, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).decode().strip() or None
    branch = None
    if commit is not None:
        ref = git(git_root, "symbolic-ref", "-q", "--short", "HEAD", check=False).decode("utf-8", "replace").strip()
        branch = ref or None  # empty when HEAD is detached
    return GitInfo(commit, branch, False)


def status_command(private: bool) -> list[str]:
    """`git status` of the folder it runs in, for parse_status.

    On the user's index, --no-optional-locks: a pack never takes index.lock from under the
    user's own git commands. On a PrivateIndex git may write: there the untracked cache
    saves the walk; git uses it only for a whole work tree (no pathspec) and takes the "all"
    mode from configuration, not from the flag.
    """
    tail = ["--porcelain=v2", "-z", "--ignore-submodules=all", "--no-renames"]
    if private:
        return ["git", "-c", "core.untrackedCache=true", "-c", "status.showUntrackedFiles=all", "status", *tail]
    return ["git", "--no-optional-locks", "status", "--untracked-files=all", *tail, "--", "."]


class PrivateIndex:
    """A copy of a repository's index that only kimicode writes (GIT_INDEX_FILE).

    `git status` keeps its untracked cache there (directory mtimes: no walk of a hundred
    thousand files to find untracked ones) and refreshes the stat data of files it had to
    compare by content, so neither costs again on the next pack, and the user's own
    .git/index is never locked or changed. The copy is made again whenever the real
    index lists other entries (an add, a commit, a checkout): ``holds`` compares the dumps.
    """

    def __init__(self, path: Path, top: Path) -> None:
        self.path = path
        self.top = top
        self._digest = Path(f"{path}.entries")  # digest of the copy's `git ls-files -s`

    def env(self) -> dict[str, str]:
        return dict(os.environ, GIT_INDEX_FILE=str(self.path))

    def exists(self) -> bool:
        return self.path.is_file() and self._digest.is_file()

    def holds(self, entries_digest: str) -> bool:
        try:
            return self._digest.read_text() == entries_digest
        except OSError:
            return False

    def renew(self) -> str | None:
        """Copy the real index; the digest of the copy's entries, or None when it cannot be made."""
        try:
            real = Path(git(self.top, "rev-parse", "--git-path", "index").decode("utf-8", "surrogateescape").strip())
            real = real if real.is_absolute() else self.top / real
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = Path(f"{self.path}.{os.getpid()}.partial")
            shutil.copyfile(real, partial)
            os.replace(partial, self.path)
            entries = subprocess.run(["git", "ls-files", "-z", "-s"], cwd=self.top, env=self.env(), capture_output=True,
                                     stdin=subprocess.DEVNULL, check=True).stdout
            digest = hashlib.sha256(entries).hexdigest()
            self._digest.write_text(digest)
            return digest
        except (OSError, GitError, subprocess.CalledProcessError):
            self.path.unlink(missing_ok=True)
            return None


def parse_status(raw: bytes, prefix: str) -> WorkTreeStatus:
    """Read `git status --porcelain=v2 -z` output; ``prefix`` is the packed folder within the repository ("" or "a/b/")."""
    dirty: set[str] = set()
    untracked: list[str] = []
    changed: list[str] = []
    for entry in raw.decode("utf-8", "surrogateescape").split("\0"):
        kind = entry[:1]
        if kind == "?":
            if entry.startswith(prefix, 2):
                untracked.append(entry[2 + len(prefix):])
        elif kind in ("1", "u"):
            # "1 XY sub mH mI mW hH hI path" has 8 fields before the path, unmerged "u ..." 10
            fields = entry.split(" ", 8 if kind == "1" else 10)
            path = fields[-1]
            changed.append(path)
            # Y (the work tree against the index) is "." when only the index changed
            if (kind == "u" or fields[1][1] != ".") and path.startswith(prefix):
                dirty.add(path[len(prefix):])
        # "2" (renames) is asked off, "!" (ignored) not asked for
    return WorkTreeStatus(frozenset(dirty), tuple(untracked), tuple(changed), raw)


def _relative(path: str, prefix: str) -> str | None:
    if not prefix:
        return path
    return path[len(prefix):] if path.startswith(prefix) else None


def prefix_of(git_root: Path, packed_root: Path) -> str:
    prefix = packed_root.relative_to(git_root).as_posix()
    return "" if prefix == "." else prefix + "/"


def read_git_info(git_root: Path, packed_root: Path, changed: Sequence[str] | None = None) -> GitInfo:
    """HEAD and recently touched files; uncommitted changes count as the most recent.

    ``changed``: the repository-relative paths with uncommitted changes, when a `git status`
    of this work tree was just read (WorkTreeStatus.changed); otherwise git is asked here.
    """
    prefix = prefix_of(git_root, packed_root)
    head = read_head(git_root)
    if changed is None:
        raw = git(git_root, "--no-optional-locks", "status", "--porcelain=v2", "-z", "--untracked-files=no",
                  "--ignore-submodules=all", "--no-renames")
        changed = parse_status(raw, "").changed
    recent: dict[str, float] = {}
    for path in changed:
        rel = _relative(path, prefix)
        if rel:
            recent[rel] = 1.0
    if head.commit:
        # core.quotePath off: paths with non-ASCII letters come out as they are, not octal-quoted
        log = git(git_root, "-c", "core.quotePath=false", "log", f"-{RECENT_COMMITS}", "--name-only",
                  "--format=%x00", "--no-renames").decode("utf-8", "surrogateescape")
        for age, chunk in enumerate(log.split("\0")[1:]):
            weight = 0.8 * 0.5 ** (age / 10)  # below uncommitted work; 10 commits back counts half
            touched = [p for p in chunk.split("\n") if p.strip()]
            if len(touched) > BULK_COMMIT_FILES:
                continue
            for path in touched:
                rel = _relative(path.strip(), prefix)
                if rel and rel not in recent:
                    recent[rel] = weight
    return GitInfo(head.commit, head.branch, bool(changed), recent)
