"""The vocabulary of a request: typed messages, blocks, the budget plan and the shelf table.

Pure data and arithmetic, no I/O: the repository packer, the model client and the engine
all speak it (see docs/architecture.md for the layers).
"""

from kimicode.prompt.blocks import Block, Redaction
from kimicode.prompt.budget import (
                                    MESSAGE_OVERHEAD,
                                    NEAR_WINDOW,
                                    NEAR_WINDOW_MARGIN,
                                    OVERFLOW_SHRINK,
                                    SHARES,
                                    SHELVES,
                                    BudgetPlan,
                                    Shares,
                                    ShelfTable,
                                    framing_tokens,
                                    middle_out,
)
from kimicode.prompt.messages import Message, Role, ToolCall, TurnView, call_tokens, count_messages, fold_system, wire
from kimicode.prompt.request import Request

__all__ = [
    "Block", "BudgetPlan", "MESSAGE_OVERHEAD", "Message", "NEAR_WINDOW", "NEAR_WINDOW_MARGIN", "OVERFLOW_SHRINK",
    "Redaction", "Request", "Role", "SHARES", "SHELVES", "Shares", "ShelfTable", "ToolCall", "TurnView",
    "call_tokens", "count_messages", "fold_system", "framing_tokens", "middle_out", "wire",
]
