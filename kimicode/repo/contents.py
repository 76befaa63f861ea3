"""The text that would be sent for a file, full or as an outline, redacted and counted.

Everything here is cached by content digest, so a warm pack neither re-parses
nor re-scans for secrets nor re-counts an unchanged file.
"""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

from kimicode.repo.cache import FileRecord, PackCache
from kimicode.repo.outline import Span
from kimicode.repo.parallel import map_files
from kimicode.repo.render import render_file
from kimicode.repo.scan import read_text
from kimicode.secrets import Finding, redact
from kimicode.tokens import EncodingUnavailable, TokenCounter

VERSION = "v4"  # bump when outlines, redaction or rendering change


PREFETCH_MIN = 16  # the texts of fewer files than this are made in-process


def make_text(root: Path, path: str, mode: str) -> str:
    """JSON {text, findings} of a file's full text or outline, redacted; or, for mode "spans", the
    JSON list of where its definitions sit (slices.py cuts slices along them). Pure: runs in workers too."""
    return make_texts(root, path, (mode,))[0]


def make_texts(root: Path, path: str, modes: Sequence[str], full: str | None = None) -> list[str]:
    """make_text of each of ``modes``, the file read and redacted once; from ``full`` (its full
    text as made before) without reading or redacting it again."""
    # The whole file is redacted first, outline or not: findings then give the file's own line
    # numbers, and an outline (which joins signatures and cuts long lines, so a token could lose
    # the part its format is known by) is made from text that holds no secret any more.
    if full is None:
        result = redact(read_text(root, path), path)
        text, findings = result.text, [[f.line, f.kind] for f in result.findings]
    else:
        data = json.loads(full)
        text, findings = data["text"], data["findings"]
    shaped = None
    out = []
    for mode in modes:
        if mode == "full":
            out.append(full or json.dumps({"text": text, "findings": findings}))
            continue
        if shaped is None:
            from kimicode.repo.outline import outline

            shaped = outline(path, text)
        if mode == "spans":
            out.append(json.dumps([astuple(span) for span in shaped.spans]))
        else:
            out.append(json.dumps({"text": shaped.text, "findings": findings}))
    return out


def _make_chunk(count: Callable[[str], int] | None, fmt: str, root: str, items: Sequence[tuple[str, Sequence[str], str | None]]
                ) -> list[tuple[list[str], list[int | None]]]:
    """The texts of each (path, modes, full text made before), and the raw tokens of their blocks
    (None for spans, or without ``count``)."""
    out = []
    for path, modes, full in items:
        texts = make_texts(Path(root), path, modes, full)
        counts = [None if count is None or mode == "spans" else count(render_file(path, mode, json.loads(made)["text"], fmt))
                  for mode, made in zip(modes, texts)]
        out.append((texts, counts))
    return out


@dataclass
class Contents:
    root: Path
    cache: PackCache
    counter: TokenCounter
    fmt: str
    # (path, mode) -> redactions in that text; filled whenever the text is produced
    findings: dict[tuple[str, str], tuple[Finding, ...]] = field(default_factory=dict)
    _fresh: dict[tuple[str, str], str] = field(default_factory=dict)  # made this run, not yet stored

    def _stored(self, record: FileRecord, kind: str) -> str | None:
        """What was made of ``record`` as ``kind``, this run or before (None: not made yet)."""
        return self._fresh.get((record.digest, kind)) or self.cache.get_blob(record.digest, kind)

    def _cached(self, record: FileRecord, kind: str, make) -> str:  # type: ignore[no-untyped-def]
        value = self._stored(record, kind)
        if value is None:
            value = self._fresh[(record.digest, kind)] = make()
        return value

    def _made(self, record: FileRecord, mode: str) -> str | None:
        return self._stored(record, f"{mode}:{VERSION}")

    def _make(self, record: FileRecord, mode: str) -> str:
        full = self._made(record, "full") if mode != "full" else None
        return make_texts(self.root, record.path, (mode,), full)[0]

    def prefetch(self, wanted: Sequence[tuple[FileRecord, str]]) -> None:
        """Make the texts ``wanted`` (record, mode) on every core, ahead of the one-by-one fitting:
        a file's modes together, so that it is read and redacted once."""
        missing: dict[FileRecord, list[str]] = {}
        for record, mode in wanted:
            if mode not in missing.get(record, ()) and self._made(record, mode) is None:
                missing.setdefault(record, []).append(mode)
        if len(missing) >= PREFETCH_MIN:  # what every worker would build for itself: built once, inherited
            from kimicode.repo.outline import prepare
            from kimicode.secrets.engine import detectors

            prepare(r.path for r, modes in missing.items() if modes != ["full"])
            detectors()
        # a full text made already (the workers inherit it) spares the file's other modes the redaction
        items = [(r.path, modes, None if "full" in modes else self._made(r, "full")) for r, modes in missing.items()]
        try:  # the blocks are counted where they are made, not one by one here when the plan weighs them
            self.counter.check()
            count: Callable[[str], int] | None = self.counter.raw
        except EncodingUnavailable:
            count = None  # said once, as a one-line error, when the main thread first counts
        made = map_files(partial(_make_chunk, count, self.fmt), str(self.root), items, PREFETCH_MIN)
        for (record, modes), (values, counts) in zip(missing.items(), made):
            for mode, value, raw in zip(modes, values, counts):
                self._fresh[(record.digest, f"{mode}:{VERSION}")] = value
                if raw is not None:
                    self._fresh[(record.digest, self._tokens_kind(record, mode))] = str(raw)

    def text(self, record: FileRecord, mode: str) -> str:
        data = json.loads(self._cached(record, f"{mode}:{VERSION}", lambda: self._make(record, mode)))
        self.findings[(record.path, mode)] = tuple(Finding(line, kind) for line, kind in data["findings"])
        return data["text"]

    def spans(self, record: FileRecord) -> tuple[Span, ...]:
        """Where the definitions of ``record``'s redacted text sit."""
        made = self._cached(record, f"spans:{VERSION}", lambda: self._make(record, "spans"))
        return tuple(Span(*item) for item in json.loads(made))

    def block(self, record: FileRecord, mode: str) -> str:
        return render_file(record.path, mode, self.text(record, mode), self.fmt)

    def block_raw(self, record: FileRecord, mode: str) -> int:
        """The block's tokens before calibration: counted once per content, format and path."""
        return int(self._cached(record, self._tokens_kind(record, mode), lambda: str(self.counter.raw(self.block(record, mode)))))

    def _tokens_kind(self, record: FileRecord, mode: str) -> str:
        return f"tokens:{mode}:{self.fmt}:{self.counter.encoding}:{record.path}:{VERSION}"

    def block_tokens(self, record: FileRecord, mode: str) -> int:
        return self.counter.scale(self.block_raw(record, mode))

    def flush(self) -> None:
        self.cache.put_blobs((digest, kind, value) for (digest, kind), value in self._fresh.items())
        self._fresh.clear()
