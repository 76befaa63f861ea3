"""Compaction you can trust, measured: what survives many compactions, and what a model still knows.

    .venv/bin/python bench/compaction_fidelity.py                    # offline: the deterministic parts, exact
    .venv/bin/python bench/compaction_fidelity.py --base-url URL --model NAME [--key-env VAR] [--windows 32000,128000]
    .venv/bin/python bench/compaction_fidelity.py --loopback-quiz    # the endpoint pipeline, offline (scores meaningless)

Sessions are scripted (bench/compaction_sessions.py, one per ``--seeds``): 300 turns by default,
several tasks one after the other, an environment set up in the first turn, facts updated later,
constraints, pins, errors and a moving frontier. The assistant's turns are scripted too (a
loopback server answers them), so every strategy sees the same conversation.

Offline (no endpoint), the summarizer is a scripted loopback server that answers valid patches
most of the time, tries to reword and retire carried items, and sometimes answers invalid JSON
or fails. A compaction is forced every ``--every`` user turns (besides those the budget asks
for), so a 300-turn session goes through 20 and more. Measured exactly, per window, for
kimicode's compaction beside plain truncation on the same session:
  - carried: of the planted items code must carry (pins, constraints, errors, environment,
    done work, the current next action), the share verbatim in every request after the
    compaction that folded their turn, while they are current;
  - grew: compactions after which the history was not smaller (abandoned ones change nothing);
  - ledger: retired state items listed in a ledger with the same reason;
  - put back: carried items the check pass had to restore (should be 0: the summarizer's
    attempts are refused earlier, at validation);
  - leaked: secret values (a password in a URL, an API key) found in any request or state.

With an endpoint, the summaries and the probe are the model's, and after every ``--quiz-every``-th
compaction each strategy's context is asked the probe questions valid at that turn (early facts,
the frontier, the latest value of updated facts, the environment): full (every turn, no window),
truncation, a flat prose summary, and kimicode's compaction. The table gives the share answered
right, per window and question kind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compaction_sessions import Probe, Script, make_script  # noqa: E402

from kimicode.chat import Conversation  # noqa: E402
from kimicode.chat.context import ContextPolicy  # noqa: E402
from kimicode.chat.session import LoadedSession, SessionStore  # noqa: E402
from kimicode.llm import ChatClient, Endpoint  # noqa: E402
from kimicode.models import ModelSpec  # noqa: E402
from kimicode.prompt import Message  # noqa: E402
from kimicode.tokens import TokenCounter  # noqa: E402
from tests.openai_server import OpenAIServer, Reply  # noqa: E402

COUNTER = TokenCounter()
REPLY = 4_096
QUIZ_REPLY = 300
SYSTEM = "You are a coding assistant. Answer the last question from the conversation above, in one short sentence."


@dataclass
class Run:
    """One strategy over one session at one window."""

    strategy: str
    window: int
    compactions: int = 0
    carried_checks: int = 0
    carried_kept: int = 0
    floor_checks: int = 0  # every carried item of the record (pins, floor, frontier), after each compaction
    floor_kept: int = 0
    lost: list[str] = field(default_factory=list)
    grew: int = 0
    abandoned: int = 0
    retired: int = 0
    retired_listed: int = 0
    put_back: int = 0
    leaked: int = 0
    contexts: dict[int, list[Message]] = field(default_factory=dict)  # user turn -> messages (quiz)


def client(base_url: str, model: str, window: int, key: str = "") -> ChatClient:
    return ChatClient(Endpoint(base_url, key, model, timeout=120.0, max_retries=2), ModelSpec(model, window, window))


def adversarial(n: int) -> Reply:
    """The offline summarizer: a valid patch that also tries to reword and retire what code carries."""
    if n % 9 == 4:
        return Reply("Here is the summary you asked for: all is well.", chunk_size=4_000)
    body = {"goal": "Ship the tasks of this session without breaking the environment.",
            "add": [{"kind": "fact", "text": f"Batch {n} discussed the usual things.", "turns": []}],
            "update": [{"id": "C1", "text": "Some rule about the API."}, {"id": "V1", "text": "a database"}],
            "retire": [{"id": "V2", "reason": "seems old"}, {"id": "K1", "reason": "done anyway"}]}
    return Reply(json.dumps(body), chunk_size=4_000)


def run_session(script: Script, window: int, strategy: str, every: int, summarizer: ChatClient | None,
                quiz_every: int, home: Path) -> Run:
    """Drive the scripted session through a Conversation; measure every request after each compaction."""
    run = Run(strategy, window)
    policy = ContextPolicy(reply_tokens=REPLY, strategy="truncate" if strategy == "truncate" else "state",
                           probe=summarizer is not None)
    with OpenAIServer() as chat:
        chat.queue(*(Reply(text, chunk_size=4_000) for text in script.answers))
        file, meta = SessionStore(home).create(home, "scripted")
        session = Conversation(file, LoadedSession(meta, file.path), client(chat.base_url, "scripted", window), COUNTER,
                               policy=policy, summarizer_client=summarizer)
        through_turn = 0  # the last user turn (1-based) folded into the state
        user_ids: dict[int, int] = {}  # session turn id of each user turn
        reports_seen = 0
        for n, text in enumerate(script.users, start=1):
            exchange = session.send(text)
            user_ids[n] = exchange.user.id
            if n in script.pins:
                session.history.pin(script.pins[n])
            if every and n % every == 0 and n < len(script.users):
                session.compact()
            new = session.reports[reports_seen:]
            reports_seen = len(session.reports)
            for report in new:
                run.compactions += report.method in ("model", "fallback", "truncate")
                run.abandoned += report.method == "abandoned"
                run.grew += report.method != "abandoned" and report.turns_moved > 0 and report.history_after >= report.history_before
                run.put_back += len(report.ledger_restored)
            through = session.record.through
            through_turn = max((u for u, tid in user_ids.items() if tid <= through), default=0)
            if new and through_turn:
                sent = "\n".join(m.content for m in session.request().messages)
                carried = [i.text for i in session.record.active() if i.carried]
                run.floor_checks += len(carried)
                run.floor_kept += sum(text in sent for text in carried)
                for since, until, fact in script.carried:
                    if since <= through_turn and until >= n:  # folded, and still current
                        run.carried_checks += 1
                        if fact in sent:
                            run.carried_kept += 1
                        elif fact not in run.lost:
                            run.lost.append(fact)
                if quiz_every and (run.compactions % quiz_every == 0 or n == len(script.users)):
                    run.contexts[n] = list(session.request().messages)
        if quiz_every and len(script.users) not in run.contexts:
            run.contexts[len(script.users)] = list(session.request().messages)
        session.close()
        state = json.dumps(session.record.to_dict())
        for body in (r.body for r in chat.chat_requests):
            wire = json.dumps(body)
            run.leaked += sum(secret in wire for secret in script.secrets)
        run.leaked += sum(secret in state for secret in script.secrets)
        retired = {i.id: i.reason for i in session.record.items if not i.active and not i.reason.startswith("unpinned")}
        listed = {i.id: i.note for ledger in session.ledgers for i in ledger.retired}
        run.retired = len(retired)
        run.retired_listed = sum(listed.get(k) == v for k, v in retired.items())
    return run


# -- the quiz (with an endpoint) ------------------------------------------------------------------------


def full_context(script: Script, upto: int) -> list[Message]:
    messages = [Message("system", SYSTEM)]
    for user, answer in zip(script.users[:upto], script.answers[:upto]):
        messages += [Message("user", user), Message("assistant", answer)]
    return messages


def flat_contexts(script: Script, window: int, model: ChatClient, checkpoints: set[int],
                  every: int) -> dict[int, list[Message]]:
    """A flat prose summary, rewritten at each compaction (the peers' way): at the same forced turns
    as kimicode's, and whenever the turns outgrow the room, keeping the last exchange verbatim."""
    room = window - REPLY - COUNTER.count(SYSTEM)
    cap = room * 35 // 100
    summary = ""
    recent: list[Message] = []
    out: dict[int, list[Message]] = {}
    for n, (user, answer) in enumerate(zip(script.users, script.answers), start=1):
        recent += [Message("user", user), Message("assistant", answer)]
        forced = bool(every) and n % every == 0 and n < len(script.users)
        if len(recent) > 4 and (forced or sum(COUNTER.count(m.content) for m in recent) + COUNTER.count(summary) > room):
            keep = recent[-4:]
            leaving = "\n\n".join(f"{m.role}: {m.content}" for m in recent[:-4])
            prompt = ("Summarize this conversation between a user and a coding assistant so that the assistant can "
                      "continue the work from the summary alone. Previous summary:\n\n" + (summary or "(none)") +
                      "\n\nNew turns:\n\n" + leaving + f"\n\nAnswer in prose, at most {cap * 3 // 4} words.")
            result = model.stream_chat([Message("user", prompt)], max_tokens=cap)
            summary = result.content.strip() or summary
            recent = keep
        if n in checkpoints:
            head = [Message("system", SYSTEM)] + ([Message("user", "Summary of the earlier conversation:\n" + summary)]
                                                  if summary else [])
            out[n] = head + ([Message("assistant", "Noted.")] if summary else []) + list(recent)
    return out


def quiz(messages: list[Message], probes: list[Probe], model: ChatClient) -> dict[str, list[bool]]:
    marks: dict[str, list[bool]] = defaultdict(list)
    for probe in probes:
        result = model.stream_chat([*messages, Message("user", probe.question)], max_tokens=QUIZ_REPLY)
        answer = result.content.lower()
        marks[probe.kind].append(any(word.lower() in answer for word in probe.expect))
    return marks


def due(script: Script, turn: int) -> list[Probe]:
    return [p for p in script.probes if p.since <= turn <= p.until]


# -- output ------------------------------------------------------------------------------------------------


def offline_table(runs: list[Run]) -> str:
    rows = ["| window | strategy | compactions | planted items verbatim after compaction | record's carried items in "
            "the request | grew | abandoned | retired, listed with reason | put back by the check | secrets leaked |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        share = 100 * r.carried_kept / r.carried_checks if r.carried_checks else 0.0
        floor = f"{r.floor_kept:,}/{r.floor_checks:,} ({100 * r.floor_kept / r.floor_checks:.1f}%)" if r.floor_checks else "-"
        rows.append(f"| {r.window:,} | {r.strategy} | {r.compactions} | {r.carried_kept:,}/{r.carried_checks:,} ({share:.1f}%) | "
                    f"{floor} | {r.grew} | {r.abandoned} | {r.retired_listed}/{r.retired} | {r.put_back} | {r.leaked} |")
    return "\n".join(rows)


def fidelity_table(scores: dict[tuple[int, str], dict[str, list[bool]]]) -> str:
    kinds = ("early", "frontier", "updated", "env")
    rows = ["| window | strategy | " + " | ".join(kinds) + " | all |", "|---:|---|" + "---:|" * (len(kinds) + 1)]
    for (window, strategy), marks in scores.items():
        cells = []
        for kind in kinds:
            got = marks.get(kind, [])
            cells.append(f"{100 * sum(got) / len(got):.0f}% ({sum(got)}/{len(got)})" if got else "-")
        every = [m for kind in kinds for m in marks.get(kind, [])]
        cells.append(f"{100 * sum(every) / len(every):.0f}%" if every else "-")
        rows.append(f"| {window:,} | {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint: the model summarizes and is quizzed")
    parser.add_argument("--model", default="kimi-k2.7-code")
    parser.add_argument("--key-env", default="MOONSHOT_API_KEY", help="the environment variable holding the API key")
    parser.add_argument("--windows", default="32000,128000")
    parser.add_argument("--seeds", default="1,2", help="one scripted session per seed")
    parser.add_argument("--turns", type=int, default=300, help="turns per session (user and assistant)")
    parser.add_argument("--every", type=int, default=7, help="force a compaction every N user turns (0: only when "
                        "the budget asks)")
    parser.add_argument("--log-lines", type=int, default=0, help="every sixth user turn pastes a test log this long")
    parser.add_argument("--quiz-every", type=int, default=5, help="with an endpoint: quiz after every N-th compaction")
    parser.add_argument("--loopback-quiz", action="store_true", help="exercise the endpoint path on a loopback server")
    args = parser.parse_args(argv)
    windows = [int(w) for w in args.windows.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    users = args.turns // 2
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer() as offline:
        os.environ.setdefault("KIMICODE_HOME", tmp)
        home = Path(tmp)
        offline.default_reply = adversarial(0)
        offline.queue(*(adversarial(n) for n in range(1, 400)))
        endpoint: Callable[[int], ChatClient] | None = None
        if args.base_url:
            key = os.environ.get(args.key_env, "")
            endpoint = lambda window: client(args.base_url, args.model, window, key)  # noqa: E731
        elif args.loopback_quiz:
            endpoint = lambda window: client(offline.base_url, "loopback", window)  # noqa: E731
        runs: list[Run] = []
        scores: dict[tuple[int, str], dict[str, list[bool]]] = {}
        for window in windows:
            for seed in seeds:
                script = make_script(seed, users, args.log_lines)
                summarizer = endpoint(window) if endpoint else client(offline.base_url, "scripted-summarizer", window)
                quiz_every = args.quiz_every if endpoint else 0
                for strategy in ("kimicode", "truncate"):
                    run = run_session(script, window, strategy, args.every, summarizer if strategy == "kimicode" else None,
                                      quiz_every, home / f"{window}-{seed}-{strategy}")
                    runs.append(run)
                    if endpoint is None:
                        continue
                    model = endpoint(window)
                    for turn, messages in run.contexts.items():
                        for kind, marks in quiz(messages, due(script, turn), model).items():
                            scores.setdefault((window, run.strategy), defaultdict(list))[kind] += marks
                if endpoint is not None:
                    model = endpoint(window)
                    checkpoints = set(runs[-2].contexts)
                    for turn, messages in flat_contexts(script, window, model, checkpoints, args.every).items():
                        for kind, marks in quiz(messages, due(script, turn), model).items():
                            scores.setdefault((window, "flat summary"), defaultdict(list))[kind] += marks
                    for turn in sorted(checkpoints):
                        for kind, marks in quiz(full_context(script, turn), due(script, turn), model).items():
                            scores.setdefault((window, "full (no window)"), defaultdict(list))[kind] += marks
        merged = merge(runs)
        forced = f"a compaction forced every {args.every} user turns" if args.every else "compactions when the budget asks"
        logs = f", a {args.log_lines}-line test log every sixth user turn" if args.log_lines else ""
        print(f"Deterministic parts: {len(seeds)} scripted sessions of {args.turns} turns per window{logs}, {forced}; "
              f"summarizer: {'the endpoint' if args.base_url else 'scripted, adversarial (loopback)'}\n")
        print(offline_table(merged))
        lost = sorted({fact for r in runs if r.strategy == "kimicode" for fact in r.lost})
        if lost:
            print("\nkimicode lost: " + "; ".join(lost[:10]))
        if scores:
            print("\nShare of probe questions answered right from each context"
                  + (" (loopback: meaningless)" if args.loopback_quiz else f" ({args.model} at {args.base_url})") + "\n")
            print(fidelity_table(scores))
    return 0


def merge(runs: list[Run]) -> list[Run]:
    """One row per window and strategy, summed over the seeds."""
    out: dict[tuple[int, str], Run] = {}
    for r in runs:
        row = out.setdefault((r.window, r.strategy), Run(r.strategy, r.window))
        for name in ("compactions", "carried_checks", "carried_kept", "floor_checks", "floor_kept", "grew", "abandoned", "retired", "retired_listed",
                     "put_back", "leaked"):
            setattr(row, name, getattr(row, name) + getattr(r, name))
        row.lost += [f for f in r.lost if f not in row.lost]
    return list(out.values())


if __name__ == "__main__":
    sys.exit(main())
