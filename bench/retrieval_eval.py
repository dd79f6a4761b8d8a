"""Retrieval quality of vector, keyword and hybrid memory search on long conversations.

Data: ``bench/data/conversations.py`` generates, from a seed and offline,
many users' multi-session chat histories (every turn one memory in the
namespace ``("memories", user)``) and questions whose evidence turns are
known. The same names, places, months and topics recur across a user's
sessions, so neither meaning nor keywords alone pick out the evidence.

Embeddings: threadloom's local model, ``init_embeddings("local")``
(all-MiniLM-L6-v2, 384 dims). They are cached under ``bench/data/cache/``
(git-ignored), keyed by the texts, so a re-run only re-ranks.

Reported per mode: recall@5 and recall@10 (share of a question's evidence
turns found in the top k, averaged over questions), hit@10 (at least one
evidence turn in the top 10), and per-query latency: search only (query
vector ready) and end to end (embedding the query included).

Backends: ``harness`` is the in-memory recipe without a store around it (the
reference numbers); ``memory``, ``sqlite`` and ``postgres`` load the same
turns into the real store (``InMemoryStore``, ``SqliteStore`` on a temporary
file, ``PostgresStore`` on a throwaway embedded server) and time
``store.search(("memories", user), query=..., mode=..., limit=10)`` end to
end through the public API. Their embedder looks the cached vectors up, so
"search ms" includes everything but the model. A store whose
``supported_search_modes`` lacks keyword and hybrid is listed as skipped.

Run::

    .venv/bin/python bench/retrieval_eval.py             # the table
    .venv/bin/python bench/retrieval_eval.py --explore   # tune fusion on half the users
    .venv/bin/python bench/retrieval_eval.py --by-kind   # recall@10 per question kind
    .venv/bin/python bench/retrieval_eval.py --backends harness,sqlite

On a machine shared with other busy processes, multithreaded BLAS makes the
matrix products' p95 jump to milliseconds; ``OPENBLAS_NUM_THREADS=1`` shows
the steady-state latency.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from threadloom.store._fusion import DEFAULT_FUSION, FusionConfig, fuse_hits
from threadloom.store._keyword import KeywordIndex

HERE = Path(__file__).resolve().parent
CACHE = HERE / "data" / "cache"
MODES = ("vector", "keyword", "hybrid")


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "conversations", HERE / "data" / "conversations.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["conversations"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _progress(label: str, done: int, total: int) -> None:
    # One line per tenth of the work: readable in a terminal and in a log file.
    step = max(total // 10, 1)
    if done == total or done // step != (done - 1) // step:
        print(f"{label}: {done}/{total}", file=sys.stderr)


def embed_cached(embedder: Any, texts: Sequence[str], label: str) -> npt.NDArray[np.float32]:
    """Unit vectors for ``texts``, from the cache when the same texts were embedded before."""
    digest = hashlib.sha256(json.dumps(["local", *texts]).encode()).hexdigest()[:16]
    path = CACHE / f"{label}-{digest}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    vectors: list[list[float]] = []
    batch = 256
    for start in range(0, len(texts), batch):
        vectors.extend(embedder.embed_documents(list(texts[start : start + batch])))
        done = min(start + batch, len(texts))
        if done == len(texts) or (done // batch) % 8 == 0:
            print(f"embedding {label}: {done}/{len(texts)}", file=sys.stderr)
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    np.save(path, matrix)
    return matrix


class MemoryHarness:
    """What the in-memory store does per search, minus item copying and filters.

    One contiguous float32 matrix per namespace (the vector index's partition)
    and the shared :class:`KeywordIndex`. Replaced by the store itself once
    ``InMemoryStore.search(..., mode=...)`` lands.
    """

    def __init__(self, turns: Sequence[Any], vectors: npt.NDArray[np.float32]) -> None:
        self.keyword = KeywordIndex()
        self.keys: dict[str, list[str]] = {}
        self.rows: dict[str, dict[str, int]] = {}
        rows_by_user: dict[str, list[int]] = {}
        for i, turn in enumerate(turns):
            self.keyword.put(("memories", turn.user), turn.turn_id, [turn.text])
            rows_by_user.setdefault(turn.user, []).append(i)
            self.keys.setdefault(turn.user, []).append(turn.turn_id)
        self.matrix = {
            user: np.ascontiguousarray(vectors[rows]) for user, rows in rows_by_user.items()
        }
        self.rows = {user: {k: i for i, k in enumerate(keys)} for user, keys in self.keys.items()}

    def search(
        self,
        mode: str,
        user: str,
        query: str,
        query_vector: npt.NDArray[np.float32],
        k: int,
        fusion: FusionConfig = DEFAULT_FUSION,
    ) -> list[str]:
        keys = self.keys[user]
        if mode == "keyword":
            return [hit.key for hit in self.keyword.search(("memories", user), query, limit=k)]
        similarity = self.matrix[user] @ query_vector
        if mode == "vector":
            top = np.argpartition(-similarity, k - 1)[:k]
            return [keys[i] for i in top[np.argsort(-similarity[top])]]
        # The recipe the stores follow (threadloom.store._fusion.fuse_hits).
        namespace = ("memories", user)
        rows = self.rows[user]
        pool = min(fusion.candidates, len(keys))
        top = np.argpartition(-similarity, pool - 1)[:pool]
        vector_hits = [(namespace, keys[i], float(similarity[i])) for i in top.tolist()]

        def similarity_of(addresses: Sequence[tuple[tuple[str, ...], str]]) -> dict[Any, float]:
            return {a: float(similarity[rows[a[1]]]) for a in addresses}

        def coverage_of(addresses: Sequence[tuple[tuple[str, ...], str]]) -> dict[Any, float]:
            return self.keyword.coverage(namespace, query, addresses)

        keyword_hits = self.keyword.search(namespace, query)
        fused = fuse_hits(
            vector_hits,
            keyword_hits,
            similarity_of,
            limit=k,
            config=fusion,
            coverage_of=coverage_of,
        )
        return [key for _, key, _ in fused]


@dataclass
class Scores:
    """Retrieval quality over a set of questions."""

    recall5: float
    recall10: float
    hit10: float
    n: int


def score(
    ranked: Callable[[Any, int], list[str]], questions: Sequence[Any], *, k: int = 10
) -> tuple[Scores, dict[str, list[float]]]:
    """Recall@5, recall@10 and hit@10 of ``ranked(question, k)``; and recall@10 per kind."""
    r5 = r10 = h10 = 0.0
    by_kind: dict[str, list[float]] = {}
    for question in questions:
        found = ranked(question, k)
        evidence = set(question.evidence)
        rec5 = len(evidence & set(found[:5])) / len(evidence)
        rec10 = len(evidence & set(found[:10])) / len(evidence)
        r5, r10, h10 = r5 + rec5, r10 + rec10, h10 + (rec10 > 0)
        by_kind.setdefault(question.kind, []).append(rec10)
    n = max(len(questions), 1)
    return Scores(r5 / n, r10 / n, h10 / n, len(questions)), by_kind


def latency_ms(
    searches: dict[str, Callable[[Any], object]], questions: Sequence[Any], *, repeat: int = 3
) -> dict[str, tuple[float, float]]:
    """Median and 95th-percentile milliseconds per search, over ``questions``.

    The searches take turns on each question (so a busy machine slows them
    alike), and each query counts its fastest of ``repeat`` runs: scheduling
    noise from other processes only ever adds time.
    """
    times: dict[str, list[float]] = {name: [] for name in searches}
    for question in questions:
        for name, search in searches.items():
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                search(question)
                best = min(best, time.perf_counter() - start)
            times[name].append(best * 1000)
    result = {}
    for name, values in times.items():
        values.sort()
        result[name] = (statistics.median(values), values[int(0.95 * (len(values) - 1))])
    return result


class LookupEmbed:
    """An embed function for the real stores: the cached vector of each known text."""

    def __init__(self, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        self.rows = {text: i for i, text in enumerate(texts)}
        self.vectors = vectors

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        return self.vectors[[self.rows[t] for t in texts]].tolist()


STORE_BACKENDS = ("memory", "sqlite", "postgres")


def _store_class(backend: str) -> Any:
    if backend == "memory":
        from threadloom.store.memory import InMemoryStore

        return InMemoryStore
    if backend == "sqlite":
        from threadloom.store.sqlite import SqliteStore

        return SqliteStore
    from threadloom.store.postgres import PostgresStore

    return PostgresStore


def open_store(backend: str, index: dict[str, Any], stack: Any) -> Any:
    """A fresh, set-up store of ``backend``; ``stack`` (an ExitStack) closes it."""
    cls = _store_class(backend)
    if backend == "memory":
        return cls(index=index)
    if backend == "sqlite":
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        store = stack.enter_context(cls.from_conn_string(f"{folder}/retrieval.db", index=index))
    else:
        from threadloom.testing.postgres import start_postgres

        server = stack.enter_context(start_postgres())
        store = stack.enter_context(
            cls.from_conn_string(server.create_database("retrieval"), index=index)
        )
    store.setup()
    return store


def load_store(store: Any, turns: Sequence[Any], label: str) -> float:
    """Put every turn (batches of 500); returns the seconds it took."""
    from threadloom.store.base import PutOp

    started = time.perf_counter()
    batch = 500
    for start in range(0, len(turns), batch):
        chunk = turns[start : start + batch]
        store.batch([PutOp(("memories", t.user), t.turn_id, {"text": t.text}) for t in chunk])
        _progress(f"loading {label}", min(start + batch, len(turns)), len(turns))
    return time.perf_counter() - started


def _top10(ranked: Callable[[Any, int], list[str]]) -> Callable[[Any], object]:
    return lambda question: ranked(question, 10)


def explore(harness: MemoryHarness, questions: Sequence[Any], qvec: dict[int, Any]) -> None:
    """Grid-search the fusion on even users, then show the best settings on odd users."""
    dev = [q for q in questions if int(q.user[4:]) % 2 == 0]
    test = [q for q in questions if int(q.user[4:]) % 2 == 1]
    grid = [
        FusionConfig(method=m, vector_weight=w, candidates=c, rrf_k=k, coverage_weight=cov)
        for m in ("zscore", "minmax", "rrf")
        for w in (0.3, 0.4, 0.5, 0.6, 0.7)
        for c in (20, 50, 100)
        for k in ((10, 30, 60) if m == "rrf" else (30,))
        for cov in ((0.0, 0.5, 1.0) if m == "zscore" else (0.0,))
    ]
    results = []
    for i, config in enumerate(grid):

        def ranked(q: Any, k: int, config: FusionConfig = config) -> list[str]:
            return harness.search("hybrid", q.user, q.text, qvec[id(q)], k, config)

        results.append((score(ranked, dev)[0].recall10, config))
        _progress("fusion grid", i + 1, len(grid))
    results.sort(key=lambda pair: -pair[0])
    print("\nbest fusion settings on the tuning half (even users), then the held-out half:")
    print(
        "| method | vector_weight | candidates | rrf_k | coverage_weight "
        "| dev recall@10 | test recall@10 |"
    )
    print("|---|---|---|---|---|---|---|")
    shown = results[:8]
    shown += [r for r in results[8:] if r[1] == DEFAULT_FUSION]
    for dev_recall, config in shown:

        def ranked(q: Any, k: int, config: FusionConfig = config) -> list[str]:
            return harness.search("hybrid", q.user, q.text, qvec[id(q)], k, config)

        test_recall = score(ranked, test)[0].recall10
        mark = " (default)" if config == DEFAULT_FUSION else ""
        print(
            f"| {config.method}{mark} | {config.vector_weight} | {config.candidates} "
            f"| {config.rrf_k if config.method == 'rrf' else '-'} | {config.coverage_weight} "
            f"| {dev_recall:.3f} | {test_recall:.3f} |"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=72)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explore", action="store_true", help="tune the fusion on half the users")
    parser.add_argument("--by-kind", action="store_true", help="recall@10 per question kind")
    parser.add_argument("--vector-weight", type=float, default=DEFAULT_FUSION.vector_weight)
    parser.add_argument("--method", default=DEFAULT_FUSION.method)
    parser.add_argument("--coverage-weight", type=float, default=DEFAULT_FUSION.coverage_weight)
    parser.add_argument(
        "--backends",
        default="harness,memory,sqlite,postgres",
        help="comma-separated: harness (the recipe alone), memory, sqlite, postgres",
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"harness", *STORE_BACKENDS}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")

    from threadloom.embeddings import init_embeddings

    generator = _load_generator()
    turns, questions = generator.generate(
        seed=args.seed, users=args.users, rounds=args.rounds, sessions=args.sessions
    )
    embedder = init_embeddings("local")
    vectors = embed_cached(embedder, [t.text for t in turns], "turns")
    question_vectors = embed_cached(embedder, [q.text for q in questions], "questions")
    qvec = {id(q): question_vectors[i] for i, q in enumerate(questions)}
    harness = MemoryHarness(turns, vectors)
    fusion = replace(
        DEFAULT_FUSION,
        method=args.method,
        vector_weight=args.vector_weight,
        coverage_weight=args.coverage_weight,
    )

    if args.explore:
        explore(harness, questions, qvec)
        return

    per_user = len(turns) // max(args.users, 1)
    print(
        f"data: bench/data/conversations.py seed={args.seed}: {args.users} users, "
        f"{len(turns)} turns ({per_user} per user, {args.sessions} sessions each), "
        f"{len(questions)} questions, {sum(len(q.evidence) for q in questions)} evidence turns"
    )
    print(f"embedder: init_embeddings('local'), {vectors.shape[1]} dims; fusion: {fusion}")
    # Embedding one query is the same cost for vector and hybrid; time it once.
    embed_ms = latency_ms(
        {"embed": lambda q: embedder.embed_query(q.text)}, questions[:50], repeat=1
    )["embed"][0]

    def harness_ranker(mode: str) -> Callable[[Any, int], list[str]]:
        def ranked(q: Any, k: int) -> list[str]:
            return harness.search(mode, q.user, q.text, qvec[id(q)], k, fusion)

        return ranked

    rankers = {mode: harness_ranker(mode) for mode in MODES}
    rows: list[str] = []
    notes: list[str] = []
    kinds: dict[str, dict[str, list[float]]] = {}

    def report(backend: str, ranked: Mapping[str, Callable[[Any, int], list[str]]]) -> None:
        timings = latency_ms({m: _top10(r) for m, r in ranked.items()}, questions)
        for mode in MODES:
            result, by_kind = score(ranked[mode], questions)
            kinds.setdefault(mode, by_kind)
            p50, p95 = timings[mode]
            end_to_end = p50 + (embed_ms if mode != "keyword" else 0.0)
            ratio = f"{p50 / timings['vector'][0]:.2f}x"
            rows.append(
                f"| {backend} | {mode} | {result.recall5:.3f} | {result.recall10:.3f} "
                f"| {result.hit10:.3f} | {p50:.3f} | {p95:.3f} | {ratio} | {end_to_end:.2f} |"
            )

    if "harness" in backends:
        report("harness", rankers)
    lookup = LookupEmbed(
        [t.text for t in turns] + [q.text for q in questions],
        np.concatenate([vectors, question_vectors]),
    )
    index = {
        "dims": int(vectors.shape[1]),
        "embed": lookup,
        "fields": ["text"],
        "fusion": {
            "method": fusion.method,
            "vector_weight": fusion.vector_weight,
            "coverage_weight": fusion.coverage_weight,
        },
    }
    from contextlib import ExitStack

    for backend in (b for b in backends if b in STORE_BACKENDS):
        cls = _store_class(backend)
        if not {"keyword", "hybrid"} <= set(getattr(cls, "supported_search_modes", ())):
            notes.append(f"{backend}: skipped, {cls.__name__} does not support search modes yet")
            continue
        with ExitStack() as stack:
            store = open_store(backend, index, stack)
            seconds = load_store(store, turns, backend)
            notes.append(f"{backend}: {cls.__name__}, {len(turns)} puts in {seconds:.1f} s")

            def store_ranker(mode: str, store: Any = store) -> Callable[[Any, int], list[str]]:
                def ranked(q: Any, k: int) -> list[str]:
                    hits = store.search(("memories", q.user), query=q.text, mode=mode, limit=k)
                    return [hit.key for hit in hits]

                return ranked

            report(backend, {mode: store_ranker(mode) for mode in MODES})

    print(f"query embedding p50: {embed_ms:.2f} ms (vector and hybrid pay it, keyword does not)")
    for note in notes:
        print(note)
    print()
    print(
        "| backend | mode | recall@5 | recall@10 | hit@10 | search ms p50 | p95 "
        "| p50 vs vector | p50 with query embedding |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)
    if args.by_kind and kinds:
        print("\n| kind | questions | " + " | ".join(MODES) + " |")
        print("|---|---|" + "---|" * len(MODES))
        for kind in sorted(kinds["vector"]):
            cells = " | ".join(f"{np.mean(kinds[m][kind]):.2f}" for m in MODES)
            print(f"| {kind} | {len(kinds['vector'][kind])} | {cells} |")


if __name__ == "__main__":
    main()
