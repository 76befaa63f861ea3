from kimicode.budget import ShelfTable, middle_out, repo_room


def test_repo_room_leaves_reply_and_other_shelves() -> None:
    room = repo_room(10_000, 2_000, {"system": 500, "recent": 300}, messages=2)
    assert 7_000 < room < 7_200
    assert repo_room(10_000, 2_000, {"system": 500}, messages=2, cap=1_000) == 1_000
    assert repo_room(1_000, 2_000, {}, messages=2) == 0


def test_shelf_table_rows_in_design_order() -> None:
    table = ShelfTable(1000, {"system": 100, "recent": 50, "repo": 300, "reply": 200})
    assert [r[0] for r in table.rows()] == ["system", "memory", "state", "recent", "repo", "reply"]
    assert table.prompt_tokens == 450 and table.total == 650


def test_middle_out_keeps_head_and_tail() -> None:
    log = "".join(f"line {i}\n" for i in range(10_000))
    cut = middle_out(log, 2_000, lambda s: len(s) // 4)
    assert len(cut) // 4 <= 2_000
    assert cut.startswith("line 0\n") and cut.rstrip().endswith("line 9999")
    assert "lines" in cut and "elided from the middle" in cut
    assert middle_out("short", 100, len) == "short"


def test_middle_out_single_enormous_line() -> None:
    cut = middle_out("x" * 100_000, 1_000, len)
    assert len(cut) <= 3_000 and "elided" in cut
