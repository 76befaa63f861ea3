"""The issue's offline bar, as bench/compaction_fidelity.py measures it: in a 300-turn scripted session
with 20 and more compactions (an adversarial loopback summarizer), every pinned and floor item is
verbatim in every request after the compaction that folded it, no compaction grows the context,
every retired item is in the ledger with its reason, and no secret value is ever sent or kept."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.openai_server import OpenAIServer

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench() -> object:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("compaction_fidelity", BENCH / "compaction_fidelity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compaction_fidelity"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_three_hundred_turns_and_twenty_compactions_keep_every_pinned_and_floor_item(tmp_path: Path) -> None:
    fidelity = bench()
    script = fidelity.make_script(seed=11, users=150)  # type: ignore[attr-defined]
    with OpenAIServer() as summaries:
        summaries.default_reply = fidelity.adversarial(0)  # type: ignore[attr-defined]
        summaries.queue(*(fidelity.adversarial(n) for n in range(1, 60)))  # type: ignore[attr-defined]
        summaries.fail(500)
        summarizer = fidelity.client(summaries.base_url, "summarizer", 32_000)  # type: ignore[attr-defined]
        run = fidelity.run_session(script, 32_000, "kimicode", 7, summarizer, 0, tmp_path)  # type: ignore[attr-defined]
    assert run.compactions >= 20
    assert run.carried_checks > 200 and run.carried_kept == run.carried_checks, run.lost
    assert run.floor_checks > 300 and run.floor_kept == run.floor_checks
    assert run.grew == 0 and run.put_back == 0 and run.leaked == 0
    assert run.retired > 10 and run.retired_listed == run.retired


def test_the_endpoint_table_runs_end_to_end_on_a_loopback_endpoint(capsys: object) -> None:
    fidelity = bench()
    assert fidelity.main(["--loopback-quiz", "--turns", "40", "--seeds", "2", "--windows", "6000",  # type: ignore[attr-defined]
                          "--every", "4", "--quiz-every", "2"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    for strategy in ("| kimicode |", "| truncate |", "| flat summary |", "| full (no window) |"):
        assert out.count(strategy) >= 1, strategy
    assert "| early | frontier | updated | env | all |" in out
