"""The facts code keeps of folded tool calls: one per call, refreshed by a newer same call, no secrets."""

from __future__ import annotations

from kimicode.chat.records import Turn
from kimicode.chat.state import StateRecord
from kimicode.chat.toolfacts import carry_tool_facts, tool_facts


def round_of(first: int, path: str, result: str) -> list[Turn]:
    call = {"id": f"c{first}", "name": "read_file", "arguments": f'{{"path": "{path}"}}'}
    hide = {"id": f"h{first}", "name": "hide", "arguments": '{"ids": [1]}'}
    return [Turn(first, "assistant", "", tool_calls=[call, hide]),
            Turn(first + 1, "tool", result, name="read_file", call_id=f"c{first}"),
            Turn(first + 2, "tool", "hidden: 1", name="hide", call_id=f"h{first}")]


def test_a_newer_call_with_the_same_arguments_refreshes_its_fact_and_the_context_tools_find_nothing() -> None:
    record = StateRecord()
    added = carry_tool_facts(record, tool_facts(round_of(2, "a.py", "a.py lines 1-2 of 2\n1| x = 1\n2| y = 2")), 1)
    assert [record.get(i).text for i in added if record.get(i)] == ["read_file(path='a.py'): a.py lines 1-2 of 2 (3 lines)"]
    assert carry_tool_facts(record, tool_facts(round_of(9, "a.py", "a.py lines 1-1 of 1")), 2) == []
    (item,) = record.active("fact")
    assert (item.text, item.turns, item.previous) == ("read_file(path='a.py'): a.py lines 1-1 of 1", [3, 10],
                                                      ["read_file(path='a.py'): a.py lines 1-2 of 2 (3 lines)"])


def test_a_result_whose_call_was_not_folded_gives_no_fact_and_a_secret_in_the_arguments_is_redacted() -> None:
    assert tool_facts(round_of(2, "a.py", "text")[1:]) == []
    record = StateRecord()
    key = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    carry_tool_facts(record, tool_facts(round_of(2, f"{key}.py", "nothing")), 1)
    (item,) = record.active("fact")
    assert key not in item.text and key not in item.source
