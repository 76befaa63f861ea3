"""Which of the outlined languages a path holds, from its name alone.

Pure and import-free on purpose: it runs on every path of a repository before
anything is read, and must not pull tree-sitter in.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "ruby")

_BY_EXTENSION: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    # .h is shared by C and C++; the C grammar reads both well enough for an outline.
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".h++": "cpp",
    ".ipp": "cpp",
    ".tpp": "cpp",
    ".inl": "cpp",
    ".rb": "ruby",
    ".rake": "ruby",
    ".gemspec": "ruby",
    ".ru": "ruby",
}

# Upper-case .C and .H are the traditional Unix C++ suffixes, so they are
# checked before the name is lower-cased.
_CASE_SENSITIVE: dict[str, str] = {".C": "cpp", ".H": "cpp"}

_BY_NAME: dict[str, str] = {
    "Rakefile": "ruby",
    "Gemfile": "ruby",
    "Guardfile": "ruby",
    "Capfile": "ruby",
    "Vagrantfile": "ruby",
    "Podfile": "ruby",
    "Fastfile": "ruby",
    "Berksfile": "ruby",
}


def language_for(path: str) -> str | None:
    """The language of ``path`` (one of LANGUAGES), or None for anything else."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name in _BY_NAME:
        return _BY_NAME[name]
    dot = name.rfind(".")
    if dot <= 0:  # no extension, or a dotfile such as ".py" alone
        return None
    ext = name[dot:]
    return _CASE_SENSITIVE.get(ext) or _BY_EXTENSION.get(ext.lower())
