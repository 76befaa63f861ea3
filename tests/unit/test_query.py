"""Reading a question: tracebacks, paths, modules, messages, identifiers and weighted words."""

from __future__ import annotations

from kimicode.repo.query import normalise_path, parse_question

ISSUE = '''Assertion rewriting crashes on walrus in assert
When running pytest on this file the `visit_Assert` step fails:

```
Traceback (most recent call last):
  File "/usr/local/lib/python3.8/site-packages/_pytest/assertion/rewrite.py", line 712, in visit_Assert
    new_expr = self.visit(assert_.test)
  File "C:\\Users\\me\\venv\\Lib\\site-packages\\_pytest\\main.py", line 40, in wrap_session
ValueError: cannot rewrite "walrus" expression
```
See also _pytest.python_api.approx and the option `--assert=plain`.
'''


def test_traceback_frames_paths_and_functions() -> None:
    q = parse_question(ISSUE)
    assert [(f.path, f.line, f.function) for f in q.frames] == [
        ("_pytest/assertion/rewrite.py", 712, "visit_Assert"),
        ("_pytest/main.py", 40, "wrap_session"),
    ]
    assert "_pytest/assertion/rewrite.py" in q.paths
    assert "_pytest/python_api/approx" in q.modules
    assert any("cannot rewrite" in m for m in q.messages)


def test_other_traceback_styles() -> None:
    ipython = parse_question("/usr/lib/python3.8/dist-packages/sympy/printing/latex.py in _print_latex_png(o)\n")
    assert [(f.path, f.function) for f in ipython.frames] == [("sympy/printing/latex.py", "_print_latex_png")]
    pytest_style = parse_question("src/app/models.py:88: in save\n    raise Boom\n")
    assert [(f.path, f.line, f.function) for f in pytest_style.frames] == [("src/app/models.py", 88, "save")]
    js = parse_question("TypeError: x is undefined\n    at render (src/components/View.jsx:12:5)\n")
    assert [(f.path, f.line, f.function) for f in js.frames] == [("src/components/View.jsx", 12, "render")]
    assert parse_question('File "<stdin>", line 1, in <module>').frames == ()


def test_normalise_path_strips_install_prefixes() -> None:
    assert normalise_path("/usr/local/lib/python3.8/site-packages/_pytest/assertion/rewrite.py") == "_pytest/assertion/rewrite.py"
    assert normalise_path("C:\\proj\\node_modules\\react\\index.js") == "react/index.js"
    assert normalise_path("a/src/app.py") == "src/app.py"
    assert normalise_path("./kimicode/pack.py") == "kimicode/pack.py"


def test_words_are_weighted_by_where_they_come_from() -> None:
    q = parse_question("Budget overflow in compute_budget\nthe tokens are counted twice when packing tokens")
    assert q.terms["budget"] > q.terms["packing"]  # the title counts more
    assert "compute_budget" in q.identifiers and "compute" in q.terms
    assert "the" not in q.terms and "when" not in q.terms
    assert "token" in q.terms  # plural words also look for the singular


def test_code_spans_give_identifiers_and_camel_parts() -> None:
    q = parse_question("Calling `LatexPrinter._print_SingularityFunction(expr)` fails")
    assert {"latexprinter", "_print_singularityfunction"} <= set(q.identifiers)
    assert "singularityfunction" in q.terms and "singularity" in q.terms
    assert q.terms["singularity"] < q.terms["singularityfunction"]  # a camel part counts less than the word itself


def test_a_name_of_the_code_that_the_prose_says_is_named() -> None:
    q = parse_question("Wrong Derivative kind attribute\n```\ni = Integral(A, x)\nd = Derivative(A, x)\nd.kind\n```\n")
    assert {"derivative", "kind"} <= q.named  # the title talks about them
    assert "integral" in q.identifiers and "integral" not in q.named  # only the reproduction uses it


def test_frames_come_outermost_first_whichever_way_the_trace_is_written() -> None:
    js = parse_question("TypeError: x is undefined\n    at render (src/components/View.jsx:12:5)\n"
                        "    at renderList (src/components/List.jsx:40:9)\n    at App (src/App.jsx:7:3)\n")
    assert [f.path for f in js.frames] == ["src/App.jsx", "src/components/List.jsx", "src/components/View.jsx"]
    python = parse_question('Traceback (most recent call last):\n  File "app/main.py", line 3, in <module>\n'
                            '  File "app/db.py", line 9, in connect\nOSError: refused\n')
    assert [f.path for f in python.frames] == ["app/main.py", "app/db.py"]


def test_triple_backticks_within_a_line_are_a_code_span_not_a_fence() -> None:
    # a fence opens a line and its info string holds no backtick (CommonMark): read as a fence,
    # ```dfs_edges``` swallowed the prose after it, and the reproduction below became prose
    q = parse_question(
        "dfs_edges misses edges of a multigraph\n"
        "I expected ```dfs_edges``` to return every edge. However:\n\n"
        "```python\ng = nx.MultiDiGraph()\ng.add_edge(1, 2)\nprint(list(nx.dfs_edges(g)))\n```\n"
        "Is there anything I'm missing here?\n"
    )
    assert "dfs_edges" in q.named
    assert "add_edge" in q.identifiers and "add_edge" not in q.named  # only the reproduction calls it
    assert "missing" in q.terms  # the prose after the fence is prose
