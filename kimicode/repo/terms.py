"""Words of a text, as the lexical index sees them: one cheap normalisation shared by files and questions.

Every file of a repository is read once per change, so this runs over every
byte of a large repository (150 MB for the 10k-file benchmark corpus): it
must stay at C speed. One ``bytes.translate`` lower-cases letters and turns
everything but letters and digits into spaces, so ``snake_case`` falls apart
into its words and comments, strings and docs give theirs; ``split`` and a
``Counter`` finish the job. CamelCase words stay whole (``singularityfunction``):
splitting them needs a regex per token, several times the cost, so the
question side adds the parts instead (see ``word_variants``).

A file's words are stored as CRC-32 hashes with their counts (8 bytes a
distinct word, about 2.5 KB a file), cached by content digest.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections import Counter
from typing import Iterable

VERSION = 2  # bump when the normalisation or the stored layout changes

_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789"
_TABLE = bytes(
    c if c in _KEEP else c + 32 if 65 <= c <= 90 else 32  # keep, lower-case A-Z, else a space
    for c in range(256)
)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")


def words(data: bytes) -> list[bytes]:
    """The index's words of ``data``, in order: lower-cased runs of ASCII letters and digits."""
    return data.translate(_TABLE).split()


def term_hash(word: str | bytes) -> int:
    return zlib.crc32(word.encode() if isinstance(word, str) else word)


def definition_hash(name: str) -> int:
    """The hash under which a file's definition of ``name`` is indexed (apart from its words)."""
    return zlib.crc32(b"\0" + name.lower().encode("utf-8", "replace"))


def file_terms(data: bytes, defines: Iterable[str] = ()) -> bytes:
    """Packed (hash, count) pairs of the distinct words of ``data`` and of the names it defines.

    Layout: uint32 hashes, then uint32 counts. A definition is one entry under definition_hash.
    Only the distinct words are hashed, and with C-level map/array calls: a Python loop over a
    file's words or even its distinct words would cost more than the rest of the scan.
    """
    counts = Counter(words(data))
    hashes = array("I", map(zlib.crc32, counts))
    tally = array("I", counts.values())
    if defines:
        named = Counter(map(definition_hash, defines))
        hashes.extend(named)
        tally.extend(named.values())
    return hashes.tobytes() + tally.tobytes()


def split_identifier(name: str) -> list[str]:
    """'parseHTTPResponse_v2' -> ['parse', 'http', 'response', 'v2'] (lowercase parts)."""
    return [p.lower() for chunk in name.split("_") for p in _CAMEL.findall(chunk) if p]


def word_variants(token: str) -> tuple[list[str], list[str]]:
    """How a token of a question can appear in the index: (its own words, extra camel-case parts).

    ``_print_SingularityFunction`` is indexed as ``print`` and ``singularityfunction``: those are
    its own words; ``singularity`` and ``function`` are the parts, which match prose and docs.
    """
    own = [w.decode() for w in words(token.encode("utf-8", "ignore"))]
    parts = [p for p in split_identifier(token) if p not in own]
    return own, parts
