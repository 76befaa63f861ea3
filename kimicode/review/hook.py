"""The git pre-commit hook: write it, remove it, and never lose a hook that was there before.

A hook someone else wrote (by hand, husky, the pre-commit framework) is moved aside, unchanged,
to ``pre-commit.pre-kimicode``; ours runs it first and stops if it fails, and ``uninstall``
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
CHAINED_NAME = "pre-commit.pre-kimicode"


class HookError(Exception):
    """The hook cannot be installed or removed; one line."""


@dataclass(frozen=True)
class HookPaths:
    hooks_dir: Path
    hook: Path
    chained: Path


def hook_paths(root: Path) -> HookPaths:
    """Where git looks for hooks in this work tree (honours core.hooksPath and worktrees)."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
        folder = repo.git.rev_parse("--git-path", "hooks")
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise HookError(f"{root} is not inside a git repository") from None
    except git.GitCommandError as exc:
        raise HookError(f"git rev-parse failed: {(exc.stderr or '').strip()}") from None
    hooks_dir = Path(folder)
    if not hooks_dir.is_absolute():
        hooks_dir = Path(repo.working_tree_dir or repo.git_dir) / hooks_dir
    return HookPaths(hooks_dir, hooks_dir / HOOK_NAME, hooks_dir / CHAINED_NAME)


def kimicode_script(executable: str | None = None) -> Path:
    """The ``kimicode`` console script installed beside ``executable`` (default: this Python)."""
    folder = Path(executable or sys.executable).parent
    name = "kimicode.exe" if os.name == "nt" else "kimicode"
    return (folder / name).absolute()


def script_text(script: Path) -> str:
    return f"""#!/bin/sh
{MARKER}: installed by `kimicode hook install`; `kimicode hook uninstall` removes it.
# Reviews the staged changes before each commit. Skip it once with: git commit --no-verify
hooks_dir=$(dirname "$0")
if [ -x "$hooks_dir/{CHAINED_NAME}" ]; then
    # the hook that was here before kimicode's: it runs first, and its failure stops the commit
    "$hooks_dir/{CHAINED_NAME}" "$@" || exit $?
fi
kimicode={shlex.quote(str(script))}
if [ ! -x "$kimicode" ]; then
    kimicode=$(command -v kimicode) || {{
        echo "kimicode: review skipped: the kimicode command was not found (run kimicode hook install again)" >&2
        exit 0
    }}
fi
exec "$kimicode" review --staged
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


def install(root: Path, executable: str | None = None) -> str:
    """Install (or refresh) the hook; returns what was done, one line."""
    paths = hook_paths(root)
    paths.hooks_dir.mkdir(parents=True, exist_ok=True)
    script = kimicode_script(executable)
    text = script_text(script)
    kept = ""
    if _exists(paths.hook) and not is_ours(paths.hook):
        if _exists(paths.chained):
            raise HookError(
                f"{paths.hook} is not kimicode's and {paths.chained.name} already exists: "
                f"move one of them away, then run kimicode hook install again"
            )
        os.replace(paths.hook, paths.chained)
        kept = f"; the existing hook was kept as {paths.chained.name} and runs first"
    elif _exists(paths.hook):
        _write_executable(paths.hook, text)
        return f"updated {paths.hook} (runs {script}){_chain_note(paths)}"
    _write_executable(paths.hook, text)
    where = script if script.exists() else "kimicode on PATH"
    return f"installed {paths.hook} (runs {where}){kept or _chain_note(paths)}"


def _chain_note(paths: HookPaths) -> str:
    return f"; {paths.chained.name} runs first" if _exists(paths.chained) else ""


def uninstall(root: Path) -> str:
    """Remove our hook and restore the one it replaced; a foreign hook is left alone."""
    paths = hook_paths(root)
    if not _exists(paths.hook):
        return f"no pre-commit hook in {paths.hooks_dir}: nothing to remove"
    if not is_ours(paths.hook):
        return f"{paths.hook} is not kimicode's: left alone"
    paths.hook.unlink()
    if _exists(paths.chained):
        os.replace(paths.chained, paths.hook)
        return f"removed kimicode's hook; restored the previous {paths.hook}"
    return f"removed {paths.hook}"


def status(root: Path) -> str:
    paths = hook_paths(root)
    if not _exists(paths.hook):
        return f"not installed ({paths.hook} does not exist)"
    if not is_ours(paths.hook):
        return f"not installed ({paths.hook} is another tool's hook)"
    return f"installed at {paths.hook}{_chain_note(paths)}"
