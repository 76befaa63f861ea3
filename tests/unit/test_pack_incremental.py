"""A pack made from the last one's cache (records, import graph, listing) equals a pack made from nothing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kimicode.repo.pack import PackOptions, PackResult, pack_repository
from tests.repos import make_repo

QUESTION = "ValueError: bad checksum in the frame decoder"


def _files(rng: random.Random) -> dict[str, str]:
    """Packages whose modules import each other at random, C files including headers, a README."""
    files = {"README.md": "# codec\n\nFrames in, frames out.\n"}
    modules = [f"codec/{pkg}/m{i}.py" for pkg in ("core", "io", "net") for i in range(12)]
    for path in modules:
        imports = sorted(rng.sample(modules, 3))
        names = [m[:-3].replace("/", ".") for m in imports]
        body = "".join(f"import {n}\n" for n in names)
        stem = path.rsplit("/", 1)[1][:-3]
        body += "".join(f"\n\ndef {stem}_step{j}(frame):\n    return frame[{j}:]\n" for j in range(rng.randint(1, 6)))
        files[path] = body
    files["codec/core/decoder.py"] = ("import codec.core.m1\n\n\ndef decode(frame):\n"
                                      "    if frame.checksum != 0:\n        raise ValueError('bad checksum')\n    return frame\n")
    for i in range(8):
        files[f"native/src/f{i}.c"] = f'#include "f{(i + 1) % 8}.h"\nint f{i}(void) {{ return {i}; }}\n'
        files[f"native/include/f{i}.h"] = f"int f{i}(void);\n"
    return files


def _same(a: PackResult, b: PackResult) -> None:
    assert a.text == b.text
    assert a.report.total_tokens == b.report.total_tokens
    assert a.report.ranking == b.report.ranking
    assert a.report.top == b.report.top
    assert a.report.explain == b.report.explain


@pytest.mark.parametrize("query", [None, QUESTION])
def test_packs_after_edits_adds_and_removals_equal_cold_packs(tmp_path: Path, query: str | None) -> None:
    rng = random.Random(12)
    root = tmp_path / "codec"
    make_repo(root, _files(rng))
    options = PackOptions(budget=3_000, query=query)
    kept = tmp_path / "kept"
    pack_repository(root, options, kept)

    def check(step: str) -> None:
        again = pack_repository(root, options, kept)
        cold = pack_repository(root, options, tmp_path / f"cold-{step}")
        assert cold.report.files_reused == 0
        assert again.report.files_scanned <= 2, step  # the kept cache was used, not rebuilt
        _same(again, cold)

    decoder = root / "codec/core/decoder.py"
    decoder.write_text(decoder.read_text() + "\n\ndef checksum(frame):\n    return sum(frame) % 256\n")
    check("edit")  # content changed, imports not
    decoder.write_text(decoder.read_text() + "\n# the records' snapshot is patched a second time\n")
    check("edit again")
    decoder.write_text("import codec.net.m3\nimport codec.io.m7\n" + decoder.read_text())
    check("import")  # the edited file imports other files now
    (root / "native/src/f3.c").write_text('#include "f5.h"\n#include "f6.h"\nint f3(void) { return 3; }\n')
    check("include")
    (root / "codec/io/frames.py").write_text("import codec.core.decoder\n\n\ndef frames(stream):\n    yield stream\n")
    check("added")  # a new file can change what other imports resolve to
    (root / "codec/net/m4.py").unlink()
    check("removed")
