"""What a question says about the code: weighted words, identifiers, paths, modules and traceback frames.

A question may be one line ("where is the budget computed?") or a whole issue
with logs, tracebacks and code. Each part carries different evidence:
- traceback frames name files and functions (``File "/usr/.../site-packages/_pytest/assertion/rewrite.py",
  line 12, in visit_Assert``, IPython's ``.../printing.py in _print_latex_png(o)``, pytest's
  ``path.py:12: in f``, JavaScript's ``at f (src/a.js:3:9)``);
- paths and dotted module names name files (``sympy.physics.units.util``);
- identifiers (in code, or written with ``_``, camel case or ``()``) name definitions;
- quoted error messages and the title are the words most worth matching.
Everything is pure and deterministic.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping

from kimicode.repo.terms import word_variants

# Words that say nothing about which code is meant; short words are dropped anyway.
STOPWORDS = frozenset(
    """the and for are but not you all any can had her was one our out has him his how its may new now
    see two way who did get let put say she too use what when where which why with does this that from
    into have will would could should about there their them then than these those your code file files
    function functions method class repo repository project work works working make made like just also
    here some each other only show tell explain find fix bug error errors issue issues problem expected
    actual result results following example examples case cases value values instead seems same want
    need needs able because using used being been were more most much many very well still even though
    however since while something thing things think know way any way really maybe currently version
    self cls def return import none true false elif else pass raise yield lambda async await print
    traceback recent call last line lines most http https www com org github
    in of to is it on at be by or as an if do no so we my me us am
    """.split()
)
MIN_WORD = 2
# How much more a word counts when it comes from these parts of the question.
TITLE_WEIGHT = 2.0
CODE_WEIGHT = 1.5
MESSAGE_WEIGHT = 2.0
IDENTIFIER_WEIGHT = 1.5  # an identifier written in prose (snake_case, CamelCase, name())
PART_WEIGHT = 0.5  # a camel-case part (``function`` of ``SingularityFunction``)
SATURATION = 1.5  # repeated words: weight * (k + 1) / (k + n), like BM25's query term frequency

_EXTENSIONS = (
    "py pyi js jsx mjs cjs ts tsx mts go rs java kt scala c h cc cpp cxx hpp hh rb php cs swift m mm "
    "sh bash zsh pl lua r jl ex exs erl hs ml clj sql html htm css scss less vue svelte json yaml yml toml "
    "ini cfg conf md rst txt xml gradle cmake mk proto graphql"
).split()
_EXT = "|".join(sorted(_EXTENSIONS, key=len, reverse=True))
# A fence opens its line and its info string holds no backtick (CommonMark), or ```name``` in a
# sentence would swallow what follows; it closes at the next ```, wherever an issue puts it.
_FENCE = re.compile(r"^[ \t]*```[^`\n]*\n(.*?)(?:```|\Z)", re.DOTALL | re.MULTILINE)
_INLINE = re.compile(r"`([^`\n]+)`")
_CODE_LINE = re.compile(r"^(?:>>> |\.\.\. |In \[\d+\]: |\$ |(?:    |\t)+(?=\S))(.*)$", re.MULTILINE)
# Traceback frames, most specific first; each gives a path and maybe a line and a function.
_FRAMES = (
    re.compile(r'File "(?P<path>[^"\n]+)", line (?P<line>\d+)(?:, in (?P<func>[\w<>.$]+))?'),
    re.compile(r"^(?P<path>\S+\.py) in (?P<func>[\w<>]+)\(", re.MULTILINE),  # IPython
    re.compile(r"^(?P<path>[\w./\\:-]+\.\w+):(?P<line>\d+):(?: in (?P<func>[\w<>.$]+))?", re.MULTILINE),  # pytest, compilers
    re.compile(r"\bat (?:(?P<func>[\w.$<>]+) )?\(?(?P<path>[^()\s:]+\.\w+):(?P<line>\d+)(?::\d+)?\)?"),  # JavaScript
)
_PATH = re.compile(rf"(?<![\w@])(?:[A-Za-z]:)?[\w.~\\/-]*[\w-]\.(?:{_EXT})(?![\w/])", re.IGNORECASE)
_DOTTED = re.compile(r"(?<![\w./])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?![\w/])")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.MULTILINE)
_MESSAGE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception|Warning|Exit|Interrupt|Failure))\b:?\s*(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"\"([^\"\n]{8,200})\"|'([^'\n]{8,200})'")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\(\))?")
_SITE = re.compile(r"^.*/(?:site-packages|dist-packages|node_modules|vendor|lib/python\d[\d.]*|Lib)/")
_NOT_MODULES = frozenset({"self", "cls", "np", "pd", "plt", "os", "sys", "re", "json", "e", "g", "i", "x", "this"})


@dataclass(frozen=True)
class Frame:
    path: str  # normalised (see normalise_path)
    line: int | None
    function: str | None


@dataclass(frozen=True)
class Question:
    text: str
    terms: dict[str, float]  # index word -> weight
    identifiers: dict[str, float]  # lower-cased identifier as written -> weight
    named: frozenset[str]  # those of the identifiers written in prose (or also said there) or traceback frames
    paths: tuple[str, ...]  # path mentions, normalised, in order of first mention
    modules: tuple[str, ...]  # dotted names as slash paths ("sympy/physics/units"), longest first per name
    frames: tuple[Frame, ...]  # outermost first, as Python writes them (JavaScript's are reversed)
    messages: tuple[str, ...] = field(default=())  # error messages and quoted phrases


def normalise_path(raw: str) -> str:
    """A path as a repository would hold it: forward slashes, no drive, no install prefix, no ./ or a/."""
    path = raw.strip().strip("'\"()[]<>,;").replace("\\", "/")
    path = re.sub(r"^[A-Za-z]:/", "/", path)
    path = _SITE.sub("", path)
    while path.startswith(("./", "../", "~/")):
        path = path.split("/", 1)[1]
    if re.match(r"^[ab]/", path):  # diff headers
        path = path[2:]
    return path.lstrip("/")


def _frames(text: str) -> list[Frame]:
    """The frames of the question's tracebacks, outermost first."""
    found: list[tuple[int, Frame]] = []
    taken: list[tuple[int, int]] = []
    innermost_first = 0  # frames of stack traces written innermost first (JavaScript's `at f (...)`)
    for pattern in _FRAMES:
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            groups = m.groupdict()
            line = groups.get("line")
            path = normalise_path(groups["path"])
            if path and not groups["path"].startswith("<"):
                found.append((m.start(), Frame(path, int(line) if line else None, groups.get("func"))))
                innermost_first += pattern is _FRAMES[-1]
    frames = [frame for _, frame in sorted(found, key=lambda item: item[0])]
    # Python writes the caller first, JavaScript (and Rust's `at` lines) the frame that threw:
    # `deepest` and `entry` (signals.py) read the order, so it is made the same
    return frames[::-1] if frames and innermost_first == len(frames) else frames


def _code(text: str) -> tuple[str, str]:
    """(the code of the question: fences, inline spans, prompt and indented lines; the rest)."""
    code: list[str] = []

    def keep(m: re.Match[str]) -> str:
        code.append(m.group(1))
        return "\n"

    rest = _FENCE.sub(keep, text)
    rest = _INLINE.sub(keep, rest)
    rest = _CODE_LINE.sub(keep, rest)
    return "\n".join(code), rest


def _modules(text: str) -> list[str]:
    names: list[str] = []
    for m in _IMPORT.finditer(text):
        names.append(m.group(1) or m.group(2))
    for m in _DOTTED.finditer(text):
        name = m.group(0)
        first = name.split(".", 1)[0]
        # "e.g.", "self.x" and method calls on locals say nothing about modules
        if first.lower() in _NOT_MODULES or name.rsplit(".", 1)[-1].lower() in _EXTENSIONS:
            continue
        names.append(name)
    out: list[str] = []
    for name in dict.fromkeys(names):
        out.append(name.strip(".").replace(".", "/"))
    return out


def _is_identifier(token: str) -> bool:
    bare = token.rstrip("()")
    return token.endswith("()") or "_" in bare.strip("_") or bare.startswith("_") or (
        any(c.isupper() for c in bare[1:]) and any(c.islower() for c in bare)
    )


class _Weights:
    def __init__(self) -> None:
        self.terms: defaultdict[str, float] = defaultdict(float)
        self.identifiers: defaultdict[str, float] = defaultdict(float)
        self.named: set[str] = set()
        self.prose: set[str] = set()  # every name-like word of the prose, lower-cased

    def add_text(self, text: str, weight: float, code: bool = False) -> None:
        for m in _TOKEN.finditer(text):
            token = m.group(0)
            bare = token.rstrip("()")
            # in code, a name that is called, assigned, imported or an attribute; in prose, one that looks like code
            identifier = _is_identifier(token) or code and (
                text[m.start() - 1 : m.start()] == "." or text[m.end() : m.end() + 1] in ("(", "=", "[", ".")
                or text[max(m.start() - 6, 0) : m.start()].endswith(("def ", "class ", "import "))
            )
            if not code:
                self.prose.add(bare.lower())
            if identifier and len(bare) >= 3 and bare.lower() not in STOPWORDS:
                self.identifiers[bare.lower()] += weight
                if not code:
                    self.named.add(bare.lower())
            own, parts = word_variants(bare)
            boost = IDENTIFIER_WEIGHT if identifier and not code else 1.0
            for word in own:
                if len(word) >= MIN_WORD and word not in STOPWORDS and not word.isdigit():
                    self.terms[word] += weight * boost
                    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
                        self.terms[word[:-1]] += weight * boost * PART_WEIGHT  # "tables" should find table.py
            for part in parts:
                if len(part) >= 3 and part not in STOPWORDS and not part.isdigit():
                    self.terms[part] += weight * PART_WEIGHT


def _saturate(counts: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v * (SATURATION + 1) / (SATURATION + v), 4) for k, v in sorted(counts.items())}


def parse_question(text: str) -> Question:
    frames = _frames(text)
    code, prose = _code(text)
    # paths in frames and in the text: their words are noise ("usr", "site", "packages") for BM25
    path_spans = [normalise_path(m.group(0)) for m in _PATH.finditer(text)]
    paths = [p for p in dict.fromkeys([f.path for f in frames] + path_spans) if p]
    without_paths = _PATH.sub(" ", prose)
    weights = _Weights()
    title, _, body = without_paths.strip().partition("\n")
    weights.add_text(title, TITLE_WEIGHT)
    weights.add_text(body, 1.0)
    weights.add_text(_PATH.sub(" ", code), CODE_WEIGHT, code=True)
    messages: list[str] = []
    for m in _MESSAGE.finditer(text):
        message = f"{m.group(1)}: {m.group(2)}".strip(": \r")
        messages.append(message)
        weights.add_text(m.group(2), MESSAGE_WEIGHT - 1.0)  # on top of where it was already counted
    for m in _QUOTED.finditer(prose):
        phrase = m.group(1) or m.group(2)
        if " " in phrase.strip():
            messages.append(phrase)
            weights.add_text(phrase, MESSAGE_WEIGHT - 1.0)
    for frame in frames:
        if frame.function and frame.function.isidentifier():
            weights.identifiers[frame.function.lower()] += CODE_WEIGHT
            weights.named.add(frame.function.lower())
    # a name of the code that the prose also says ("Wrong Derivative kind" over ``Derivative(A, x).kind``)
    # is what the question is about, not just part of its reproduction
    weights.named |= weights.prose & weights.identifiers.keys()
    return Question(
        text,
        _saturate(weights.terms),
        _saturate(weights.identifiers),
        frozenset(weights.named),
        tuple(paths),
        tuple(_modules(code + "\n" + _PATH.sub(" ", prose))),
        tuple(frames),
        tuple(dict.fromkeys(messages)),
    )
