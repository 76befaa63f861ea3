"""Reading and writing the files a change touches: exact bytes, atomic replacement, mode kept."""

from __future__ import annotations

import glob
import os
import stat
import tempfile
from pathlib import Path

from kimicode.repo.files import NotRegularFile, read_regular


class EditError(Exception):
    """A change cannot be made; the message is one line for the user or the model."""


def read_text(root: Path, path: str) -> str | None:
    """The exact text of ``root/path`` (None when absent); EditError for anything but a UTF-8 regular file."""
    where = root / path
    if where.is_symlink():
        raise EditError(f"{path} is a symbolic link: kimicode does not edit through links")
    try:
        data = read_regular(where)
    except FileNotFoundError:
        return None
    except NotRegularFile:
        raise EditError(f"{path} is not a regular file") from None
    except OSError as exc:
        raise EditError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EditError(f"{path} is not valid UTF-8 text: kimicode edits UTF-8 files only") from None


def write_text(root: Path, path: str, text: str | None) -> None:
    """Make ``root/path`` hold exactly ``text`` (None: remove it): a temp file renamed over it, mode kept."""
    where = root / path
    if text is None:
        try:
            where.unlink()
        except FileNotFoundError:
            pass
        _prune_empty_parents(root, where.parent)
        return
    where.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(where.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{where.name}.", suffix=".kimicode", dir=where.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, where)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _drop_bytecode(where)


def _drop_bytecode(source: Path) -> None:
    """Python trusts a .pyc whose source kept its mtime (to the second) and size: an edit of the same
    size within the second the old text was compiled (the test loop's next round) would run the old code."""
    if source.suffix != ".py":
        return
    for cached in (source.parent / "__pycache__").glob(f"{glob.escape(source.stem)}.*.pyc"):  # any interpreter's
        try:
            cached.unlink()
        except OSError:  # gone already, or not ours to remove: the source is written either way
            pass


def _prune_empty_parents(root: Path, folder: Path) -> None:
    """Remove the folders left empty by a removed file, up to ``root``, as ``git rm`` does: undoing a
    created file must not leave the folders made for it behind."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or not ours to remove): stop there
            return
        folder = folder.parent
