from kimicode.repo.rank import mentioned_paths, query_terms, rank_files, split_identifier
from kimicode.repo.tree import render_tree


def test_split_identifier_and_terms() -> None:
    assert split_identifier("parseHTTPResponse_v2") == ["parse", "http", "response", "v2"]
    terms = query_terms("How is the token budget computed in computeBudget?")
    assert "budget" in terms and "computebudget" in terms and "compute" in terms
    assert "how" not in terms and "the" not in terms


def test_mentioned_paths() -> None:
    paths = ["kimicode/budget.py", "kimicode/tokens.py", "tests/test_budget.py"]
    assert mentioned_paths("look at kimicode/budget.py please", paths) == {"kimicode/budget.py"}
    assert mentioned_paths("why does tokens.py fail", paths) == {"kimicode/tokens.py"}


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


def test_query_ranking_puts_matches_and_neighbours_first() -> None:
    ranked = rank_files(PATHS, DEFINES, IMPORTS, {}, query="how is compute_budget done?")
    order = [r.path for r in ranked]
    assert order[0] == "app/budget.py"
    assert any("defines 'compute_budget'" in why for why in ranked[0].reasons)
    assert order.index("app/util.py") < order.index("docs/guide.md")  # imported by the match


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


def test_plural_query_words_find_singular_names() -> None:
    assert "table" in query_terms("render markdown tables") and "class" not in query_terms("classes")
    ranked = rank_files(["rich/table.py", "rich/text.py"], {}, {}, {}, query="how are tables drawn?")
    assert ranked[0].path == "rich/table.py"


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
