import os
from pathlib import Path
from typing import Sequence

from kimicode.repo.parallel import map_files


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


def test_small_batches_stay_in_process(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("abc")
    assert map_files(_lengths_and_pids, str(tmp_path), ["a"], min_items=10) == [("a", 3, os.getpid())]
