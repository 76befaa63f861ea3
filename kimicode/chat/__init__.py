"""The chat core: sessions on disk, the state record, request assembly. No UI in here.

Entry points: `kimicode.chat.start.open_session` (from settings) and
`kimicode.chat.chat.ChatSession` (the API a face drives). Submodules are imported by
their users, so importing this package costs nothing.
"""
