"""A request as built: the messages, what each shelf spends, and what the user should be told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kimicode.prompt.blocks import Redaction
from kimicode.prompt.budget import ShelfTable
from kimicode.prompt.messages import Message


@dataclass
class Request:
    messages: list[Message]
    shelves: ShelfTable
    tokens: int  # our count of the prompt, framing included (exact, or a bound never below it)
    limit: int  # window - reply: never exceeded
    notes: list[str] = field(default_factory=list)  # said to the user, never sent
    redactions: list[Redaction] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)  # the tools offered (counted on the system shelf)

    @property
    def reply(self) -> int:
        return self.shelves.sizes.get("reply", 0)
