"""The conversation engine: one assembler, one send policy, typed events.

Ask, chat and review build their requests with ``Assembler`` and send them with ``Sender``;
what happens on the way reaches the faces as events. The names
below load their modules on first use (PEP 562): a face that only renders events does not
load the model client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimicode.lazy import exports

if TYPE_CHECKING:
    from kimicode.engine.assembler import Assembler, Piece, Shelves, restored_block
    from kimicode.engine.events import (
        CompactionBegan,
        CompactionEnded,
        ContentDelta,
        Emit,
        Event,
        Failed,
        Notice,
        ReasoningDelta,
        ToolCalled,
        ToolFinished,
        TurnBegan,
        TurnEnded,
        UsageReported,
        ignore,
    )
    from kimicode.engine.memory import SessionMemory
    from kimicode.engine.send import Calibration, CannotShrink, Sender, Shrink, plan_for
    from kimicode.engine.system import project_instructions, system_shelf
    from kimicode.engine.tool_loop import LoopResult, ToolLoop, ToolPolicy
    from kimicode.engine.transcript import Transcript

_HOMES = {
    **dict.fromkeys(("Assembler", "Piece", "Shelves", "restored_block"), "assembler"),
    **dict.fromkeys(("CompactionBegan", "CompactionEnded", "ContentDelta", "Emit", "Event", "Failed", "Notice",
                     "ReasoningDelta", "ToolCalled", "ToolFinished", "TurnBegan", "TurnEnded", "UsageReported", "ignore"), "events"),
    **dict.fromkeys(("Calibration", "CannotShrink", "Sender", "Shrink", "plan_for"), "send"),
    **dict.fromkeys(("project_instructions", "system_shelf"), "system"),
    "SessionMemory": "memory",
    **dict.fromkeys(("LoopResult", "ToolLoop", "ToolPolicy"), "tool_loop"),
    "Transcript": "transcript",
}
__all__ = ["Assembler", "LoopResult", "ToolLoop", "ToolPolicy", "Transcript", "Calibration", "CannotShrink", "CompactionBegan", "CompactionEnded", "ContentDelta", "Emit",
    "Event", "Failed", "Notice", "Piece", "ReasoningDelta", "Sender", "SessionMemory", "Shelves", "Shrink", "ToolCalled", "ToolFinished", "TurnBegan",
    "TurnEnded", "UsageReported", "ignore", "plan_for", "project_instructions", "restored_block",
    "system_shelf"]

__getattr__ = exports(__name__, _HOMES)
