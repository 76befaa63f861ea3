"""The text that would be sent for a file, full or as an outline, redacted and counted.

Everything here is cached by content digest, so a warm pack neither re-parses
nor re-scans for secrets nor re-counts an unchanged file.
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Sequence

from kimicode.repo.cache import FileRecord, PackCache
from kimicode.repo.outline import Span
from kimicode.repo.parallel import map_files
from kimicode.repo.render import render_file
from kimicode.repo.scan import read_text
from kimicode.secrets import Finding, redact
from kimicode.tokens import TokenCounter

VERSION = "v4"  # bump when outlines, redaction or rendering change


PREFETCH_MIN = 16  # fewer uncached texts than this are made in-process


def make_text(root: Path, path: str, mode: str) -> str:
    """JSON {text, findings} of a file's full text or outline, redacted; or, for mode "spans", the
    JSON list of where its definitions sit (slices.py cuts slices along them). Pure: runs in workers too."""
    # The whole file is redacted first, outline or not: findings then give the file's own line
    # numbers, and an outline (which joins signatures and cuts long lines, so a token could lose
    # the part its format is known by) is made from text that holds no secret any more.
    result = redact(read_text(root, path), path)
    text = result.text
    if mode in ("outline", "spans"):
        from kimicode.repo.outline import outline

        made = outline(path, text)
        if mode == "spans":
            return json.dumps([astuple(span) for span in made.spans])
        text = made.text
    return json.dumps({"text": text, "findings": [[f.line, f.kind] for f in result.findings]})


def _make_chunk(root: str, items: Sequence[tuple[str, str]]) -> list[str]:
    return [make_text(Path(root), path, mode) for path, mode in items]


@dataclass
class Contents:
    root: Path
    cache: PackCache
    counter: TokenCounter
    fmt: str
    # (path, mode) -> redactions in that text; filled whenever the text is produced
    findings: dict[tuple[str, str], tuple[Finding, ...]] = field(default_factory=dict)
    _fresh: dict[tuple[str, str], str] = field(default_factory=dict)  # made this run, not yet stored

    def _cached(self, record: FileRecord, kind: str, make) -> str:  # type: ignore[no-untyped-def]
        key = (record.digest, kind)
        value = self._fresh.get(key) or self.cache.get_blob(*key)
        if value is None:
            value = self._fresh[key] = make()
        return value

    def prefetch(self, wanted: Sequence[tuple[FileRecord, str]]) -> None:
        """Make the texts ``wanted`` (record, mode) on every core, ahead of the one-by-one fitting."""
        missing = [(r, m) for r, m in wanted if (r.digest, f"{m}:{VERSION}") not in self._fresh
                   and self.cache.get_blob(r.digest, f"{m}:{VERSION}") is None]
        if len(missing) >= PREFETCH_MIN:
            from kimicode.repo.outline import prepare

            prepare(r.path for r, m in missing if m in ("outline", "spans"))
        made = map_files(_make_chunk, str(self.root), [(r.path, m) for r, m in missing], PREFETCH_MIN)
        for (record, mode), value in zip(missing, made):
            self._fresh[(record.digest, f"{mode}:{VERSION}")] = value

    def ready(self, record: FileRecord, mode: str) -> bool:
        """Whether the text of ``record`` in ``mode`` is made already (so counting it costs little)."""
        key = (record.digest, f"{mode}:{VERSION}")
        return key in self._fresh or self.cache.get_blob(*key) is not None

    def text(self, record: FileRecord, mode: str) -> str:
        data = json.loads(self._cached(record, f"{mode}:{VERSION}", lambda: make_text(self.root, record.path, mode)))
        self.findings[(record.path, mode)] = tuple(Finding(line, kind) for line, kind in data["findings"])
        return data["text"]

    def spans(self, record: FileRecord) -> tuple[Span, ...]:
        """Where the definitions of ``record``'s redacted text sit."""
        made = self._cached(record, f"spans:{VERSION}", lambda: make_text(self.root, record.path, "spans"))
        return tuple(Span(*item) for item in json.loads(made))

    def block(self, record: FileRecord, mode: str) -> str:
        return render_file(record.path, mode, self.text(record, mode), self.fmt)

    def block_raw(self, record: FileRecord, mode: str) -> int:
        """The block's tokens before calibration: counted once per content, format and path."""
        kind = f"tokens:{mode}:{self.fmt}:{self.counter.encoding}:{record.path}:{VERSION}"
        return int(self._cached(record, kind, lambda: str(self.counter.raw(self.block(record, mode)))))

    def block_tokens(self, record: FileRecord, mode: str) -> int:
        return self.counter.scale(self.block_raw(record, mode))

    def flush(self) -> None:
        self.cache.put_blobs((digest, kind, value) for (digest, kind), value in self._fresh.items())
        self._fresh.clear()
