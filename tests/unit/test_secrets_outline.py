"""Secrets in outlines: found in the whole file first, reported at the file's own line."""

import json
from pathlib import Path
from random import Random

from kimicode.repo.contents import make_text
from tests.secret_samples import ALNUM, leaks, rand


def _made(root: Path, path: str, text: str, mode: str) -> tuple[str, list[list]]:
    (root / path).write_text(text, encoding="utf-8")
    data = json.loads(make_text(root, path, mode))
    return data["text"], data["findings"]


def test_outline_finding_gives_the_line_in_the_file(tmp_path: Path) -> None:
    token = "ghp_" + rand(Random(18), ALNUM, 36)
    body = [f"def helper_{i}(x):\n    return x + {i}\n" for i in range(18)]
    text = '"""Module."""\n' + "".join(body) + f'def connect(url, token="{token}"):\n    return url\n'
    line = text.splitlines().index(f'def connect(url, token="{token}"):') + 1
    assert line == 38
    outline, findings = _made(tmp_path, "client.py", text, "outline")
    assert findings == [[38, "GitHub Token"]]
    assert not leaks(token, outline) and "38: def connect(url, token=\"[REDACTED:GitHub Token]\")" in outline
    full, findings = _made(tmp_path, "client.py", text, "full")
    assert findings == [[38, "GitHub Token"]] and not leaks(token, full)


def test_token_cut_by_the_outline_does_not_leak(tmp_path: Path) -> None:
    # the head excerpt of a non-code file cuts lines at 200 characters: a token across the cut
    # kept its first characters but lost the length its pattern needs
    token = "ghp_" + rand(Random(33), ALNUM, 36)
    text = "notes\n" + "x" * 190 + " " + token + " and more\n"
    outline, findings = _made(tmp_path, "NOTES.txt", text, "outline")
    assert findings == [[2, "GitHub Token"]] and not leaks(token, outline)
