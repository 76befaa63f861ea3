"""Secrets in outlines: found in the whole file first, reported at the file's own line."""

import json
from pathlib import Path
from random import Random

from kimicode.repo.contents import make_text, make_texts
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


def test_modes_made_together_or_from_the_full_text_are_the_modes_made_one_by_one(tmp_path: Path) -> None:
    # a file's modes share one reading and redaction, and a full text made before spares its other
    # modes both: the texts, findings and spans must not depend on the way they were made
    token = "ghp_" + rand(Random(7), ALNUM, 36)
    text = '"""Module."""\nimport os\n\n\nclass Client:\n    """A client."""\n\n' + "".join(
        f"    def call_{i}(self, x):\n        return x * {i}\n\n" for i in range(6)
    ) + f'TOKEN = "{token}"\n'
    (tmp_path / "client.py").write_text(text, encoding="utf-8")
    modes = ("outline", "full", "spans")
    alone = [make_text(tmp_path, "client.py", mode) for mode in modes]
    assert json.loads(alone[1])["findings"] == [[text.count("\n"), "GitHub Token"]] and json.loads(alone[2])
    assert make_texts(tmp_path, "client.py", modes) == alone
    (tmp_path / "client.py").unlink()  # from the full text alone: the file is not read again
    assert make_texts(tmp_path, "client.py", ("spans", "outline"), full=alone[1]) == [alone[2], alone[0]]
