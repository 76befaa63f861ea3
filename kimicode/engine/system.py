"""The system shelf: our prompt, then the repository's own instructions (AGENTS.md or KIMI.md).

The project instructions are the repository's text: redacted like everything else sent. Ask,
chat and review all lead with this shelf, so its bytes head the cached prefix.
"""

from __future__ import annotations

from pathlib import Path

from kimicode.prompt import Redaction
from kimicode.secrets import redact

INSTRUCTION_FILES = ("AGENTS.md", "KIMI.md")


def project_instructions(root: Path | None) -> tuple[str, str] | None:
    """(file name, text) of the repository's AGENTS.md or KIMI.md, if any."""
    if root is None:
        return None
    for name in INSTRUCTION_FILES:
        path = root / name
        if path.is_file():
            return name, path.read_text(encoding="utf-8", errors="replace")
    return None


def system_shelf(prompt: str, root: Path | None, found: list[Redaction]) -> str:
    """``prompt`` followed by the project's instructions, redacted (what was found goes to ``found``)."""
    instructions = project_instructions(root)
    if not instructions:
        return prompt
    name, body = instructions
    result = redact(body, name)
    found.extend((name, f.line, f.kind) for f in result.findings)
    return prompt + f"\n# Project instructions ({name})\n\n" + result.text
