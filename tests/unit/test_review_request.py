"""Review requests within a budget: context, numbering, redaction, splitting into parts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import git
import pytest

from kimicode.prompt import BudgetPlan, wire
from kimicode.review.changes import staged
from kimicode.review.checks import local_checks
from kimicode.review.patch import added_lines
from kimicode.review.request import FULL_FILE_TOKENS, PlanError, build_plan, prompt_sections
from kimicode.tokens import TokenCounter
from tests.repos import make_repo, write_files

AWS = "AKIAIOSFODNN7EXAMPLE"
COUNTER = TokenCounter()
PLAN = BudgetPlan.for_model(262_144, 262_144, 16_384, pack_budget=128_000)
BASE = {
    "AGENTS.md": "# Rules\n\nNever divide by zero. Marker: AGENTS-RULE-7.\n",
    "pkg/__init__.py": "",
    "pkg/util.py": 'def helper(x: int) -> int:\n    """Double it."""\n    return x * 2\n',
    "pkg/app.py": f'from pkg.util import helper\n\nAWS_KEY = "{AWS}"\n\n\ndef main() -> int:\n    return helper(3)\n',
}


def plan_for(root: Path, budget: int = 100_000, max_file_bytes: int = 1_000_000):  # type: ignore[no-untyped-def]
    changes = staged(root)
    report = local_checks(changes, max_file_bytes)
    assert not report.secrets
    return build_plan(changes, report, COUNTER, PLAN, budget, max_file_bytes), report


def stage(repo: git.Repo, files: dict[str, str]) -> Path:
    root = Path(repo.working_tree_dir)
    write_files(root, files)
    repo.git.add("-A")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    return make_repo(tmp_path / "repo", BASE)


def test_prompt_sections_exist() -> None:
    sections = prompt_sections()
    assert set(sections) == {"system", "user", "part", "retry"}
    assert '"findings"' in sections["system"]


def test_one_request_with_context_instructions_and_numbered_diff(repo: git.Repo) -> None:
    root = stage(repo, {"pkg/app.py": BASE["pkg/app.py"].replace("helper(3)", "helper(3) / 0")})
    plan, _ = plan_for(root)
    assert len(plan.parts) == 1 and plan.notes == []
    part = plan.parts[0]
    system, user = part.messages[0].content, part.messages[1].content
    assert "AGENTS-RULE-7" in system and "Project instructions (AGENTS.md)" in system
    assert part.context == [("pkg/app.py", "full"), ("pkg/util.py", "outline")]
    assert user.index('<file path="pkg/app.py" mode="full">') < user.index("<diff path=")  # stable context first
    assert '<diff path="pkg/app.py" status="modified" added="1" removed="1">' in user
    assert re.search(r"^\s+7 \+     return helper\(3\) / 0$", user, re.MULTILINE)
    assert "def helper(x: int) -> int" in user  # the imported module's outline
    assert "part 1 of" not in user
    assert part.tokens <= plan.budget


def test_secrets_in_sent_context_are_redacted(repo: git.Repo) -> None:
    # The key was committed before: it does not block, but it must not be sent either.
    root = stage(repo, {"pkg/app.py": BASE["pkg/app.py"].replace("helper(3)", "helper(4)")})
    plan, _ = plan_for(root)
    sent = json.dumps([wire(p.messages) for p in plan.parts])
    assert AWS not in sent
    assert "[REDACTED:AWS Access Key]" in sent
    assert ("pkg/app.py", 3, "AWS Access Key") in plan.redactions


def test_a_big_changed_file_goes_as_an_outline(repo: git.Repo) -> None:
    big = "".join(f"def function_{i}(value: int) -> int:\n    return value + {i} * {i} - {i}\n\n\n" for i in range(900))
    root = stage(repo, {"pkg/big.py": big})
    assert COUNTER.count(big) > FULL_FILE_TOKENS
    root = stage(repo, {"pkg/big.py": big.replace("return value + 5 *", "return value - 5 *")})
    plan, _ = plan_for(root)
    assert ("pkg/big.py", "outline") in plan.parts[0].context


def test_a_deleted_file_is_shown_by_name(repo: git.Repo) -> None:
    repo.git.rm("pkg/util.py")
    plan, _ = plan_for(Path(repo.working_tree_dir))
    assert '<diff path="pkg/util.py" status="deleted"/>' in plan.parts[0].messages[1].content


def test_too_small_a_budget_is_refused(repo: git.Repo) -> None:
    root = stage(repo, {"pkg/app.py": "x = 1\n"})
    with pytest.raises(PlanError, match="leaves no room"):
        plan_for(root, budget=300)


def _added_in(plan) -> dict[str, dict[int, str]]:  # type: ignore[no-untyped-def]
    """Added lines per file, read back from what the parts would send."""
    seen: dict[str, dict[int, str]] = {}
    for part in plan.parts:
        user = part.messages[1].content
        for path, body in re.findall(r'<diff path="([^"]+)"[^>]*>\n(.*?)\n</diff>', user, re.DOTALL):
            for line in body.split("\n"):
                match = re.match(r"^\s*(\d+) \+ (.*)$", line)
                if match:
                    seen.setdefault(path, {})[int(match.group(1))] = match.group(2)
    return seen


def test_a_diff_too_big_for_one_request_is_split_by_file(repo: git.Repo) -> None:
    files = {f"mod/file_{i:02}.py": "".join(f"value_{i}_{j} = {j} * {i}\n" for j in range(40)) for i in range(12)}
    root = stage(repo, files)
    budget = 3_000
    plan, report = plan_for(root, budget=budget)
    assert len(plan.parts) > 2
    assert plan.notes and f"into {len(plan.parts)} parts" in plan.notes[0] and "split by file" in plan.notes[0]
    assert all(part.tokens <= budget for part in plan.parts)
    # every file is reviewed once, whole, and every request lists all of them
    assert sorted(path for part in plan.parts for path in part.files) == sorted(files)
    assert _added_in(plan) == {c.path: added_lines(c.hunks) for c in report.reviewable}
    for number, part in enumerate(plan.parts, start=1):
        user = part.messages[1].content
        assert f"This is part {number} of {len(plan.parts)}" in user
        assert all(path in user for path in files)


def test_one_file_too_big_for_a_part_is_split_by_hunk_then_by_line(repo: git.Repo) -> None:
    lines = [f"setting_{i} = {i}\n" for i in range(600)]
    root = stage(repo, {"conf.py": "".join(lines)})
    repo.git.commit("-m", "conf", "--no-verify")
    for i in range(0, 600, 40):  # fifteen separate hunks
        lines[i] = f"setting_{i} = {i} + 1  # changed\n"
    lines.extend(f"extra_{i} = {i}\n" for i in range(400))  # and one long hunk at the end
    root = stage(repo, {"conf.py": "".join(lines)})
    budget = 2_500
    plan, report = plan_for(root, budget=budget)
    assert len(plan.parts) > 2 and "split by file and hunk" in plan.notes[0]
    assert all(part.tokens <= budget for part in plan.parts)
    assert all('piece="' in part.messages[1].content for part in plan.parts)
    assert _added_in(plan) == {"conf.py": added_lines(report.reviewable[0].hunks)}
