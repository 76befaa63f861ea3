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
