"""The encoding's table kept between processes (tokens._load): the same counts, damage survived."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tiktoken

from kimicode.tokens import DEFAULT_ENCODING, _kept_path

TEXT = "def f(x):\n    return x  # ünïcödé, 中文, emoji 🎉\n<|endoftext|> \t\n\n  trailing   \r\n" * 50
COUNT = "import sys\nfrom kimicode.tokens import TokenCounter\nprint(TokenCounter().raw(sys.stdin.read()))"


def _count_in_new_process(home: Path) -> int:
    env = {**os.environ, "KIMICODE_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", COUNT], input=TEXT, env=env, capture_output=True, text=True, check=True)
    return int(out.stdout)


def _kept(home: Path) -> Path:
    return home / "cache" / "tokenizers"


def test_the_kept_table_counts_as_the_library_does(tmp_path: Path) -> None:
    expected = len(tiktoken.get_encoding(DEFAULT_ENCODING).encode_ordinary(TEXT))
    home = tmp_path / "home"
    assert _count_in_new_process(home) == expected  # the library's load, which keeps the table
    kept = list(_kept(home).iterdir())
    assert len(kept) == 1 and kept[0].name.startswith(DEFAULT_ENCODING)
    assert kept[0].stat().st_mode & 0o777 == 0o600
    assert _count_in_new_process(home) == expected  # from the kept table
    assert list(_kept(home).iterdir()) == kept


def test_a_damaged_table_is_made_again(tmp_path: Path) -> None:
    expected = len(tiktoken.get_encoding(DEFAULT_ENCODING).encode_ordinary(TEXT))
    home = tmp_path / "home"
    _count_in_new_process(home)
    (kept,) = _kept(home).iterdir()
    good = kept.read_bytes()
    for damaged in (good[: len(good) // 2], good[:100] + b"x" + good[101:], b"", b"not a table at all"):
        kept.write_bytes(damaged)
        assert _count_in_new_process(home) == expected
        assert kept.read_bytes() == good  # written again whole


def test_another_tiktoken_keeps_another_table(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIMICODE_HOME", str(tmp_path))
    mine = _kept_path(DEFAULT_ENCODING, tiktoken.__version__)
    assert mine is not None and mine.parent == _kept(tmp_path)
    assert _kept_path(DEFAULT_ENCODING, "0.0.1") != mine
    assert _kept_path("another_encoding", tiktoken.__version__) != mine
