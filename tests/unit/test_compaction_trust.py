"""Compaction you can trust: the frontier and environment carried by code, pins, the check pass,
the probe, the no-growth guard, the ledger and the telemetry.

Summaries come from the loopback server; sessions are real JSONL files under the isolated home.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kimicode.chat import SessionFile, load_session
from kimicode.chat.compaction import fold
from kimicode.chat.conversation import Conversation
from kimicode.chat.export import ledgers, to_json, to_markdown
from kimicode.chat.frontier import carry, extract
from kimicode.chat.ledger import check, draw_up
from kimicode.chat.state import StateRecord, fit, parse_patch, render
from kimicode.chat.summarize import Summarizer
from kimicode.chat.telemetry import reach
from kimicode.cli import cli
from tests.openai_server import OpenAIServer
from tests.unit.test_state import COUNTER, client_for, new_session, prose, turn

SETUP = """Let us set the project up first.
```bash
export DATABASE_URL=postgres://app:hunter2@localhost:5432/shop
export STRIPE_SECRET_KEY=sk_live_abcdefghijklmnopqrstuvwx
export API_PORT=8000
docker compose up -d db
uv sync
```
The cache is redis at redis://localhost:6379/0 and the API runs on port 8000.
"""


def kinds(found: list, kind: str) -> list[str]:
    return [f.text for f in found if f.kind == kind]


# -- the frontier and the environment, found by code ------------------------------------------


def test_frontier_and_environment_are_found_verbatim_and_credentials_by_name_only() -> None:
    found = extract([
        turn(1, "user", SETUP),
        turn(2, "assistant", "Done: the schema migration for orders. Next: add the refund endpoint in api/refunds.py. "
                             "We are blocked on the payments sandbox being down. I'm working on the refund tests."),
        turn(3, "output", "AWS_SESSION_TOKEN=[REDACTED]\nServer listening on http://localhost:3000"),
        turn(4, "user", "Run `pytest -x tests/api` before every commit; $ make lint also."),
    ])
    env = kinds(found, "env")
    assert "docker compose up -d db" in env and "uv sync" in env and "export API_PORT=8000" in env
    assert "pytest -x tests/api" in env
    assert "service http://localhost:3000" in env and not any("AWS_SESSION_TOKEN" in text for text in env)
    assert "credential STRIPE_SECRET_KEY is needed (name only; its value is never kept)" in env
    assert not any("sk_live" in text or "hunter2" in text for text in env)  # values never, userinfo never
    assert "service postgres://localhost:5432/shop" in env and "service redis://localhost:6379/0" in env
    assert kinds(found, "done") == ["Done: the schema migration for orders."]
    assert kinds(found, "next") == ["Next: add the refund endpoint in api/refunds.py."]
    assert kinds(found, "blocker") == ["We are blocked on the payments sandbox being down."]
    assert kinds(found, "doing") == ["I'm working on the refund tests."]


def test_a_newer_next_action_or_value_supersedes_the_older_one_with_a_reason() -> None:
    record = StateRecord()
    carry(record, extract([turn(1, "user", "Next: write the parser. export API_PORT=8000 is set.\n```sh\nexport API_PORT=8000\n```"),
                           turn(2, "assistant", "Done: the lexer.")]), 1)
    added, superseded = carry(record, extract([
        turn(9, "user", "Next: wire the parser into the CLI.\n```sh\nexport API_PORT=9000\n```"),
        turn(10, "assistant", "Done: the parser.")]), 2)
    active = {i.kind: [x.text for x in record.active(i.kind)] for i in record.items}
    assert active["next"] == ["Next: wire the parser into the CLI."]
    assert active["env"] == ["export API_PORT=9000"]
    assert active["done"] == ["Done: the lexer.", "Done: the parser."]  # done work accumulates
    assert len(superseded) == 2
    for item_id in superseded:
        old = record.get(item_id)
        assert old.status == "retired" and old.reason.startswith("superseded by ") and "(compaction 2)" in old.reason


def test_the_model_may_end_a_carried_next_action_but_never_reword_it_or_retire_the_environment() -> None:
    record = StateRecord()
    carry(record, extract([turn(1, "user", "Next: run the migration on staging.\n```bash\nmake migrate\n```")]), 1)
    answer = json.dumps({"update": [{"id": "N1", "text": "Work continues."}],
                         "retire": [{"id": "N1", "reason": "the migration ran in turn 5"},
                                    {"id": "V1", "reason": "not needed"}]})
    patch = parse_patch(answer, record, {1, 5})
    assert patch.retire == [("N1", "the migration ran in turn 5")] and patch.update == []
    assert any("V1" in d and "carried verbatim" in d for d in patch.dropped)


# -- pins ------------------------------------------------------------------------------------


def test_a_pinned_item_is_never_summarized_evicted_or_reworded(tmp_path: Path, openai_server: OpenAIServer) -> None:
    with new_session(tmp_path, openai_server) as session:
        record = session.history.record
        fact = record.add("fact", "The staging database is db-stg-2.", [1], "model")
        session.history.pin(item=fact.id)
        assert fact.pinned and fact.carried and record.ledger()[fact.id] == fact.text
        patch = parse_patch(json.dumps({"update": [{"id": fact.id, "text": "A database."}],
                                        "retire": [{"id": fact.id, "reason": "old"}]}), record, {1})
        assert patch.size == 0  # the model may not touch it
        for n in range(40):
            record.add("fact", f"filler fact number {n} about trains and lunch", [n], "model")
        fit(record, cap=40, count=COUNTER.count, number=1)
        assert fact.active and f"[{fact.id}] The staging database is db-stg-2." in render(record)
        session.history.unpin(fact.id)
        assert not fact.pinned and fact.active  # unpinned: summarized again from now on, still there
        saved = load_session(session.path).records[-1].record
        assert not saved.get(fact.id).pinned


# -- the check pass --------------------------------------------------------------------------


def test_the_check_pass_puts_back_a_dropped_or_reworded_carried_item() -> None:
    expected = StateRecord()
    expected.add("constraint", "Never push to main.", [1], "floor")
    expected.add("env", "docker compose up -d db", [1], "floor", key="command:docker compose up -d db")
    pinned = expected.add("fact", "Port 5433.", [2], "model")
    pinned.pinned = True
    expected.add("next", "Next: tag the release.", [3], "floor")
    result = expected.copy()
    result.items = [i for i in result.items if i.id != "V1"]
    result.get("F1").text = "A port."
    ended = result.get("N1")
    ended.status, ended.reason = "retired", "tagged in turn 9 (compaction 2)"
    outcome = check(expected, result)
    assert outcome.checked == 4 and sorted(outcome.restored) == ["F1", "V1"] and outcome.absent == []
    assert result.get("F1").text == "Port 5433." and result.get("V1").active
    assert not result.get("N1").active  # a next action the model ended, with a reason, stays ended


# -- the probe -------------------------------------------------------------------------------


def test_the_probe_adds_what_the_summary_lost_within_the_input(openai_server: OpenAIServer) -> None:
    turns = [turn(5, "user", "The invoice service listens on 7070 and retries three times. " + prose(1, 150)),
             turn(6, "assistant", "Understood. " + prose(2, 150))]
    openai_server.reply(json.dumps({"goal": "Fix invoices.", "add": [{"kind": "fact", "text": "Invoices retry.", "turns": [5]}]}))
    openai_server.reply(json.dumps({"add": [{"kind": "env", "text": "The invoice service listens on port 7070.", "turns": [5]},
                                            {"kind": "fact", "text": "Invoices are retried three times.", "turns": [5]}]}))
    with client_for(openai_server) as client:
        result = fold(StateRecord(), turns, summarizer=Summarizer(client, COUNTER, 6_000, 500), count=COUNTER.count,
                      cap=2_000, probe=True)
    texts = {i.text for i in result.record.active()}
    assert {"Invoices retry.", "The invoice service listens on port 7070.", "Invoices are retried three times."} <= texts
    assert result.probe.startswith("added 2 items")
    probe = openai_server.chat_requests[-1].body
    assert "You check a summary" in probe["messages"][0]["content"] and probe["max_tokens"] == 500
    assert "Invoices retry." in probe["messages"][0]["content"]  # it sees the summary it checks

    openai_server.reply(json.dumps({"add": []}))
    openai_server.reply("no JSON here")
    with client_for(openai_server) as client:
        failed = fold(StateRecord(), turns, summarizer=Summarizer(client, COUNTER, 6_000, 500), count=COUNTER.count,
                      cap=2_000, probe=True)
    assert failed.method == "model" and failed.probe.startswith("not merged: the model's probe was unusable")


# -- never grow, never loop ------------------------------------------------------------------


def test_a_compaction_that_would_grow_the_context_is_abandoned_and_not_retried(tmp_path: Path,
                                                                              openai_server: OpenAIServer) -> None:
    paths = " ".join(f"m{n}/x{n}.py" for n in range(40))  # short turns whose floor outweighs them
    with new_session(tmp_path, openai_server) as session:
        for n in range(3):
            openai_server.reply("ok")
            session.send(f"{paths} {n}")
        before = session.history.tokens(session.budget.history_room())
        openai_server.reply(json.dumps({"add": []}))
        reports = session.compact()
        assert [r.method for r in reports] == ["abandoned"]
        report = reports[0]
        assert report.history_after == report.history_before == before and "does not shrink" in report.notes[0]
        assert session.record.through == 0 and not session.record.active()  # the record stayed as it was
        assert session.history.tokens(session.budget.history_room()) == before
        assert session.compactor.compact("budget", 1) == []  # nothing grew since: no second try, no loop
        assert "abandoned" in report.line()
        ledger = session.ledgers[-1]
        assert ledger.method == "abandoned" and "does not shrink" in ledger.abandoned


# -- the ledger and the telemetry -------------------------------------------------------------


def test_the_ledger_lists_every_retired_item_with_its_reason_and_survives_resume(
        tmp_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIServer() as summaries:
        session = new_session(tmp_path, openai_server, summaries)
        openai_server.default_reply.content = "Noted. " + prose(3, 40)
        session.send("Next: write the importer. " + prose(1, 60))
        session.send("Which format should the importer read? " + prose(2, 60))
        summaries.reply(json.dumps({"add": [{"kind": "question", "text": "Which format should the importer read?", "turns": [3]}]}))
        summaries.reply(json.dumps({"add": []}))
        session.compact()
        session.send("Next: write the exporter. CSV is the format. " + prose(4, 60))
        session.send("ok " + prose(5, 60))
        summaries.reply(json.dumps({"retire": [{"id": "Q1", "reason": "answered in turn 5: CSV"}]}))
        summaries.reply(json.dumps({"add": []}))
        session.compact()
        retired = {i.id: i.reason for i in session.record.items if not i.active}
        assert set(retired) == {"N1", "Q1"}
        listed = {i.id: i.note for ledger in session.ledgers for i in ledger.retired}
        assert listed == retired  # every retired item, with the reason it was retired for
        last = session.ledgers[-1]
        report = session.reports[-1]
        assert last.summarized == [t.id for t in session.turns if report.first_turn <= t.id <= report.last_turn
                                   and t.role != "note"]
        assert last.kept == ["N2"] and last.checked == 1 and last.restored == []  # N1 was superseded, not expected
        figures = session.telemetry()
        assert figures.compactions == 2 and figures.retired == 2
        assert figures.reach.total == figures.reach.verbatim + figures.reach.summarized + figures.reach.disk
        assert figures.reach.verbatim > 0 and figures.reach.summarized > 0
        session.close()

        loaded = load_session(session.path)
        assert [ledger.to_dict() for ledger in ledgers(loaded)] == [ledger.to_dict() for ledger in session.ledgers]
        shown = to_markdown(loaded)
        assert "## Compactions" in shown and "answered in turn 5: CSV" in shown and "superseded by N2" in shown
        assert to_json(loaded)["ledgers"][1]["retired"][0]["id"] in {"N1", "Q1"}
        resumed = Conversation(SessionFile.reopen(session.path), loaded, client_for(openai_server), COUNTER)
        assert [ledger.number for ledger in resumed.ledgers] == [1, 2]
        resumed.close()

        monkeypatch.chdir(tmp_path)
        shown = CliRunner().invoke(cli, ["sessions", "show"], catch_exceptions=False)
        assert shown.exit_code == 0 and "### Compaction 2 (model)" in shown.output
        assert "[Q1] question: Which format should the importer read? — answered in turn 5: CSV" in shown.output


def test_draw_up_and_reach_are_plain_diffs() -> None:
    before = StateRecord()
    before.add("fact", "Old fact.", [1], "model")
    after = before.copy()
    after.get("F1").text = "New fact."
    after.add("decision", "Use CSV.", [2], "model")
    ledger = draw_up(1, "model", before, after, [1, 2])
    assert [i.id for i in ledger.updated] == ["F1"] and ledger.updated[0].note == "was: Old fact."
    assert [i.id for i in ledger.added] == ["D1"] and ledger.retired == []
    turns = [turn(1, "user", "one two three"), turn(2, "assistant", "four five"), turn(3, "note", "x"), turn(4, "user", "six")]
    found = reach(turns, after, {4}, COUNTER.count)
    assert found.total == found.verbatim + found.summarized + found.disk and found.disk == 0
    assert found.verbatim == COUNTER.count("six") and round(found.share(found.total)) == 100
