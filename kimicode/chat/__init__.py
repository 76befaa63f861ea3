"""The chat core: conversations, their sessions on disk, the state record. No UI in here.

A face opens a ``Conversation`` with ``open_conversation`` (from settings) and drives it turn by
turn; it reads sessions with ``SessionStore`` and ``load_session``. The names below load their
modules on first use (PEP 562), so importing this package costs nothing until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimicode.lazy import exports

if TYPE_CHECKING:
    from kimicode.chat.context import ContextPolicy
    from kimicode.chat.conversation import Conversation, Exchange
    from kimicode.chat.errors import ChatError
    from kimicode.chat.history import Restored
    from kimicode.chat.records import FORMAT_VERSION, SessionMeta, Turn
    from kimicode.chat.repo_shelf import RepoPacker, RepoShelf
    from kimicode.chat.session import (
        LoadedSession,
        SessionError,
        SessionFile,
        SessionLocked,
        SessionStore,
        load_session,
    )
    from kimicode.chat.start import open_conversation, switch_model

_HOMES = {
    "ContextPolicy": "context",
    **dict.fromkeys(("Conversation", "Exchange"), "conversation"),
    "Restored": "history",
    "ChatError": "errors",
    **dict.fromkeys(("FORMAT_VERSION", "SessionMeta", "Turn"), "records"),
    **dict.fromkeys(("RepoPacker", "RepoShelf"), "repo_shelf"),
    **dict.fromkeys(("LoadedSession", "SessionError", "SessionFile", "SessionLocked", "SessionStore", "load_session"),
                    "session"),
    **dict.fromkeys(("open_conversation", "switch_model"), "start"),
}
__all__ = ["ChatError", "ContextPolicy", "Conversation", "Exchange", "FORMAT_VERSION", "LoadedSession", "RepoPacker",
    "RepoShelf", "Restored", "SessionError", "SessionFile", "SessionLocked", "SessionMeta", "SessionStore", "Turn",
    "load_session", "open_conversation", "switch_model"]

__getattr__ = exports(__name__, _HOMES)
