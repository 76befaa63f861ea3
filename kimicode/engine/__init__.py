"""The conversation engine: one assembler, one send policy, typed events.

Ask, chat and review build their requests with ``Assembler`` and send them with ``Sender``
(or ``send_within_budget``); what happens on the way reaches the faces as ``events``.
"""

from kimicode.engine.assembler import Assembler, Piece, Shelves, restored_block
from kimicode.engine.events import (CompactionBegan, CompactionEnded, ContentDelta, Emit, Event, Failed, Notice,
                                    ReasoningDelta, ToolCalled, TurnBegan, UsageReported, ignore)
from kimicode.engine.send import Calibration, CannotShrink, Sender, Shrink, plan_for, send_within_budget
from kimicode.engine.system import project_instructions, system_shelf

__all__ = [
    "Assembler", "Calibration", "CannotShrink", "CompactionBegan", "CompactionEnded", "ContentDelta", "Emit", "Event",
    "Failed", "Notice", "Piece", "ReasoningDelta", "Sender", "Shelves", "Shrink", "ToolCalled", "TurnBegan",
    "UsageReported", "ignore", "plan_for", "project_instructions", "restored_block", "send_within_budget", "system_shelf",
]
