"""What git says about a work tree: where HEAD is and which files changed lately."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

RECENT_COMMITS = 30
BULK_COMMIT_FILES = 50  # an import, a reformat or a vendored drop says nothing about what is active


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


def _relative(path: str, prefix: str) -> str | None:
    if not prefix:
        return path
    return path[len(prefix):] if path.startswith(prefix) else None


def read_head(git_root: Path) -> GitInfo:
    """Only where HEAD is: cheap (no subprocess), enough to key a cached pack."""
    import git

    repo = git.Repo(git_root)
    try:
        commit: str | None = repo.head.commit.hexsha
    except ValueError:  # unborn HEAD
        commit = None
    branch = None if repo.head.is_detached or commit is None else repo.active_branch.name
    return GitInfo(commit, branch, False)


def read_git_info(git_root: Path, packed_root: Path) -> GitInfo:
    """HEAD and recently touched files; uncommitted changes count as the most recent."""
    import git

    repo = git.Repo(git_root)
    prefix = packed_root.relative_to(git_root).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    head = read_head(git_root)
    commit = head.commit
    recent: dict[str, float] = {}
    changed = [line[3:] for line in repo.git.status("--porcelain", "--untracked-files=no").splitlines() if len(line) > 3]
    for path in changed:
        rel = _relative(path.split(" -> ")[-1].strip('"'), prefix)
        if rel:
            recent[rel] = 1.0
    if commit:
        log = repo.git.log(f"-{RECENT_COMMITS}", "--name-only", "--format=%x00", "--no-renames")
        for age, chunk in enumerate(log.split("\0")[1:]):
            weight = 0.8 * 0.5 ** (age / 10)  # below uncommitted work; 10 commits back counts half
            touched = [p for p in chunk.split("\n") if p.strip()]
            if len(touched) > BULK_COMMIT_FILES:
                continue
            for path in touched:
                rel = _relative(path.strip(), prefix)
                if rel and rel not in recent:
                    recent[rel] = weight
    return GitInfo(commit, head.branch, bool(changed), recent)
