import math
from typing import Mapping

import pytest

from kimicode.repo.lexical import LexicalIndex
from kimicode.repo.rank import RankedFile, rank_files
from kimicode.repo.terms import file_terms
from kimicode.repo.tree import TreeMemo, render_tree


def ranked_for(texts: Mapping[str, str], defines: Mapping[str, str], imports: Mapping[str, list[str]],
               query: str, recent: Mapping[str, float] | None = None) -> list[RankedFile]:
    """rank_files with a lexical index of ``texts`` (path -> contents), as pack builds it."""
    order = sorted(texts)
    index = LexicalIndex([file_terms(texts[p].encode(), defines.get(p, "").split()) for p in order])
    lines = {p: texts[p].count("\n") + 1 for p in order}
    return rank_files(order, defines, imports, recent or {}, query, index, lines)


PATHS = ["app/main.py", "app/util.py", "app/db.py", "app/budget.py", "tests/test_db.py", "README.md", "docs/guide.md"]
IMPORTS = {
    "app/main.py": ["app/util.py", "app/db.py"],
    "app/db.py": ["app/util.py"],
    "app/budget.py": ["app/util.py"],
    "tests/test_db.py": ["app/db.py"],
}
DEFINES = {"app/budget.py": "compute_budget\nShelf", "app/db.py": "connect", "app/util.py": "helper"}


def test_structural_ranking_prefers_imported_and_entry_points() -> None:
    ranked = [r.path for r in rank_files(PATHS, DEFINES, IMPORTS, {})]
    assert ranked.index("app/util.py") < ranked.index("docs/guide.md")
    assert ranked.index("app/main.py") < ranked.index("tests/test_db.py")
    assert ranked[:3].count("app/util.py") == 1


TEXTS = {
    "app/main.py": "from app import util, db\n\ndef main():\n    db.connect()\n",
    "app/util.py": "def helper(x):\n    return x\n",
    "app/db.py": "from app import util\n\ndef connect():\n    raise ConnectionError('database is locked')\n",
    "app/budget.py": "from app import util\n\nclass Shelf: pass\n\ndef compute_budget(window):\n    return window - 100\n",
    "tests/test_db.py": "from app import db\n\ndef test_connect():\n    db.connect()\n",
    "README.md": "# App\n\nSee docs.\n",
    "docs/guide.md": "# Guide\n\nUsing the app.\n",
}


def test_query_ranking_puts_matches_first_with_their_reasons() -> None:
    ranked = ranked_for(TEXTS, DEFINES, IMPORTS, "how is compute_budget done?")
    assert ranked[0].path == "app/budget.py"
    assert any("defines compute_budget" in why for why in ranked[0].reasons)
    assert ranked[0].probability > 0.5 and abs(sum(r.probability for r in ranked) - 1) < 1e-9
    assert dict(ranked[0].signals)["definitions"] > 0


def test_words_of_the_body_find_an_error_message() -> None:
    ranked = ranked_for(TEXTS, DEFINES, IMPORTS, 'Why do I get "database is locked" on startup?')
    assert ranked[0].path == "app/db.py"  # only its body says so: no name or definition matches


def test_a_hub_does_not_win_every_question() -> None:
    texts = {f"pkg/mod{i}.py": f"from pkg import core\n\ndef run{i}():\n    return core.base()\n" for i in range(30)}
    texts["pkg/core.py"] = "def base():\n    return 1\n"
    texts["pkg/reader.py"] = "from pkg import core\n\ndef read_line(line):\n    raise ValueError('bad header')\n"
    imports = {p: ["pkg/core.py"] for p in texts if p != "pkg/core.py"}
    defines = {p: t.split("def ")[1].split("(")[0] for p, t in texts.items()}
    # only the body of reader.py has these words; core.py is what every module imports
    ranked = ranked_for(texts, defines, imports, "Startup fails with ValueError: bad header")
    assert ranked[0].path == "pkg/reader.py"
    # the evidence's odds (the score is their log), before the calibration that mixes in the rank
    assert ranked[0].score > next(r.score for r in ranked if r.path == "pkg/core.py") + math.log(5)


def test_traceback_paths_name_repository_files() -> None:
    texts = {"src/_pytest/assertion/rewrite.py": "def visit_Assert(self):\n    pass\n",
             "src/_pytest/python.py": "def collect():\n    pass\n", "src/pytest/__init__.py": "from _pytest import python\n"}
    question = ('crash\n  File "/usr/local/lib/python3.8/site-packages/_pytest/assertion/rewrite.py", line 2, in visit_Assert\n'
                "AssertionError")
    ranked = ranked_for(texts, {"src/_pytest/assertion/rewrite.py": "visit_Assert"}, {}, question)
    assert ranked[0].path == "src/_pytest/assertion/rewrite.py"
    assert any(why.startswith("traceback: visit_Assert (line 2)") for why in ranked[0].reasons)
    assert ranked[0].focus is not None and 2 in ranked[0].focus.frame_lines


def test_the_outermost_frame_outside_tests_is_where_the_caller_entered() -> None:
    texts = {"pkg/expr.py": "def __eq__(self, other):\n    return sympify(other)\n",
             "pkg/sympify.py": "def sympify(a):\n    return parse_expr(a)\n",
             "pkg/parser.py": "def parse_expr(code):\n    return eval(code)\n",
             "pkg/tests/test_expr.py": "def test_eq():\n    assert x == C()\n"}
    question = ("Equality evaluates reprs\n```\npkg/tests/test_expr.py:2: in test_eq\npkg/expr.py:2: in __eq__\n"
                "pkg/sympify.py:2: in sympify\npkg/parser.py:2: in parse_expr\nAttributeError: no attribute y\n```\n")
    ranked = {r.path: dict(r.signals) for r in ranked_for(texts, {}, {}, question)}
    assert ranked["pkg/expr.py"].get("entry", 0) > 0 and ranked["pkg/parser.py"].get("deepest", 0) > 0
    assert all(ranked[p].get("entry", 0) == 0 for p in ("pkg/tests/test_expr.py", "pkg/sympify.py", "pkg/parser.py"))


def test_a_javascript_trace_names_the_file_that_threw_as_deepest() -> None:
    texts = {"src/View.jsx": "export function render(x) {\n  return x.name\n}\n",
             "src/App.jsx": "import { render } from './View'\nexport function App() {\n  return render()\n}\n"}
    question = "TypeError: x is undefined\n    at render (src/View.jsx:2:12)\n    at App (src/App.jsx:3:10)\n"
    ranked = {r.path: dict(r.signals) for r in ranked_for(texts, {}, {"src/App.jsx": ["src/View.jsx"]}, question)}
    assert ranked["src/View.jsx"].get("deepest", 0) > 0 and ranked["src/App.jsx"].get("entry", 0) > 0
    assert ranked["src/App.jsx"].get("deepest", 0) == 0


def test_recent_changes_boost_and_determinism() -> None:
    plain = rank_files(PATHS, DEFINES, IMPORTS, {})
    boosted = rank_files(PATHS, DEFINES, IMPORTS, {"docs/guide.md": 1.0})
    pos = lambda ranking: [r.path for r in ranking].index("docs/guide.md")  # noqa: E731
    assert pos(boosted) < pos(plain)
    assert rank_files(PATHS, DEFINES, IMPORTS, {}) == plain


def test_tree_folds_deep_folders_to_fit() -> None:
    paths = [f"pkg/sub{i}/deep/file{j}.py" for i in range(20) for j in range(20)] + ["setup.py"]
    full = render_tree(paths, 100_000, len)
    assert "file19.py" in full and "setup.py" in full
    small = render_tree(paths, 500, len)
    assert len(small) <= 500 and "sub3/ (20 files)" in small and "setup.py" in small
    assert render_tree(paths, 20, len) == ""


def test_a_tree_memo_gives_the_trees_made_without_it() -> None:
    paths = [f"pkg/sub{i}/deep/file{j}.py" for i in range(20) for j in range(20)] + ["setup.py"]
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return len(text)

    memo = TreeMemo()
    for budget in (100_000, 500, 20, 5_000, 500):
        assert render_tree(paths, budget, count, memo) == render_tree(paths, budget, len), budget
    assert len(counted) == len(set(counted))  # each depth was rendered and counted once


def test_plural_query_words_find_singular_names() -> None:
    ranked = ranked_for({"rich/table.py": "x = 1\n", "rich/text.py": "y = 2\n"}, {}, {}, "how are tables drawn?")
    assert ranked[0].path == "rich/table.py"


def test_ranking_with_a_question_is_deterministic() -> None:
    first = ranked_for(TEXTS, DEFINES, IMPORTS, "connect to the database")
    assert ranked_for(TEXTS, DEFINES, IMPORTS, "connect to the database") == first


def test_calibration_lifts_the_runners_up_of_an_overconfident_softmax() -> None:
    import numpy as np

    from kimicode.repo.rank import calibrated

    p = np.asarray([1e-6, 0.998, 1e-5, 0.002 - 1.1e-5])
    out = calibrated(p, 0.3, 1.1)
    assert out.sum() == pytest.approx(1.0)
    assert list(np.argsort(-out)) == list(np.argsort(-p))  # the order is the softmax's
    assert out[3] > 0.05 and out[2] > 0.02  # the second and third are no longer written off
    assert list(calibrated(p, 0.0, 1.1)) == list(p)


def test_tree_text_lengths_are_known_before_rendering() -> None:
    # depths whose text cannot fit are skipped without rendering: the sums must be exact
    from kimicode.repo.tree import _build, _lengths, _render

    paths = ["README.md", "src/a.py", "src/pkg/b.py", "src/pkg/deep/c.py", "src/pkg/deep/d.py", "docs/x.md", "setup.py"]
    top = _build(paths)
    lengths = _lengths(top, 3)
    for depth in range(4):
        lines: list[str] = []
        _render(top, 0, depth, lines)
        assert lengths[depth] == len("\n".join(lines))


def test_the_prior_of_every_path_is_the_one_path_rule() -> None:
    from kimicode.repo.rank import _prior, _priors

    names = ["main.py", "Main.PY", "MAIN", ".main", "main.", "main.tar.gz", "mainline.py", "xmain.py", "lib.rs", "LIB.RS",
             "mod.rs", "__main__.py", "index.js", "test_x.py", "Test_x.py", "x_test.py", "README.md", "readme", "KIMI.md",
             "kımı.md", "agentſ.md", "Contributing.rst", "CONTRIBUTING", "K", "util.py", "İndex.js"]
    folders = ["", "src/", "tests/", "Testing/x/", "pkg/test_utils/", "a/b/c/", "lib/"]
    order = sorted(folder + name for folder in folders for name in names)
    prior, why = _priors(order)
    assert [(p, why.get(i, [])) for i, p in enumerate(prior)] == [_prior(path) for path in order]
