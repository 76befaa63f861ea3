from kimicode.prompt import BudgetPlan, ShelfTable, middle_out


def test_the_plan_reserves_the_reply_and_caps_the_repository() -> None:
    plan = BudgetPlan.for_model(10_000, 8_000, 2_000, pack_budget=100_000)
    assert (plan.reply, plan.prompt_limit) == (2_000, 8_000)
    assert plan.chat_repo(system=200) == (8_000 - 200 - 16) // 2  # half of what the system prompt leaves
    assert BudgetPlan.for_model(10_000, 8_000, 2_000, pack_budget=1_000).chat_repo(system=200) == 1_000
    # a small window still gets a prompt: the reply takes at most half of it
    assert BudgetPlan.for_model(8_192, 8_192, 16_384, pack_budget=1_000).reply == 4_096
    assert plan.near_window(7_000) and not plan.near_window(6_900)


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
    assert len(cut) <= 1_000 and "elided" in cut
