"""Read the frames of a prompt the way a model would see them: every tag kimicode writes."""

from __future__ import annotations

import re

from kimicode.repo.render import FRAME_TAGS

_TAG = re.compile(r"<(/?)\s*(" + "|".join(FRAME_TAGS) + r")(?![\w-])([^>\n]*)>?", re.IGNORECASE)
_PATH = re.compile(r'path="([^"]*)"')


def frames(text: str) -> list[tuple[str, str]]:
    """(tag, path or "") of every frame opened in ``text``, in order; asserts proper nesting."""
    opened: list[tuple[str, str]] = []
    stack: list[str] = []
    for match in _TAG.finditer(text):
        closing, name, rest = match.group(1), match.group(2).lower(), match.group(3)
        if rest.rstrip().endswith("/"):
            opened.append((name, _path(rest)))
            continue  # self-closing: <diff path="x"/>
        if closing:
            assert stack and stack[-1] == name, f"</{name}> closes {stack[-1] if stack else 'nothing'} at {match.start()}"
            stack.pop()
        else:
            stack.append(name)
            opened.append((name, _path(rest)))
    assert not stack, f"frames left open: {stack}"
    return opened


def _path(attrs: str) -> str:
    found = _PATH.search(attrs)
    return found.group(1) if found else ""
