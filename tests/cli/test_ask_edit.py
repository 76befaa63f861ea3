"""`ask --edit`, `undo` and `diff` end to end: a scripted model on the loopback server calls the edit
tools in real git repositories; each test checks the files, git's state, what the model was told and
what the user saw."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.runner import run_cli, run_process
from tests.cli.test_ask_tools import ask, calls
from tests.cli.test_ask_tools import tool_messages as results
from tests.openai_server import OpenAIServer
from tests.repos import make_repo, write_files

FAST = "max_retries = 1\ntimeout = 5.0\n"
APP = b"def main():\r\n    return 1\r\n"  # CRLF: kept as it is
LIB = b"VALUE = 1\n\ndef helper():\n    return VALUE"  # no newline at the end
REPO: dict[str, str | bytes] = {".kimicode.toml": FAST, ".gitignore": "build/\n", "app.py": APP, "lib.py": LIB,
                                "other.py": "OTHER = 1\n", "staged.py": "STAGED = 1\n"}


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    make_repo(root, REPO)
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def test_without_yes_the_diff_is_printed_nothing_is_written_and_the_exit_code_is_3(
        tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "app.py", "old": "return 1", "new": "return 2"})))
    openai_server.reply("I proposed the change.")
    result = ask(root, openai_server, "--edit", "make main return 2")
    assert result.returncode == 3, result.stderr
    # (click's runner reads stdout with \r\n made \n)
    assert "--- a/app.py\n+++ b/app.py\n" in result.stdout and "-    return 1\n+    return 2\n" in result.stdout
    assert (root / "app.py").read_bytes() == APP
    assert "declined" in results(openai_server.chat_requests[1].body)["call_edit_file_0"]
    assert "1 proposed change(s) not applied: rerun with --yes" in result.stderr
    assert run_cli("undo", cwd=root).returncode == 1  # nothing was recorded: nothing to undo


def test_the_users_dirty_tree_is_untouched_and_undo_after_a_restart_restores_bytes(
        tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    write_files(root, {"other.py": "OTHER = 'the user is working here'\n", "staged.py": "STAGED = 'staged by the user'\n",
                       "untracked.txt": "mine\n"})
    git(root, "add", "staged.py")
    before = {p: (root / p).read_bytes() for p in ("other.py", "staged.py", "untracked.txt")}
    status, cached = git(root, "status", "--porcelain"), git(root, "diff", "--cached")
    openai_server.reply("", tool_calls=calls(
        ("edit_file", {"path": "app.py", "old": "def main():\n    return 1\n", "new": "def main():\n    return 2\n"}),
        ("edit_file", {"path": "lib.py", "old": "    return VALUE", "new": "    return VALUE + 1"}),
        ("write_file", {"path": "pkg/new.py", "content": "NEW = True\n"})))
    openai_server.reply("Done.")
    result = ask(root, openai_server, "--edit", "--yes", "change things")
    assert result.returncode == 0, result.stderr
    assert all("applied" in text for text in results(openai_server.chat_requests[1].body).values())
    assert (root / "app.py").read_bytes() == b"def main():\r\n    return 2\r\n"
    assert (root / "lib.py").read_bytes() == LIB.replace(b"return VALUE", b"return VALUE + 1")
    assert {p: (root / p).read_bytes() for p in before} == before
    assert git(root, "diff", "--cached") == cached and git(root, "stash", "list") == ""
    edited = {line[3:] for line in git(root, "status", "--porcelain").splitlines()} - {line[3:] for line in status.splitlines()}
    assert edited == {"app.py", "lib.py", "pkg/"}

    shown = run_cli("diff", "--stat", cwd=root)
    assert shown.stdout.splitlines() == ["app.py: modified, +1 -1", "lib.py: modified, +1 -1", "pkg/new.py: created, +1 -0"]
    undone = run_process("undo", cwd=root)  # a new process: only the session on disk knows the set
    assert undone.returncode == 0, undone.stderr
    assert (root / "app.py").read_bytes() == APP and (root / "lib.py").read_bytes() == LIB
    assert not (root / "pkg" / "new.py").exists()
    assert {p: (root / p).read_bytes() for p in before} == before and git(root, "status", "--porcelain") == status
    again = run_cli("undo", cwd=root)
    assert again.returncode == 1 and again.stderr.strip() == "kimicode: error: kimicode has no changes to undo in this repository"
    assert run_cli("diff", cwd=root).stdout == ""


def test_undo_refuses_in_one_line_when_a_file_changed_since_kimicode_wrote_it(
        tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "other.py", "old": "OTHER = 1", "new": "OTHER = 2"})))
    openai_server.reply("Done.")
    assert ask(root, openai_server, "--edit", "--yes", "set OTHER to 2").returncode == 0
    (root / "other.py").write_text("OTHER = 'the user went on editing'\n")
    refused = run_cli("undo", cwd=root)
    assert refused.returncode == 1
    assert refused.stderr == "kimicode: error: other.py changed since kimicode wrote it: nothing was undone\n"
    assert (root / "other.py").read_text() == "OTHER = 'the user went on editing'\n"


def test_a_non_matching_edit_goes_back_to_the_model_with_the_nearest_lines(
        tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "lib.py", "old": "def helper():\n    return VALUES",
                                                              "new": "x"}),
                                             ("edit_file", {"path": "../outside.py", "old": "a", "new": "b"}),
                                             ("write_file", {"path": ".env", "content": "KEY=1\n"})))
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "lib.py", "old": "  def helper():\n      return VALUE",
                                                              "new": "  def helper():\n      return VALUE * 2"})))
    openai_server.reply("Fixed.")
    result = ask(root, openai_server, "--edit", "--yes", "double it")
    assert result.returncode == 0, result.stderr
    told = results(openai_server.chat_requests[1].body)
    assert "not in lib.py" in told["call_edit_file_0"] and "3| def helper():" in told["call_edit_file_0"]
    assert "leaves the repository" in told["call_edit_file_1"] and "secret file" in told["call_write_file_2"]
    assert results(openai_server.chat_requests[2].body)["call_edit_file_0"].endswith("\napplied lib.py: modified, +1 -1")
    assert (root / "lib.py").read_bytes() == LIB.replace(b"return VALUE", b"return VALUE * 2")  # re-indented, no newline added
    assert not (root / ".env").exists() and not (tmp_path / "outside.py").exists()


def test_diff_commit_commits_only_kimicodes_files(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    write_files(root, {"other.py": "OTHER = 'uncommitted work'\n", "staged.py": "STAGED = 'staged work'\n"})
    git(root, "add", "staged.py")
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "lib.py", "old": "VALUE = 1", "new": "VALUE = 2"}),
                                             ("write_file", {"path": "docs/new.md", "content": "# new\n"})))
    openai_server.reply("Done.")
    assert ask(root, openai_server, "--edit", "--yes", "bump").returncode == 0
    committed = run_cli("diff", "--commit", cwd=root)
    assert committed.returncode == 0, committed.stderr
    assert "committed 2 file(s)" in committed.stderr and "+VALUE = 2" in committed.stdout
    assert git(root, "show", "--name-only", "--format=%s", "HEAD").split() == ["kimicode:", "change", "lib.py,", "new.md",
                                                                             "docs/new.md", "lib.py"]
    assert git(root, "status", "--porcelain").splitlines() == [" M other.py", "M  staged.py"]
    assert git(root, "diff", "--cached", "--name-only") == "staged.py\n"


def test_diff_commit_refuses_a_file_that_held_the_users_changes(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    write_files(root, {"other.py": "OTHER = 1\nMINE = 'uncommitted'\n"})
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "other.py", "old": "OTHER = 1", "new": "OTHER = 2"})))
    openai_server.reply("Done.")
    assert ask(root, openai_server, "--edit", "--yes", "bump").returncode == 0
    head = git(root, "rev-parse", "HEAD")
    refused = run_cli("diff", "--commit", cwd=root)
    assert refused.returncode == 1 and "held uncommitted changes of yours" in refused.stderr
    assert git(root, "rev-parse", "HEAD") == head


def test_the_tests_still_failing_after_the_rounds_exit_1_and_keep_the_edits(
        tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "other.py", "old": "OTHER = 1", "new": "OTHER = 2"})))
    openai_server.reply("Try this.")
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "other.py", "old": "OTHER = 2", "new": "OTHER = 3"})))
    openai_server.reply("And this.")
    check = f"{sys.executable} -c \"import sys; sys.exit('ValueError: OTHER must be 4')\""
    result = ask(root, openai_server, "--edit", "--yes", "--test-cmd", check, "--test-rounds", "1", "--no-remember", "fix")
    assert result.returncode == 1, result.stderr
    assert "the tests still fail" in result.stderr and "after 1 round(s)" in result.stderr
    assert (root / "other.py").read_text() == "OTHER = 3\n" and len(openai_server.chat_requests) == 4
    assert "ValueError: OTHER must be 4" in openai_server.chat_requests[2].body["messages"][-1]["content"]
    assert "remembered" not in result.stderr


def test_edit_flags_need_edit_and_edit_needs_a_repository_and_tools(tmp_path: Path) -> None:
    root = repo(tmp_path)
    for args, words in ((["--yes"], "--yes goes with --edit"), (["--test-cmd", "true"], "--test-cmd goes with --edit"),
                        (["--edit", "--no-repo"], "needs a repository"), (["--edit", "--no-tools"], "needs the tools")):
        result = run_cli("ask", *args, "question", cwd=root, env={"KIMICODE_API_KEY": "k"})
        assert result.returncode == 2 and words in result.stderr, (args, result.stderr)


def test_json_keeps_stdout_one_object_and_a_test_command_that_cannot_run_stops_the_loop(
        tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "other.py", "old": "OTHER = 1", "new": "OTHER = 2"})))
    openai_server.reply("Done.")
    result = ask(root, openai_server, "--edit", "--yes", "--json", "--test-cmd", "no-such-test-runner-xyz", "bump")
    assert result.returncode == 1, result.stderr
    body = json.loads(result.stdout)
    assert body["answer"] == "Done." and body["edits"]["applied"] == [{"path": "other.py", "kind": "modify"}]
    assert body["edits"]["tests"][0]["exit"] == 127 and body["edits"]["session"]
    assert "+OTHER = 2" in result.stderr and "the test command could not run (exit 127" in result.stderr
    assert len(openai_server.chat_requests) == 2  # nothing went back to the model


def _until_reading(pid: int, seconds: float = 20) -> None:
    """Until the process sleeps in the terminal's read (or ``seconds`` pass): a signal sent before that
    read starts waits unseen in CPython's input(), which a loaded machine makes likely."""
    import time

    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}/wchan").read_text() != "wait_woken" and time.monotonic() < deadline:
        time.sleep(0.05)


def _on_a_terminal(root: Path, server: OpenAIServer, answers: list[bytes | int], *args: str) -> tuple[int, str]:
    """``kimicode ask ARGS`` on a pseudo-terminal; at each [y/N] the next answer is typed (bytes)
    or sent as a signal (int: Ctrl-C is the terminal sending SIGINT). The exit code and all it showed."""
    import os
    import pty
    import select
    import signal
    import time

    master, slave = pty.openpty()
    # SIGINT not ignored, as from a terminal: a suite run in the background (`nohup pytest &`) has it
    # ignored, its children inherit that, and Python then keeps ignoring it: the Ctrl-C never came
    proc = subprocess.Popen([sys.executable, "-m", "kimicode", "ask", *args], cwd=root,
                            env={**os.environ, "KIMICODE_BASE_URL": server.base_url, "PYTHONFAULTHANDLER": "1"},
                            stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    seen, asked = b"", 0
    signalled: tuple[int, float, int] | None = None  # the signal sent, when, and how much had been seen then
    deadline = time.monotonic() + 90
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
            if asked < len(answers) and seen.count(b"[y/N]") > asked:
                answer = answers[asked]
                if isinstance(answer, bytes):
                    os.write(master, answer)
                else:
                    _until_reading(proc.pid)
                    proc.send_signal(answer)
                    signalled = (answer, time.monotonic(), len(seen))
                asked += 1
            elif signalled and time.monotonic() - signalled[1] > 3 and len(seen) == signalled[2]:
                # sent between the prompt and the read of its answer, a signal waits unseen (CPython's
                # input() without readline): a user would press Ctrl-C again, and so does this
                proc.send_signal(signalled[0])
                signalled = (signalled[0], time.monotonic(), len(seen))
        try:
            # the loop also ends when the terminal closes (EIO), as the process exits: a moment on
            proc.wait(timeout=max(deadline - time.monotonic(), 0) + 5)
        except subprocess.TimeoutExpired:
            # Hung: SIGABRT makes faulthandler print every thread's stack on the terminal, so the
            # failure shows where it waits.
            proc.send_signal(signal.SIGABRT)
            while select.select([master], [], [], 5)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
            proc.wait(timeout=30)
            raise AssertionError("still running after its answers:\n" + seen.decode("utf-8", "replace")) from None
    finally:
        os.close(master)
    return proc.returncode, seen.decode("utf-8", "replace")


def test_on_a_terminal_the_user_answers_y_or_n_per_change(tmp_path: Path, openai_server: OpenAIServer) -> None:
    root = repo(tmp_path)
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "other.py", "old": "OTHER = 1", "new": "OTHER = 2"}),
                                             ("edit_file", {"path": "staged.py", "old": "STAGED = 1", "new": "STAGED = 2"})))
    openai_server.reply("Done.")
    code, text = _on_a_terminal(root, openai_server, [b"y\n", b"n\n"], "--edit", "change both")
    assert code == 3, text  # one change declined
    assert "Apply this change to other.py? [y/N]" in text and "Apply this change to staged.py? [y/N]" in text
    assert (root / "other.py").read_text() == "OTHER = 2\n" and (root / "staged.py").read_text() == "STAGED = 1\n"
    told = results(openai_server.chat_requests[1].body)
    assert told["call_edit_file_0"].endswith("applied other.py: modified, +1 -1") and "declined" in told["call_edit_file_1"]


def test_ctrl_c_at_the_question_stops_the_run_and_keeps_what_was_applied(tmp_path: Path, openai_server: OpenAIServer) -> None:
    import signal

    root = repo(tmp_path)
    openai_server.reply("", tool_calls=calls(("edit_file", {"path": "other.py", "old": "OTHER = 1", "new": "OTHER = 2"}),
                                             ("edit_file", {"path": "staged.py", "old": "STAGED = 1", "new": "STAGED = 2"})))
    openai_server.reply("Done.")
    code, text = _on_a_terminal(root, openai_server, [b"y\n", signal.SIGINT], "--edit", "change both")
    assert code == 130, text
    assert "kimicode: stopped: at the question" in text and "Traceback" not in text and "Fatal" not in text
    assert (root / "other.py").read_text() == "OTHER = 2\n" and (root / "staged.py").read_text() == "STAGED = 1\n"
    assert len(openai_server.chat_requests) == 1  # nothing more was asked of the model
