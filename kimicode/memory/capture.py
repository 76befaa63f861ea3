"""Capture: turn an error (and what was learned about it) into a stored fingerprint.

Two ways in. ``kimicode memory add`` gives the error text and, optionally, the root cause
and fix directly. After a conversation (``ask --remember``, or the TUI once the user
confirms), the model is asked with prompts/fingerprint.md for the root cause, the fix and
the files, and the answer is stored with the error's fingerprint.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from kimicode.memory.fingerprint import ErrorShape, Fingerprint, error_shapes, fingerprint_of, safe_excerpt

SUMMARY_TOKENS = 4096  # room for the model's answer (reasoning included)
CONVERSATION_CHARS = 60_000  # of the conversation shown to the model: the head and the tail


class CaptureError(Exception):
    """Nothing could be remembered; one line saying why."""


@dataclass(frozen=True)
class FixSummary:
    fixed: bool
    root_cause: str
    fix: str
    files: tuple[str, ...] = ()


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_fingerprint(text: str, repo_root: Path | None, *, root_cause: str = "", fix: str = "",
                      files: Sequence[str] = (), commit: str = "", seen: str | None = None) -> Fingerprint:
    """The record for the first error in ``text``; raises CaptureError when there is none."""
    shapes = _shapes(text, repo_root)
    if not shapes:
        raise CaptureError("no error found in the text (a traceback, a test failure, a compiler or panic message)")
    return _record(shapes[0], repo_root, root_cause, fix, files, commit, seen)


def _shapes(error_text: str, repo_root: Path | None) -> list[ErrorShape]:
    """The errors in ``error_text``, found after its secrets are redacted: normalisation rewrites
    parts of a message (numbers, hex runs), after which a token may no longer be recognised."""
    return error_shapes(scrub(error_text), str(repo_root) if repo_root else None)


def _record(shape: ErrorShape, repo_root: Path | None, root_cause: str, fix: str, files: Sequence[str],
            commit: str, seen: str | None) -> Fingerprint:
    if not commit and repo_root is not None:
        from kimicode.memory.identity import head_commit

        commit = head_commit(repo_root)
    excerpt = safe_excerpt(shape.excerpt, str(Path.home()))
    return fingerprint_of(shape, seen=seen or now_iso(), excerpt=excerpt, root_cause=scrub(root_cause),
                          fix=scrub(fix), files=[f.strip().lstrip("./") for f in files if f.strip()], commit=commit)


def scrub(text: str) -> str:
    """Model- or user-written text is redacted too: it may quote a secret from the conversation."""
    if not text.strip():
        return ""
    from kimicode.secrets import redact

    return redact(text, "memory").text.strip()


def fix_prompt(error: str, conversation: str) -> str:
    from kimicode.locations import read_prompt

    if len(conversation) > CONVERSATION_CHARS:
        half = CONVERSATION_CHARS // 2
        conversation = conversation[:half] + "\n\n[... middle of the conversation left out ...]\n\n" + conversation[-half:]
    return string.Template(read_prompt("fingerprint.md")).safe_substitute(error=error.strip(), conversation=conversation.strip())


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def parse_fix_summary(answer: str) -> FixSummary:
    """The model's JSON answer; tolerant of a code fence or text around the object."""
    text = _FENCE.sub("", answer.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise CaptureError("the model's answer holds no JSON object")
    try:
        data = json.loads(text[start:end + 1])
    except ValueError as exc:
        raise CaptureError(f"the model's answer is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CaptureError("the model's answer is not a JSON object")
    files = data.get("files") or []
    if not isinstance(files, list):
        files = [files]
    fixed = data.get("fixed") is True

    def text_of(key: str) -> str:
        value = data.get(key)
        return value.strip() if isinstance(value, str) and value.strip().lower() not in ("", "unknown", "none", "n/a") else ""

    return FixSummary(fixed, text_of("root_cause"), text_of("fix") if fixed else "", tuple(str(f) for f in files if f))


def summarize_fix(ask: Callable[[str], str], error: str, conversation: str) -> FixSummary:
    """Ask the model what the conversation established; ``ask`` sends a prompt and returns the answer,
    or raises CaptureError (the engine's send policy does the sending: memory knows no model client)."""
    return parse_fix_summary(ask(fix_prompt(error, conversation)))


def store_fix(settings: Any, repo_root: Path | None, error_text: str, summary: FixSummary,
              data_dir: Path | None = None) -> str:
    """Store the first error in ``error_text`` with what ``summary`` says; one line for the user.

    The TUI calls this once the user confirmed the summary it showed. Never raises:
    memory is optional, so every failure is reported in the returned line.
    """
    from kimicode.memory.store import MemoryStore, MemoryUnavailable

    if repo_root is None:
        return "not remembered: memory is kept per repository, and there is none here (--no-repo)"
    shapes = _shapes(error_text, repo_root)
    if not shapes:
        return "not remembered: no error to fingerprint (a traceback, a test failure, a compiler or panic message)"
    try:
        record = _record(shapes[0], repo_root, summary.root_cause, summary.fix, summary.files, "", None)
        stored, new = MemoryStore.open(settings, repo_root, data_dir).add(record)
    except MemoryUnavailable as exc:
        return f"not remembered: memory unavailable: {exc}"
    what = "root cause and fix" if stored.fix else ("root cause, no fix" if stored.root_cause else "no root cause or fix")
    state = "new" if new else f"seen {stored.times_seen} times"
    return f"remembered {stored.error_type}: {stored.message[:80]} as {stored.id[:12]} ({state}; {what})"


def remember_conversation(settings: Any, repo_root: Path | None, error_text: str, conversation: str,
                          ask: Callable[[str], str], data_dir: Path | None = None) -> str:
    """Ask the model what the conversation established about the error, and store it: one line back.

    For `ask --remember` (the flag is the user's confirmation) and for a TUI that asks first
    should call summarize_fix and store_fix itself.
    """
    shapes = _shapes(error_text, repo_root)
    if repo_root is None or not shapes:
        return store_fix(settings, repo_root, error_text, FixSummary(False, "", ""), data_dir)
    try:
        summary = summarize_fix(ask, shapes[0].excerpt, conversation)
    except CaptureError as exc:
        return f"not remembered: {exc}"
    return store_fix(settings, repo_root, error_text, summary, data_dir)


def remember_answer(settings: Any, repo_root: Path | None, error_text: str, question: str, answer: str,
                    ask: Callable[[str], str], data_dir: Path | None = None) -> str:
    """`ask --remember`: the question and the answer are the conversation."""
    conversation = f"## The user asked\n\n{question.strip()}\n\n## The assistant answered\n\n{answer.strip()}\n"
    return remember_conversation(settings, repo_root, error_text, conversation, ask, data_dir)
