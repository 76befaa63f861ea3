"""A block: one piece of text kimicode frames and sends (a file, an outline, a diff), kept typed
until the request is rendered."""

from __future__ import annotations

from dataclasses import dataclass

# (source, line, kind) of each secret replaced before sending; line is None when unknown
Redaction = tuple[str, int | None, str]


@dataclass(frozen=True)
class Block:
    path: str
    mode: str  # full | outline | ... (the pack's modes), or what else the caller frames
    text: str  # the body: redacted, not yet framed or escaped
    tokens: int = 0  # of the block as rendered in its request (0: not counted)
    why: str = ""  # why it was chosen (shown to the user, not to the model)
    shown: str = ""  # which part of the file a partial block shows (a slice's lines)
