"""The review request: system prompt, context, numbered diffs; split into parts when too big.

Within each request, stable text comes first (prompt, project instructions, context files)
and the diffs last. When every diff fits the budget there is one request, with context
filling what is left. When not, the diffs are packed into parts by file; a file too big for
a part is cut by hunk, and a hunk too big by lines. Each part carries the list of every
changed file and the context for its own files; the findings of the parts are merged.

Everything sent passes through detect-secrets redaction (the added lines were already
checked: a secret there stops the review before this module runs).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from kimicode.engine.assembler import Assembler, Piece, Shelves
from kimicode.engine.system import system_shelf
from kimicode.locations import read_prompt
from kimicode.prompt import BudgetPlan, Message, Redaction, Request
from kimicode.repo.render import frame_body, render_file, xml_attr
from kimicode.review.changes import Change, ChangeSet
from kimicode.review.checks import LocalReport
from kimicode.review.patch import Hunk, counts, numbered, split_hunk
from kimicode.secrets import redact, secret_file_kind
from kimicode.tokens import TokenCounter

FULL_FILE_TOKENS = 6_000  # a changed file up to this size is sent whole; larger ones as outlines
MAX_IMPORTED = 30  # outlines of imported modules, at most, per request
MIN_ROOM = 256  # tokens for diffs below which a budget is useless
SUMMARY_LINES = 300  # files listed by name in each request

_SECTION = re.compile(r"^<!-- kimicode:(\w+) -->\n", re.MULTILINE)


class PlanError(Exception):
    """No request can be built within the budget; one line."""


Redacted = tuple[Redaction, ...]  # (path, line, kind) of each secret replaced


@dataclass(frozen=True)
class Framed:
    """A diff or a context file as the request shows it: framed, counted, and what was redacted in it."""

    path: str
    text: str
    tokens: int
    redacted: Redacted = ()


@dataclass
class Part:
    diffs: list[Framed]
    context: list[tuple[str, str]] = field(default_factory=list)  # (path, "full" | "outline")
    request: Request | None = None

    @property
    def files(self) -> list[str]:
        return list(dict.fromkeys(block.path for block in self.diffs))

    @property
    def messages(self) -> list[Message]:
        return self.request.messages if self.request else []

    @property
    def tokens(self) -> int:
        """Prompt tokens, counted exactly."""
        return self.request.tokens if self.request else 0


@dataclass
class Plan:
    parts: list[Part]
    budget: int
    redactions: list[Redaction] = field(default_factory=list)  # (path, line, kind)
    notes: list[str] = field(default_factory=list)


def prompt_sections() -> dict[str, str]:
    """prompts/review.md cut at its ``<!-- kimicode:NAME -->`` markers."""
    pieces = _SECTION.split(read_prompt("review.md"))
    return {name: body.strip("\n") + "\n" for name, body in zip(pieces[1::2], pieces[2::2], strict=True)}


class _Builder:
    def __init__(self, changes: ChangeSet, report: LocalReport, counter: TokenCounter, max_file_bytes: int) -> None:
        self.changes = changes
        self.report = report
        self.counter = counter
        self.max_file_bytes = max_file_bytes
        self._imports: dict[str, tuple[str, ...]] | None = None

    def redacted(self, text: str, path: str, numbers: list[int | None] | None = None) -> tuple[str, Redacted]:
        """``text`` with secrets replaced, and where they were (``numbers``: each line's real number)."""
        result = redact(text, path)
        where = tuple(
            (path, numbers[f.line - 1] if numbers is not None and f.line <= len(numbers) else f.line, f.kind)
            for f in result.findings
        )
        return result.text, where

    # -- diffs ------------------------------------------------------------------------

    def diff_block(self, change: Change, hunks: tuple[Hunk, ...], piece: tuple[int, int] | None = None) -> Framed:
        plus, minus = counts(change.hunks)
        attrs = f'path="{xml_attr(change.path)}" status="{change.status}"'
        if change.old_path:
            attrs += f' from="{xml_attr(change.old_path)}"'
        if change.status != "deleted":
            attrs += f' added="{plus}" removed="{minus}"'
        if piece is not None:
            attrs += f' piece="{piece[0]} of {piece[1]}"'
        if not hunks:
            return Framed(change.path, f"<diff {attrs}/>\n", self.counter.count(f"<diff {attrs}/>\n"))
        texts, found = self._hunk_texts(change.path, hunks)
        body, start = [], 0
        for hunk in hunks:
            # the section git names after "@@" is file text too (a line above the hunk): redacted alike
            section, start = texts[start], start + 1
            body.append(numbered(replace(hunk, section=section), texts[start : start + len(hunk.lines)]))
            start += len(hunk.lines)
        text = f"<diff {attrs}>\n" + frame_body("\n".join(body)) + "\n</diff>\n"
        return Framed(change.path, text, self.counter.count(text), found)

    def _hunk_texts(self, path: str, hunks: tuple[Hunk, ...]) -> tuple[list[str], Redacted]:
        """Each hunk's section then its line contents, redacted in one pass (new-file numbers in the report)."""
        lines: list[str] = []
        numbers: list[int | None] = []
        for hunk in hunks:
            lines.append(hunk.section)
            numbers.append(None)
            number = hunk.new_start
            for line in hunk.lines:
                lines.append(line[1:])
                numbers.append(None if line[:1] in ("-", "\\") else number)
                number += line[:1] in (" ", "+")
        text, found = self.redacted("\n".join(lines), path, numbers)
        return text.split("\n"), found

    def units(self, change: Change, capacity: int) -> list[Framed]:
        """``change`` as one block, or cut by hunk (then by lines) into blocks within ``capacity``."""
        whole = self.diff_block(change, change.hunks)
        if whole.tokens <= capacity or len(change.hunks) == 0:
            return [whole]
        pieces: list[tuple[Hunk, int]] = []
        for hunk in change.hunks:
            pieces.extend(self._fit_hunk(change, hunk, capacity))
        # Consecutive hunks share a block while it fits; a block's size is estimated as the
        # sum of its hunks' blocks less the repeated <diff> wrapper (counting every trial
        # grouping exactly would be quadratic in the number of hunks).
        wrapper = self.diff_block(change, (), (1, 1)).tokens
        groups: list[list[Hunk]] = [[]]
        used = wrapper
        for hunk, tokens in pieces:
            if groups[-1] and used + tokens - wrapper > capacity:
                groups.append([])
                used = wrapper
            groups[-1].append(hunk)
            used += tokens - wrapper
        return [self.diff_block(change, tuple(g), (i, len(groups))) for i, g in enumerate(groups, start=1)]

    def _fit_hunk(self, change: Change, hunk: Hunk, capacity: int) -> list[tuple[Hunk, int]]:
        """``hunk`` cut by lines into pieces within ``capacity``, each with its block's tokens."""
        size = self.diff_block(change, (hunk,), (1, 1)).tokens
        if size <= capacity:
            return [(hunk, size)]
        max_lines = max(1, int(len(hunk.lines) * capacity / size * 0.9))
        while True:
            sized = [(p, self.diff_block(change, (p,), (1, 1)).tokens) for p in split_hunk(hunk, max_lines)]
            if max_lines == 1 or all(tokens <= capacity for _, tokens in sized):
                return sized  # a single line longer than a part is sent anyway (the provider may refuse it)
            max_lines = max(1, max_lines // 2)

    # -- context ----------------------------------------------------------------------

    def file_block(self, path: str, text: str, mode: str) -> Framed | None:
        if mode == "outline":
            from kimicode.repo.outline import outline

            text = outline(path, text).text
            if not text.strip():
                return None
        clean, found = self.redacted(text, path)
        body = render_file(path, mode, clean, "xml")
        return Framed(path, body, self.counter.count(body), found)

    def imported(self) -> dict[str, tuple[str, ...]]:
        """Changed file -> repository files it imports (regex scan, then import resolution)."""
        if self._imports is None:
            from kimicode.repo.languages import language_for
            from kimicode.repo.symbols import RepoPathIndex, resolve_imports, scan

            index = RepoPathIndex(self.changes.source.paths())
            self._imports = {}
            for path, text in self.report.texts.items():
                language = language_for(path)
                found = scan(language, text).imports
                self._imports[path] = resolve_imports(path, language, found, index) if found else ()
        return self._imports

    def imported_text(self, path: str) -> str | None:
        from kimicode.repo.files import content_reason
        from kimicode.repo.scan import decode

        if secret_file_kind(path):
            return None
        size = self.changes.source.size(path)
        if size is None or size > self.max_file_bytes:
            return None
        data = self.changes.source.read(path)
        if data is None or content_reason(data):
            return None
        return decode(data)[0]


def _summary(changes: ChangeSet, report: LocalReport) -> str:
    lines = []
    for change in report.reviewable:
        plus, minus = counts(change.hunks)
        moved = f" from {change.old_path}" if change.old_path else ""
        lines.append(f"- {change.path} ({change.status}{moved}" + ("" if change.status == "deleted" else f", +{plus} -{minus}") + ")")
    lines.extend(f"- {skip.path} (not shown: {skip.reason})" for skip in report.skipped)
    if len(lines) > SUMMARY_LINES:
        lines = lines[:SUMMARY_LINES] + [f"- ... and {len(lines) - SUMMARY_LINES} more"]
    total = len(report.reviewable) + len(report.skipped)
    return f"{total} changed file{'s' if total != 1 else ''}:\n" + "\n".join(lines)


def _pack(units: list[Framed], capacity: int) -> list[list[Framed]]:
    parts: list[list[Framed]] = [[]]
    used = 0
    for unit in units:
        if parts[-1] and used + unit.tokens > capacity:
            parts.append([])
            used = 0
        parts[-1].append(unit)
        used += unit.tokens
    return parts


MEMORY_QUERY_CHARS = 20_000  # of the added lines, for the memory search: enough to name the subject and errors


def memory_query(changes: ChangeSet, report: LocalReport) -> str:
    """What the memory shelf of a review is recalled for: the changed files' names and added lines."""
    lines = [f"Changes to {', '.join(c.path for c in report.reviewable[:SUMMARY_LINES])}"]
    size = len(lines[0])
    for change in report.reviewable:
        for hunk in change.hunks:
            for line in hunk.lines:
                if line.startswith("+") and size < MEMORY_QUERY_CHARS:
                    lines.append(line[1:])
                    size += len(line)
    return "\n".join(lines)


def build_plan(changes: ChangeSet, report: LocalReport, counter: TokenCounter, plan: BudgetPlan, budget: int,
               max_file_bytes: int, recall: Callable[[str, int, Sequence[str]], str] | None = None) -> Plan:
    """Requests for ``report.reviewable``, each within ``budget`` prompt tokens (and the plan's window).

    ``recall`` (kimicode.engine.memory.SessionMemory.shelf) gives the memory shelf every part carries:
    remembered errors, conventions and decisions that bear on the changed files."""
    budget = min(budget, plan.prompt_limit)
    prompts = prompt_sections()
    builder = _Builder(changes, report, counter, max_file_bytes)
    redactions: list[Redaction] = []
    system = system_shelf(prompts["system"], changes.root, redactions)
    assembler = Assembler(plan, counter)
    user = string.Template(prompts["user"])
    summary = _summary(changes, report)
    part_note = string.Template(prompts["part"])
    files = [c.path for c in report.reviewable]
    memory = recall(memory_query(changes, report), plan.share("recall", budget), files) if recall is not None else ""
    memory = frame_body(memory.rstrip()) + "\n\n" if memory.strip() else ""

    def request(context: str, diffs: str, part: str) -> Request:
        text = user.substitute(context="", label=changes.label, summary=summary, diffs=diffs, part=part)
        tail = (Piece("repo", context), Piece("memory", memory), Piece("recent", text))
        return assembler.assemble(Shelves(system, tail=tail))

    fixed = request("", "", part_note.substitute(n=999, total=999)).tokens
    if plan.prompt_cap is not None:  # a slow local model: its diff gets PACED_ROOM a part however slow it is
        budget = max(budget, plan.with_room(fixed).prompt_limit)
    room = budget - fixed
    if room < MIN_ROOM:
        raise PlanError(f"a review budget of {budget:,} tokens leaves no room for the diff: the prompt and file list alone take {fixed:,}")
    whole = [builder.diff_block(change, change.hunks) for change in report.reviewable]
    notes: list[str] = []
    if sum(block.tokens for block in whole) <= room:
        groups = [whole]
    else:
        capacity = int(room * plan.shares.review_part)
        units = [unit for change in report.reviewable for unit in builder.units(change, capacity)]
        groups = _pack(units, capacity)
        how = "file and hunk" if len(units) > len(whole) else "file"
        notes.append(f"the diff ({sum(b.tokens for b in whole):,} tokens) does not fit one request "
                     f"({room:,} tokens left of {budget:,}): split by {how} into {len(groups)} parts")
    parts = [Part(group) for group in groups]
    for number, part in enumerate(parts, start=1):
        diffs = "".join(block.text for block in part.diffs)
        spare = room - sum(block.tokens for block in part.diffs)
        context = _context(builder, part, spare)
        note = part_note.substitute(n=number, total=len(parts)) if len(parts) > 1 else ""
        shown = "".join(b.text for b in context) + ("\n" if context else "")
        part.request = request(shown, diffs, note)
        for block in part.diffs + context:
            redactions.extend(block.redacted)
    return Plan(parts, budget, sorted(set(redactions), key=lambda r: (r[0], r[1] or 0, r[2])), notes)


def _context(builder: _Builder, part: Part, spare: int) -> list[Framed]:
    """Full text (small files) or outlines of this part's files, then outlines of what they import."""
    chosen: list[Framed] = []
    texts = builder.report.texts
    touched = [path for path in part.files if path in texts]
    for path in touched:
        text = texts[path]
        modes = ("full", "outline") if builder.counter.estimate_bytes(len(text.encode("utf-8"))) <= FULL_FILE_TOKENS else ("outline",)
        for mode in modes:
            block = builder.file_block(path, text, mode)
            if block is not None and block.tokens <= spare:
                chosen.append(block)
                part.context.append((path, mode))
                spare -= block.tokens
                break
    importers: dict[str, int] = {}
    for path in touched:
        for target in builder.imported().get(path, ()):
            if target not in touched:
                importers[target] = importers.get(target, 0) + 1
    # Modules several changed files import first; then by path, for a stable prompt prefix.
    for target in sorted(importers, key=lambda t: (-importers[t], t))[:MAX_IMPORTED]:
        source = builder.imported_text(target)
        block = builder.file_block(target, source, "outline") if source is not None else None
        if block is not None and block.tokens <= spare:
            chosen.append(block)
            part.context.append((target, "outline"))
            spare -= block.tokens
    return chosen
