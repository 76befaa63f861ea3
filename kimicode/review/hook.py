"""The git hooks: write them, remove them, and never lose a hook that was there before.

Two hooks run the review: ``pre-commit`` (every ``git commit``, ``--amend`` and a merge
concluded by hand after conflicts) and ``pre-merge-commit`` (the merge commit ``git merge``
and ``git pull`` record themselves; pre-commit does not run for those). Nothing runs for
commits git replays (rebase, cherry-pick, revert, am), fast-forwards, or ``--no-verify``:
docs/hooks.md says so.

A hook someone else wrote (by hand, husky, the pre-commit framework) is moved aside, unchanged,
to ``NAME.pre-kimicode``; ours runs it first and stops if it fails, and ``uninstall``
puts it back. The hook calls the ``kimicode`` script next to the Python that installed it
(the hook runs with git's PATH, where a virtualenv's script is usually absent), then one on
PATH; if neither exists the commit goes on with a line saying the review was skipped.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

MARKER = "# kimicode-review-hook"  # identifies our hook: anything without it is someone else's
HOOK_NAME = "pre-commit"
MERGE_HOOK_NAME = "pre-merge-commit"
HOOK_NAMES = (HOOK_NAME, MERGE_HOOK_NAME)
CHAINED_SUFFIX = ".pre-kimicode"
CHAINED_NAME = HOOK_NAME + CHAINED_SUFFIX
WHEN = {HOOK_NAME: "before each commit", MERGE_HOOK_NAME: "before git merge records a merge commit"}
BYPASS = {HOOK_NAME: "git commit --no-verify", MERGE_HOOK_NAME: "git merge --no-verify"}


class HookError(Exception):
    """The hook cannot be installed or removed; one line."""


@dataclass(frozen=True)
class HookPaths:
    hooks_dir: Path
    hook: Path
    chained: Path


def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks in this work tree (honours core.hooksPath and worktrees)."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
        folder = repo.git.rev_parse("--git-path", "hooks")
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise HookError(f"{root} is not inside a git repository") from None
    except git.GitCommandError as exc:
        raise HookError(f"git rev-parse failed: {(exc.stderr or '').strip()}") from None
    folder_path = Path(folder)
    if not folder_path.is_absolute():
        folder_path = Path(repo.working_tree_dir or repo.git_dir) / folder_path
    return folder_path


def hook_paths(root: Path, name: str = HOOK_NAME, folder: Path | None = None) -> HookPaths:
    folder = folder or hooks_dir(root)
    return HookPaths(folder, folder / name, folder / (name + CHAINED_SUFFIX))


def kimicode_script(executable: str | None = None) -> Path:
    """The ``kimicode`` console script installed beside ``executable`` (default: this Python)."""
    folder = Path(executable or sys.executable).parent
    name = "kimicode.exe" if os.name == "nt" else "kimicode"
    return (folder / name).absolute()


def script_text(script: Path, name: str = HOOK_NAME) -> str:
    chained = name + CHAINED_SUFFIX
    return f"""#!/bin/sh
{MARKER}: installed by `kimicode hook install`; `kimicode hook uninstall` removes it.
# Reviews the staged changes {WHEN[name]}. Skip it once with: {BYPASS[name]}
hooks_dir=$(dirname "$0")
if [ -x "$hooks_dir/{chained}" ]; then
    # the hook that was here before kimicode's: it runs first, and its failure stops the commit
    "$hooks_dir/{chained}" "$@" || exit $?
fi
kimicode={shlex.quote(str(script))}
if [ ! -x "$kimicode" ]; then
    kimicode=$(command -v kimicode) || {{
        echo "kimicode: review skipped: the kimicode command was not found (run kimicode hook install again)" >&2
        exit 0
    }}
fi
KIMICODE_HOOK={name} exec "$kimicode" review --staged
"""


def is_ours(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return MARKER.encode() in fh.read(4096)
    except OSError:
        return False


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()  # a dangling symlink is still someone's hook


def _write_executable(path: Path, text: str) -> None:
    # temp file + rename: git never runs a half-written hook
    temp = path.with_name(f".{path.name}.kimicode-tmp")
    temp.write_text(text, encoding="utf-8")
    temp.chmod(temp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
    os.replace(temp, path)


def _all_paths(root: Path) -> list[HookPaths]:
    folder = hooks_dir(root)
    return [hook_paths(root, name, folder) for name in HOOK_NAMES]


def install(root: Path, executable: str | None = None) -> str:
    """Install (or refresh) both hooks; returns what was done, one line."""
    every = _all_paths(root)
    for paths in every:  # check both before touching either: never half-installed
        if _exists(paths.hook) and not is_ours(paths.hook) and _exists(paths.chained):
            raise HookError(
                f"{paths.hook} is not kimicode's and {paths.chained.name} already exists: "
                f"move one of them away, then run kimicode hook install again"
            )
    every[0].hooks_dir.mkdir(parents=True, exist_ok=True)
    script = kimicode_script(executable)
    done: list[str] = []
    notes: list[str] = []
    for paths in every:
        name = paths.hook.name
        if _exists(paths.hook) and not is_ours(paths.hook):
            os.replace(paths.hook, paths.chained)
            done.append(f"installed {paths.hook}")
            notes.append(f"the existing {name} hook was kept as {paths.chained.name} and runs first")
        else:
            done.append(f"{'updated' if _exists(paths.hook) else 'installed'} {paths.hook}")
            if _exists(paths.chained):
                notes.append(f"{paths.chained.name} runs first")
        _write_executable(paths.hook, script_text(script, name))
    where = script if script.exists() else "kimicode on PATH"
    return f"{'; '.join(done)} (runs {where})" + "".join(f"; {note}" for note in notes)


def uninstall(root: Path) -> str:
    """Remove our hooks and restore the ones they replaced; a foreign hook is left alone."""
    every = _all_paths(root)
    done: list[str] = []
    for paths in every:
        if not _exists(paths.hook):
            continue
        if not is_ours(paths.hook):
            done.append(f"{paths.hook} is not kimicode's: left alone")
            continue
        paths.hook.unlink()
        if _exists(paths.chained):
            os.replace(paths.chained, paths.hook)
            done.append(f"removed kimicode's hook; restored the previous {paths.hook}")
        else:
            done.append(f"removed {paths.hook}")
    if not done:
        return f"no kimicode hook in {every[0].hooks_dir}: nothing to remove"
    return "; ".join(done)


def status(root: Path) -> str:
    commit, merge = _all_paths(root)
    if not _exists(commit.hook):
        return f"not installed ({commit.hook} does not exist)"
    if not is_ours(commit.hook):
        return f"not installed ({commit.hook} is another tool's hook)"
    chained = [p.chained.name for p in (commit, merge) if _exists(p.chained) and is_ours(p.hook)]
    runs_first = f"; {' and '.join(chained)} run{'s' if len(chained) == 1 else ''} first" if chained else ""
    if not is_ours(merge.hook):
        why = "is another tool's hook" if _exists(merge.hook) else "does not exist"
        return (f"installed at {commit.hook}{runs_first}; but {merge.hook} {why}: merge commits made by "
                "git merge are not reviewed (kimicode hook install adds it)")
    return f"installed at {commit.hook} and {merge.hook.name}{runs_first}"
