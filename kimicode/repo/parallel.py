"""Spread CPU-bound per-file work (regex scans, parsing, secret detection) over the cores.

Threads would not help: that work holds the GIL. Forked workers start in
milliseconds and inherit every module already imported.

A fork copies the locks of other threads as they are: a module another thread was
importing at that instant stays locked in the child for ever, and the first worker that
imports it hangs (seen: a tokenizer loading in a thread held `pkgutil`, which
detect-secrets imports). So workers are forked only while no thread is inside
``importing()``, which any thread that may import while workers are started holds.

A forked worker shares the parent's pages until either side writes to them, and a garbage
collection writes to the header of every object it traverses: the parent's whole heap (the
records of 100k files) would be copied, page by page, once per process. So the parent's objects
are frozen (``gc.freeze``) from before the fork until the workers exit: collections on both
sides leave them alone.
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")
MAX_WORKERS = 4


_FORKING = threading.RLock()


@contextmanager
def importing() -> Iterator[None]:
    """Hold while importing (or loading anything that imports) in a thread: no worker is forked meanwhile."""
    with _FORKING:
        yield


_INHERITED: dict[int, tuple[Callable[..., Any], Sequence[Any]]] = {}  # each running call's work and items, inherited by its workers
_CALLS = itertools.count()


@contextmanager
def _pool(workers: int, work: Callable[[str, Sequence[T]], list[R]], items: Sequence[T]
          ) -> Iterator[tuple[ProcessPoolExecutor, int]]:
    """Forked workers that inherit ``work`` and ``items`` (under the returned key) and the parent's frozen heap.

    The workers read both from the heap they inherit, sent only a slice: pickling the items would
    write to every one of them in the parent (a reference count), copying the pages that hold them
    while the workers share the originals; and ``work`` may hold what cannot be pickled, or is
    large (a partial over a survey or a path index), which the workers then need not be sent.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    key = next(_CALLS)
    _INHERITED[key] = (work, items)
    gc.freeze()
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts)
        try:
            yield pool, key
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)
    finally:
        gc.unfreeze()
        del _INHERITED[key]


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the workers now, their parts begun or not: nobody reads them (interrupted, or failed).

    Left to finish, they would keep the process from exiting for a part's time, and a second
    Ctrl-C in that wait lands in the interpreter's own exit (a traceback, then a hang). Python 3.14
    has ``terminate_workers``; before it, the pool's processes are ended one by one.
    """
    # shutdown forgets both: taken first
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    if manager is not None:  # it notices the ended workers and ends: here, not in the interpreter's exit
        manager.join()


def _ignore_interrupts() -> None:
    """In a worker: Ctrl-C reaches the whole process group, and it is the parent's to handle. A worker
    that took it would print a traceback of its own, from wherever it was (a second Ctrl-C during
    the parent's cleanup found them waiting for work); the parent drops the work instead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _part(root: str, key: int, part: slice) -> list[Any]:
    """In a worker: the work it inherited over its part of the items it inherited."""
    work, items = _INHERITED[key]
    return work(root, items[part])


def worker_count() -> int:
    return min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, MAX_WORKERS)


def stream_files(work: Callable[[str, Sequence[T]], list[R]], root: str, items: Sequence[T], min_items: int,
                 take: Callable[[list[R]], object], chunk: int = 500, started: Callable[[], object] | None = None) -> None:
    """``work(root, part)`` over runs of at most ``chunk`` items, each result given to ``take`` as
    soon as it is done (any order).

    For results too large to hold all at once (a scan's words at 100k files): ``take`` stores each
    part and lets it go. It is called here, not handed out by a generator, so that whatever it
    raises (Ctrl-C while it stores) ends the workers at once: a generator left suspended holds its
    pool until it is collected, and with the heap frozen (gc.freeze) that is never. In-process below
    ``min_items``. ``started`` is called once the work is under way: after the workers are forked
    (a thread started then may import without holding them off), or before the first part in-process.
    """
    parts = [slice(i, i + chunk) for i in range(0, len(items), chunk)]
    workers = worker_count()
    if len(items) < min_items or workers < 2:
        if started is not None:
            started()
        for part in parts:
            take(work(root, items[part]))
        return
    from concurrent.futures import FIRST_COMPLETED, Future, wait

    with _pool(workers, work, items) as (pool, key):
        todo = iter(parts)
        running: set[Future[list[R]]] = set()

        def top_up() -> None:
            # a few parts ahead of the caller, not all: results must not pile up
            for part in todo:
                running.add(pool.submit(_part, root, key, part))
                if len(running) >= 2 * workers:
                    break

        # With the fork start method the first submit forks every worker, and no later one forks: only
        # it waits for a thread's imports. Later ones must not, or a thread loading while the workers
        # scan (pack's _preload) would hold back their next parts until it is done.
        with _FORKING:
            top_up()
        if started is not None:
            started()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            running.difference_update(done)
            top_up()
            for future in done:
                take(future.result())


def map_files(work: Callable[[str, Sequence[T]], list[R]], root: str, items: Sequence[T], min_items: int,
              interleave: bool = True) -> list[R]:
    """``work(root, chunk)`` over ``items``; results in item order. In-process below ``min_items``.

    ``interleave``: chunks take every n-th item, which evens out big and small files; without
    it each chunk is a run of neighbours (files of one folder share work, e.g. import resolution).
    """
    workers = worker_count()
    if len(items) < min_items or workers < 2:
        return work(root, items)
    # several chunks per worker keep both busy to the end
    n = workers * 4
    size = -(-len(items) // n)
    parts = [slice(i, None, n) for i in range(n)] if interleave else [slice(i, i + size) for i in range(0, len(items), size)]
    with _pool(workers, work, items) as (pool, key):
        with _FORKING:  # with the fork start method every worker is forked by the first submit
            pending = [pool.submit(_part, root, key, part) for part in parts]
        results = [future.result() for future in pending]
    if not interleave:
        return [r for chunk in results for r in chunk]
    ordered: list[R] = [None] * len(items)  # type: ignore[list-item]
    for i, chunk in enumerate(results):
        ordered[i::n] = chunk
    return ordered
