import os
from pathlib import Path
from typing import Sequence

import pytest

from kimicode.repo.parallel import map_files, stream_files


def _lengths_and_pids(root: str, items: Sequence[str]) -> list[tuple[str, int, int]]:
    return [(name, len((Path(root) / name).read_text()), os.getpid()) for name in items]


def test_map_files_keeps_item_order_across_workers(tmp_path: Path) -> None:
    names = [f"f{i:03}.txt" for i in range(60)]
    for i, name in enumerate(names):
        (tmp_path / name).write_text("x" * i)
    result = map_files(_lengths_and_pids, str(tmp_path), names, min_items=10)
    assert [(n, size) for n, size, _ in result] == [(n, i) for i, n in enumerate(names)]
    if len(os.sched_getaffinity(0)) > 1:
        assert all(pid != os.getpid() for _, _, pid in result)


def test_stream_files_gives_every_item_once_in_parts_as_they_finish(tmp_path: Path) -> None:
    names = [f"f{i:03}.txt" for i in range(95)]
    for i, name in enumerate(names):
        (tmp_path / name).write_text("x" * i)
    parts: list[list[tuple[str, int, int]]] = []
    stream_files(_lengths_and_pids, str(tmp_path), names, min_items=10, take=parts.append, chunk=7)
    assert len(parts) == 14 and all(len(p) <= 7 for p in parts)
    assert sorted((n, size) for part in parts for n, size, _ in part) == [(n, i) for i, n in enumerate(names)]
    if len(os.sched_getaffinity(0)) > 1:
        assert all(pid != os.getpid() for part in parts for _, _, pid in part)
    alone: list[list[tuple[str, int, int]]] = []
    stream_files(_lengths_and_pids, str(tmp_path), names[:3], min_items=10, take=alone.append, chunk=2)
    assert [[(n, pid) for n, _, pid in part] for part in alone] == [[(names[0], os.getpid()), (names[1], os.getpid())],
                                                                     [(names[2], os.getpid())]]


def test_small_batches_stay_in_process(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("abc")
    assert map_files(_lengths_and_pids, str(tmp_path), ["a"], min_items=10) == [("a", 3, os.getpid())]


def _started_at(root: str, items: Sequence[str]) -> list[float]:
    import time

    return [time.monotonic() for _ in items]  # CLOCK_MONOTONIC: comparable across processes


def test_no_worker_is_forked_while_another_thread_imports(tmp_path: Path) -> None:
    # A thread inside importing() may hold a module lock a worker needs; were the workers
    # forked meanwhile, the child's copy of that lock would stay taken and the worker hang.
    import threading
    import time

    from kimicode.repo.parallel import importing, worker_count

    if worker_count() < 2:
        pytest.skip("one core: the work runs in this process, nothing is forked")
    entered, release = threading.Event(), threading.Event()
    released_at: list[float] = []

    def slow_import() -> None:
        with importing():
            entered.set()
            release.wait(10)
            released_at.append(time.monotonic())

    thread = threading.Thread(target=slow_import)
    thread.start()
    entered.wait(10)
    threading.Timer(0.3, release.set).start()
    started = map_files(_started_at, str(tmp_path), [str(i) for i in range(50)], min_items=10)
    thread.join()
    assert min(started) >= released_at[0]  # every worker was forked after the import region ended


def _names_of(root: str, items: Sequence[tuple[str, object]]) -> list[str]:
    return [name for name, _ in items]


def test_workers_inherit_their_items_instead_of_receiving_copies(tmp_path: Path) -> None:
    # a lock cannot be pickled: the items reach the workers only through the fork
    import threading

    items = [(f"f{i}", threading.Lock()) for i in range(40)]
    assert map_files(_names_of, str(tmp_path), items, min_items=10) == [n for n, _ in items]
    assert map_files(_names_of, str(tmp_path), items, min_items=10, interleave=False) == [n for n, _ in items]
    parts: list[list[str]] = []
    stream_files(_names_of, str(tmp_path), items, min_items=10, take=parts.append, chunk=7)
    assert sorted(n for part in parts for n in part) == sorted(n for n, _ in items)


@pytest.mark.parametrize("count", [0, 3, 95])  # nothing, in-process, on workers
def test_stream_files_says_once_that_the_work_is_under_way_before_the_first_part(tmp_path: Path, count: int) -> None:
    names = [f"f{i:03}.txt" for i in range(count)]
    for name in names:
        (tmp_path / name).write_text("x")
    calls: list[str] = []
    stream_files(_lengths_and_pids, str(tmp_path), names, min_items=10, chunk=7,
                 take=lambda part: calls.append("part"), started=lambda: calls.append("started"))
    assert calls == ["started"] + ["part"] * -(-count // 7)


def _same(root: str, items: Sequence[str]) -> list[str]:
    return list(items)


def test_a_thread_loading_while_the_workers_run_does_not_hold_back_their_parts(tmp_path: Path) -> None:
    # Only the first submit forks. A thread that loads once the workers are forked (pack's
    # _preload, inside importing()) must not keep the caller from handing them their next parts.
    import threading

    from kimicode.repo.parallel import importing, worker_count

    if worker_count() < 2:
        pytest.skip("one core: the work runs in this process, nothing is forked")
    names = [f"f{i:03}" for i in range(60)]
    holding, every_part = threading.Event(), threading.Event()

    def load() -> None:
        with importing():
            holding.set()
            every_part.wait(5)
            holding.clear()

    loader = threading.Thread(target=load)

    def started() -> None:
        loader.start()
        holding.wait(5)

    while_loading: list[bool] = []

    def take(part: list[str]) -> None:
        while_loading.append(holding.is_set())
        if len(while_loading) == 20:
            every_part.set()

    stream_files(_same, str(tmp_path), names, min_items=10, take=take, chunk=3, started=started)
    loader.join()
    assert while_loading == [True] * 20
