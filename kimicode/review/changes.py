"""What is under review: the changed files, their hunks, and the new version of every file.

Three sources, one shape (``ChangeSet``):

- the staged changes (``git diff --cached``), read from the index git is about to commit;
  inside a hook git points ``GIT_INDEX_FILE`` at that index (``git commit -a`` uses a
  temporary one) and every git command run here inherits it;
- a commit range ``A..B`` (or ``A...B``), read from B;
- whole files from the work tree (``--files``), each presented as all-new.

Two git calls describe any number of files: ``--raw -z`` (status, modes, blob ids, paths
without quoting) and the patch, whose per-file blocks come in the same order.
"""

from __future__ import annotations

import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from kimicode.review.patch import Hunk, parse_hunks, whole_file_hunk

if TYPE_CHECKING:
    import git

STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied", "T": "type changed", "U": "unmerged"}
GITLINK = "160000"  # a submodule entry: a commit id, not a file
# Flags shared by the --raw and the patch call, so both list the same files in the same order;
# user config (colour, external diff drivers, textconv, prefixes) must not change the output.
_DIFF_FLAGS = ("-M", "--no-color", "--no-ext-diff", "--no-textconv", "--ignore-submodules=none")
_PATCH_FLAGS = ("-U3", "--irreversible-delete", "--src-prefix=a/", "--dst-prefix=b/", "--submodule=short")


class ChangeError(Exception):
    """The changes cannot be read (bad revision, missing file, not a repository); one line."""


@dataclass(frozen=True)
class Change:
    path: str  # POSIX, relative to the repository root; for a deletion, the deleted path
    status: str  # a STATUS value, or "file" for --files
    old_path: str | None = None  # renames and copies
    hunks: tuple[Hunk, ...] = ()  # empty for deletions, binaries, submodules
    binary: bool = False
    submodule: bool = False
    size: int | None = None  # bytes of the new version; None when deleted or unknown


class Source(Protocol):
    """The new version of the repository: what the reviewed commit will contain."""

    def paths(self) -> list[str]: ...

    def read(self, path: str) -> bytes | None: ...

    def size(self, path: str) -> int | None: ...


@dataclass(frozen=True)
class Commit:
    """One commit of a range: the lines it added, per file (for the secret scan of the history)."""

    sha: str
    changes: tuple[Change, ...]  # hunks without context: only what this commit added


@dataclass
class ChangeSet:
    label: str  # for messages: "staged changes", "main..feature", "2 files"
    root: Path
    changes: list[Change]
    source: Source
    staged: bool = False  # a commit is what stops: say how to skip the hook
    # a range's commits: a secret added by one and removed by a later one is gone from the net
    # diff, yet pushing the range publishes it
    history: list[Commit] = field(default_factory=list)


# -- sources ------------------------------------------------------------------------------


@dataclass
class GitTreeSource:
    """Files of the index or of a commit, read from git's object store (one cat-file process)."""

    repo: git.Repo
    blobs: dict[str, str]  # path -> blob id (hex)

    def paths(self) -> list[str]:
        return sorted(self.blobs)

    def read(self, path: str) -> bytes | None:
        sha = self.blobs.get(path)
        if sha is None:
            return None
        return self.repo.odb.stream(binascii.unhexlify(sha)).read()

    def size(self, path: str) -> int | None:
        sha = self.blobs.get(path)
        if sha is None:
            return None
        return int(self.repo.odb.info(binascii.unhexlify(sha)).size)


@dataclass
class WorktreeSource:
    root: Path
    listed: list[str] = field(default_factory=list)

    def paths(self) -> list[str]:
        return self.listed

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except OSError:
            return None

    def size(self, path: str) -> int | None:
        try:
            return (self.root / path).stat().st_size
        except OSError:
            return None


def _index_blobs(repo: git.Repo) -> dict[str, str]:
    # `git ls-files -s`, not gitpython's IndexFile: it honours GIT_INDEX_FILE (the hook's index)
    blobs: dict[str, str] = {}
    for entry in repo.git.ls_files("-s", "-z").split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[0] != GITLINK and parts[2] in ("0", "2"):  # stage 2: "ours" in a conflict
            blobs[path] = parts[1]
    return blobs


def _tree_blobs(repo: git.Repo, rev: str) -> dict[str, str]:
    blobs: dict[str, str] = {}
    for entry in repo.git.ls_tree("-r", "-z", "--full-tree", rev).split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            blobs[path] = parts[2]
    return blobs


# -- git diff -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    status: str
    path: str
    old_path: str | None
    new_mode: str
    new_sha: str


def _parse_raw(out: str) -> list[_Raw]:
    entries: list[_Raw] = []
    tokens = out.split("\0")
    i = 0
    while i < len(tokens):
        meta = tokens[i]
        if not meta.startswith(":"):
            i += 1
            continue
        fields = meta[1:].split()
        letter = fields[4][:1]
        if letter in ("R", "C"):
            old, new = tokens[i + 1], tokens[i + 2]
            i += 3
        else:
            old, new = None, tokens[i + 1]
            i += 2
        entries.append(_Raw(letter, new, old, fields[1], fields[3]))
    return entries


def _split_patch(out: str) -> list[list[str]]:
    """Per-file blocks of a multi-file patch ("diff --git" starts a block; no body line can)."""
    blocks: list[list[str]] = []
    for line in out.split("\n"):
        if line.startswith(("diff --git ", "* Unmerged path ")):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return blocks


def _is_binary(block: list[str]) -> bool:
    for line in block:
        if line.startswith("@@"):
            return False
        if line.startswith("Binary files ") or line == "GIT binary patch":
            return True
    return False


def _diff(repo: git.Repo, args: Sequence[str], source: GitTreeSource) -> list[Change]:
    raw = _parse_raw(repo.git.diff(*args, *_DIFF_FLAGS, "--raw", "-z", "--no-abbrev"))
    if not raw:
        return []
    blocks = _split_patch(repo.git.diff(*args, *_DIFF_FLAGS, *_PATCH_FLAGS))
    if len(blocks) != len(raw):
        # Should not happen (same diff queue, same order); one call per file is slower but certain.
        blocks = [repo.git.diff(*args, *_DIFF_FLAGS, *_PATCH_FLAGS, "--", *filter(None, (r.old_path, r.path))).split("\n") for r in raw]
    changes: list[Change] = []
    for entry, block in zip(raw, blocks, strict=True):
        status = STATUS.get(entry.status, "changed")
        submodule = entry.new_mode == GITLINK
        binary = not submodule and _is_binary(block)
        deleted = status == "deleted"
        hunks = () if deleted or binary or submodule else tuple(parse_hunks("\n".join(block)))
        size = None if deleted or submodule else source.size(entry.path)
        changes.append(Change(entry.path, status, entry.old_path, hunks, binary, submodule, size))
    return changes


def _repo(root: Path) -> git.Repo:
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ChangeError(f"{root} is not inside a git repository") from None
    if repo.bare or repo.working_tree_dir is None:
        raise ChangeError(f"{root} is a bare repository: nothing is staged there")
    return repo


def staged(root: Path) -> ChangeSet:
    """What `git commit` would record now."""
    import git

    repo = _repo(root)
    try:
        source = GitTreeSource(repo, _index_blobs(repo))
        changes = _diff(repo, ("--cached",), source)
    except git.GitCommandError as exc:
        raise ChangeError(_git_error("git diff --cached", exc)) from None
    return ChangeSet("staged changes", Path(repo.working_tree_dir or root), changes, source, staged=True)


def commit_range(root: Path, spec: str) -> ChangeSet:
    """``A..B`` (B's changes since A), ``A...B`` (since their merge base); an empty side is HEAD."""
    import git

    repo = _repo(root)
    dots = "..." if "..." in spec else ".."
    if dots not in spec:
        raise ChangeError(f"--range takes A..B or A...B, not {spec!r}")
    start, end = (part or "HEAD" for part in spec.split(dots, 1))
    for rev in (start, end):
        try:
            repo.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}")
        except git.GitCommandError:
            raise ChangeError(f"--range {spec}: unknown revision {rev!r}") from None
    try:
        source = GitTreeSource(repo, _tree_blobs(repo, end))
        changes = _diff(repo, (f"{start}{dots}{end}",), source)
        # the commits B has and A lacks: for A...B too, since merge-base(A, B)..B is the same set
        history = _history(repo, f"{start}..{end}")
    except git.GitCommandError as exc:
        raise ChangeError(_git_error(f"git diff {spec}", exc)) from None
    return ChangeSet(f"{start}{dots}{end}", Path(repo.working_tree_dir or root), changes, source, history=history)


def _history(repo: git.Repo, spec: str) -> list[Commit]:
    """Each non-merge commit of ``spec`` with the lines it added (a merge adds nothing of its own
    unless it resolved a conflict: that case is not scanned)."""
    out = repo.git.log("--no-merges", "-p", "-U0", "--format=%x00%H", *_DIFF_FLAGS, "--src-prefix=a/", "--dst-prefix=b/", spec)
    commits: list[Commit] = []
    for chunk in out.split("\0")[1:]:
        sha, _, patch = chunk.partition("\n")
        changes = []
        for block in _split_patch(patch):
            path = _new_path(block)
            if path is not None:
                changes.append(Change(path, "added" if _is_new(block) else "modified", None, tuple(parse_hunks("\n".join(block)))))
        commits.append(Commit(sha.strip(), tuple(changes)))
    return commits


def _new_path(block: list[str]) -> str | None:
    """The path a patch block writes, or None for a deletion."""
    for line in block:
        if line.startswith("@@"):
            break
        if line.startswith("deleted file mode") or line == "+++ /dev/null":
            return None
        if line.startswith("+++ "):  # git ends a name that has spaces with a tab
            return _unquote(line[4:].removesuffix("\t")).removeprefix("b/")
    # no "+++" line (a binary or a mode-only change): the header names the file
    header = block[0].removeprefix("diff --git ")
    quoted = header.rfind(' "b/')
    return _unquote(header[quoted + 1:]).removeprefix("b/") if quoted >= 0 else header.rpartition(" b/")[2]


def _unquote(name: str) -> str:
    """git's C-style quoting of unusual names (octal escapes of UTF-8 bytes) undone."""
    if not (name.startswith('"') and name.endswith('"')):
        return name
    raw = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return raw.encode("latin-1").decode("utf-8", "replace")


def _is_new(block: list[str]) -> bool:
    return any(line.startswith("new file mode") for line in block[:6])


def whole_files(root: Path, paths: Sequence[Path]) -> ChangeSet:
    """Each file as it is in the work tree, all of it under review."""
    from kimicode.repo.files import content_reason, git_root, read_regular
    from kimicode.repo.scan import decode

    base = git_root(root) or root
    changes: list[Change] = []
    for given in paths:
        absolute = given if given.is_absolute() else Path.cwd() / given
        if absolute.is_dir():
            raise ChangeError(f"--files {given}: is a directory (name the files)")
        try:
            data = read_regular(absolute)
            rel = Path(os.path.relpath(absolute.resolve(), base.resolve())).as_posix()
        except OSError as exc:
            raise ChangeError(f"--files {given}: {exc.strerror}") from None
        except ValueError:  # another drive (Windows)
            raise ChangeError(f"--files {given}: outside the repository {base}") from None
        if rel.startswith("../"):
            raise ChangeError(f"--files {given}: outside the repository {base}")
        binary = content_reason(data) == "binary"
        hunks = () if binary else (whole_file_hunk(decode(data)[0]),)
        changes.append(Change(rel, "file", None, hunks, binary, False, len(data)))
    listed = _worktree_paths(base) or [c.path for c in changes]
    label = f"{len(changes)} file{'s' if len(changes) != 1 else ''}"
    return ChangeSet(label, base, changes, WorktreeSource(base, listed))


def _worktree_paths(root: Path) -> list[str]:
    import git

    try:
        return sorted(p for p in git.Git(str(root)).ls_files("-z", "--cached", "--others", "--exclude-standard").split("\0") if p)
    except git.GitCommandError:
        return []  # not a repository: imports resolve among the named files only


def _git_error(what: str, exc: Exception) -> str:
    stderr = (getattr(exc, "stderr", "") or "").strip().splitlines()
    detail = stderr[-1].strip() if stderr else str(exc)
    return f"{what} failed: {detail}"
