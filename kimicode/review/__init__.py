"""The pre-commit review: what is about to be committed -> findings -> an exit code.

One job per module, in the order the data flows:

- ``changes``  the change set from git (staged, a range, or whole files) and a reader for the
  new version of every file (the index, a commit, or the work tree);
- ``patch``    unified-diff hunks: parse, number, split;
- ``checks``   local checks that need no model: staged secrets block, binary/huge files are skipped;
- ``request``  the review request(s) within a token budget, split by file then hunk when too big;
- ``findings`` the model's JSON answer, validated, merged across parts, rendered;
- ``run``      one model call per part, with one retry for an answer that is not valid JSON;
- ``hook``     the git pre-commit and pre-merge-commit hooks: install, uninstall, chain to a foreign hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimicode.lazy import exports

if TYPE_CHECKING:
    from kimicode.review.changes import ChangeError, ChangeSet, commit_range, staged, whole_files
    from kimicode.review.checks import LocalReport, local_checks
    from kimicode.review.findings import Finding
    from kimicode.review.hook import HookError
    from kimicode.review.request import Plan, PlanError, build_plan
    from kimicode.review.run import Deadline, Outcome, review

_HOMES = {
    **dict.fromkeys(("ChangeError", "ChangeSet", "commit_range", "staged", "whole_files"), "changes"),
    **dict.fromkeys(("LocalReport", "local_checks"), "checks"),
    "Finding": "findings",
    "HookError": "hook",
    **dict.fromkeys(("Plan", "PlanError", "build_plan"), "request"),
    **dict.fromkeys(("Deadline", "Outcome", "review"), "run"),
}
__all__ = ["ChangeError", "ChangeSet", "Deadline", "Finding", "HookError", "LocalReport", "Outcome", "Plan", "PlanError",
           "build_plan", "commit_range", "local_checks", "review", "staged", "whole_files"]

__getattr__ = exports(__name__, _HOMES)
