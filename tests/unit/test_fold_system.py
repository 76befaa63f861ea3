from kimicode.prompt import Message, fold_system


def test_the_system_text_leads_the_first_user_message_and_nothing_else_moves() -> None:
    messages = [Message("system", "RULES"), Message("system", "REPO"), Message("user", "q1"),
                Message("assistant", "a1"), Message("user", "q2")]
    folded = fold_system(messages)
    assert [m.role for m in folded] == ["user", "assistant", "user"]
    assert folded[0].content == "RULES\n\nREPO\n\nq1" and folded[1:] == messages[3:]


def test_without_a_user_message_the_system_text_becomes_one() -> None:
    assert fold_system([Message("system", "RULES")]) == [Message("user", "RULES")]
    assert fold_system([Message("user", "q")]) == [Message("user", "q")]
