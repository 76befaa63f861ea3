"""`kimicode` with no command opens the TUI; its options; `--help` stays light."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from kimicode.cli import cli


def test_options_belong_to_the_tui() -> None:
    result = CliRunner().invoke(cli, ["--resume", "20261123", "pack", "--help"])
    assert result.exit_code == 2 and "give them without a command" in result.output


def test_without_a_terminal_it_says_what_to_use() -> None:
    result = CliRunner().invoke(cli, ["--resume"])
    assert result.exit_code == 2 and "needs a terminal" in result.output and "kimicode ask" in result.output


def test_help_lists_resume_and_does_not_import_textual() -> None:
    code = "import sys; from kimicode.cli import main; sys.argv=['kimicode','--help']\n" \
           "try:\n    main()\nexcept SystemExit:\n    pass\nprint('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "--resume [ID]" in out and out.strip().endswith("False")
