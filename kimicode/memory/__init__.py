"""Error-fingerprint memory: errors seen in a repository, their root causes and fixes.

fingerprint.py (with parsers.py and normalize.py) turns error text into a stable record and
is pure; features.py embeds it offline. store.py keeps records in Chroma and is the only
module that imports chromadb (lazily). recall.py and capture.py are what ask, chat and
doctor call; kimicode/commands/memory.py is the `kimicode memory` command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimicode.lazy import exports

if TYPE_CHECKING:
    from kimicode.memory.capture import CaptureError, build_fingerprint, remember_answer
    from kimicode.memory.fingerprint import Fingerprint, error_shapes
    from kimicode.memory.recall import memory_status, recall_for_text
    from kimicode.memory.store import MemoryStore, MemoryUnavailable

_HOMES = {
    **dict.fromkeys(("CaptureError", "build_fingerprint", "remember_answer"), "capture"),
    **dict.fromkeys(("Fingerprint", "error_shapes"), "fingerprint"),
    **dict.fromkeys(("memory_status", "recall_for_text"), "recall"),
    **dict.fromkeys(("MemoryStore", "MemoryUnavailable"), "store"),
}
__all__ = ["CaptureError", "Fingerprint", "MemoryStore", "MemoryUnavailable", "build_fingerprint",
           "error_shapes", "memory_status", "recall_for_text", "remember_answer"]

__getattr__ = exports(__name__, _HOMES)
