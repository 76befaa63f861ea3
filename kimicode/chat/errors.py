"""The one error a conversation raises to its face: what it cannot do, in one line for the user."""


class ChatError(Exception):
    """The session cannot do what was asked; one line for the user."""
