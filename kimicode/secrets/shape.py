"""Is a value found beside a secret-sounding name a secret, or code, a placeholder, a word?

Provider formats (``ghp_...``, ``AKIA...``) prove themselves by their shape. Keyword,
entropy and URL rules do not: they fire on ordinary code all the time
(``secrets = "1 secret"``, ``token_type = "bearer"``, ``password = get_password()``,
a docstring's ``https://user:pw@host``). These pure functions tell the two apart by the
name (``password_field`` names a field, ``api_token`` holds a token) and by the value's
shape: length, character classes, entropy, placeholders, references and paths.

Randomly generated secrets pass easily (long, mixed, high entropy); what they reject is
text a person wrote as an example or a name.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
from collections import Counter

# Files where a bare (unquoted) value after ``name =`` is a variable, not a literal.
CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".pyx", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".java", ".kt",
    ".kts", ".scala", ".groovy", ".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".cs", ".fs",
    ".rb", ".php", ".swift", ".m", ".mm", ".lua", ".pl", ".pm", ".r", ".jl", ".dart", ".ex", ".exs",
    ".erl", ".hs", ".ml", ".clj", ".vue", ".svelte", ".zig", ".nim", ".v", ".sql", ".tcc", ".inl", ".ipp",
    ".tpp", ".txx", ".cu", ".cuh", ".f90", ".d", ".cr", ".elm", ".purs", ".re", ".res", ".sol",
})

# Words of a name that make it a secret's name, and `<word> key` pairs (api key, access key...).
_SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "credential", "credentials",
    "contraseña", "contrasena", "bearer", "authorization", "secretkey", "accesskey", "privatekey",
    "authtoken", "accesstoken", "refreshtoken", "passcode",
})
_KEY_QUALIFIERS = frozenset({
    "api", "access", "auth", "app", "private", "client", "signing", "encryption", "master", "secret",
    "account", "service", "db", "database", "admin", "root", "deploy", "consumer", "storage", "shared",
    "sas", "webhook", "license", "hmac", "jwt", "session", "cookie", "crypt", "cipher",
})
# A name ending in one of these names something about a secret, not the secret itself.
_NOT_SECRET_LAST = frozenset({
    "name", "names", "id", "ids", "file", "files", "filename", "path", "paths", "dir", "url", "uri", "urls",
    "endpoint", "host", "env", "var", "variable", "field", "fields", "type", "types", "kind", "length",
    "len", "size", "count", "prefix", "suffix", "header", "headers", "param", "params", "prompt", "label",
    "title", "message", "msg", "text", "regex", "re", "pattern", "format", "fmt", "template", "policy",
    "hint", "help", "placeholder", "source", "store", "provider", "command", "cmd", "mode", "class",
    "cls", "method", "timeout", "ttl", "expiry", "expires", "expiration", "lifetime", "limit", "min",
    "max", "required", "enabled", "disabled", "location", "hash", "hashed", "hasher", "digest", "encoder",
    "validator", "validation", "error", "errors", "reset", "strength", "check", "checker", "manager",
    "index", "column", "version", "scope", "scopes", "algorithm", "alg", "ref", "arn", "input", "widget",
    "button", "form", "option", "options", "flag", "schema", "mask", "masked", "chars", "char", "callback", "handler", "factory", "fn", "func", "function", "loader", "parser",
    "reader", "writer", "generator", "pool", "cache", "list", "dict", "map", "set", "tokens", "user",
    "username", "login", "email", "backend", "server", "domain", "realm", "issuer", "audience",
})
_NOT_SECRET_WORDS = frozenset({"public", "publishable", "page", "next", "continuation", "cancel", "cancellation",
                               "csrf", "xsrf", "sync", "tokens", "tokenizer"})
_NAME_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

# Values that are code, a reference or a template rather than a literal: the whole value says so...
_NOT_LITERAL = re.compile(
    r"^\$[A-Za-z_]\w*$|^<.*>$|^\[.*\]$|^@\w+@$|^__\w+__$|^%\w+%$|://"
    r"|(?i:os\.environ|process\.env|getenv|\bENV\[|\bself\.|\bthis\.|\bsettings\.|\bconfig\.|\bargs\.)"
    r"|^(?i:sha\d*|md5|blake2[bs]?|sha3-\d+)[-:]"  # a digest (lock files' integrity), not a secret
)
# ...or a mark inside it does, which random characters can form by chance (see _random_between_marks).
_TEMPLATE_MARK = re.compile(
    r"\$\{[A-Za-z_][^}]*\}|\$\([A-Za-z_][\w ./-]*\)|\{\{|\}\}|\{[A-Za-z_][\w.]*\}|%\(\w+\)[sdr]"
    r"|%[sdr](?![A-Za-z0-9(])|#\{|\w\[['\"]"
)
# Placeholder and name words, matched as whole words (letters around break them). A value is a
# placeholder when they make up a third of it (``your_api_key_here``, ``Password123``): a random
# token may hold one by chance (``...+mocK8...``), a short piece of a long string.
_PLACEHOLDER_WORDS = re.compile(
    r"(?<![a-z])(?:changeme|change_?it|change_me|example|examples|placeholder|dummy|sample|fake|redacted"
    r"|replace_?me|your|yours|insert|here|todo|fixme|notreal|not_?a_?secret|mock|foobar|lorem|none|null"
    r"|undefined|true|false|required|optional|empty|default|string|value|password|passwd|pass|secret"
    r"|secrets|token|tokens|apikey|auth|credentials?|bearer|username|user|admin|test|foo|bar|baz|pwd"
    r"|key|api|nil|yes|no|str|tbd|my)(?![a-z])"
)
# A call (``get_secret()``, ``os.environ.get(``): code when the callee is a name, not when the
# parenthesis falls inside random characters (a Django key such as ``hCCxl3d(EIc_...``).
_CALL = re.compile(r"^([A-Za-z_][\w.]*)\(.*\)$|([A-Za-z_][\w.]*)\(\)(?=$|[.)])")
_NAME_PIECE = re.compile(r"(?:[a-z]+|[A-Z]+|[A-Z][a-z]+)\d*")
_KEY_SYMBOLS = frozenset("!@#$%^&*=+-_~")
_CODE_PAIRS = frozenset({"==", "!=", "+=", "-=", "*=", "^=", "&=", "=>", "->", "&&", "**", "__", "--", "++", "$$", "%%",
                         "!!", "##", "@@", "~~", "_-", "-_"})
_WORD_PIECE = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{3,}(?![a-z])")
_NAME_BOUNDARY = re.compile(r"[._]+|(?<=[a-z])(?=[A-Z])")
_PLACEHOLDER_MARKS = re.compile(r"xxxx|XXXX|\*\*\*|\.\.\.|<|>|^-+$|^_+$|^0+$")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc")
_PATH = re.compile(r"^(?:[A-Za-z]:)?(?:~|\.{1,2})?[/\\](?:[\w.\-]+[/\\])*[\w.\-]*$")
_AUTH_SCHEME = re.compile(r"^(?i:bearer|basic|token|bot|digest|ssws)\s+")
_WORDY = re.compile(r"^[._\-*]*[A-Za-z]+(?:[._\-/:*,+|]+[A-Za-z]+)*[._\-*]*$")  # letters and separators only
_SEPARATORS = re.compile(r"[._\-/:*,+|]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])")


def is_code_file(filename: str) -> bool:
    return os.path.splitext(filename)[1].lower() in CODE_SUFFIXES


def name_words(name: str) -> list[str]:
    """``apiKey``, ``API_KEY``, ``api-key`` -> ["api", "key"]."""
    return [w.lower() for w in _NAME_WORD.findall(name)]


def secret_name(name: str) -> bool:
    """True for names that hold a secret (``api_token``, ``DB_PASS``, ``clientSecret``),
    False for names about one (``password_field``, ``token_type``, ``max_tokens``, ``public_key``)."""
    words = name_words(name)
    if not words:
        return "contrase" in name.lower()
    if words[-1] in _NOT_SECRET_LAST or _NOT_SECRET_WORDS.intersection(words):
        return False
    if _SECRET_WORDS.intersection(words) or "auth" in words or words[-1] == "pass":
        return True
    return any(word == "key" and prev in _KEY_QUALIFIERS for prev, word in zip(words, words[1:]))


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) if n else 0.0


def strip_auth_scheme(value: str) -> str:
    """``Bearer abc`` -> ``abc``: the scheme is not the secret."""
    return _AUTH_SCHEME.sub("", value)


def code_call(value: str) -> bool:
    """``value`` calls a function by its name (``getKey()``, ``load_secret(path)``)."""
    for match in _CALL.finditer(value):
        pieces = [p for p in _NAME_BOUNDARY.split(match.group(1) or match.group(2)) if p]
        if pieces and all(_NAME_PIECE.fullmatch(p) for p in pieces):
            return True
    return False


def _random_between_marks(value: str) -> bool:
    """A long random value whose characters happen to form ``%s``, ``${``, ``***`` or ``ab()`` somewhere.

    Code and templates are mostly names (``os.environ.get(``, ``%(user)s``): at least 60% of
    their letters sit in word-like pieces, and their symbols pair only as operators do. Random
    keys (Django's are lower-case letters, digits and ``!@#$%^&*(-_=+)``) break one or the other.
    """
    letters = sum(c.isalpha() for c in value)
    if len(value) < 24 or not letters or not random_looking(value):
        return False
    if any(a in _KEY_SYMBOLS and b in _KEY_SYMBOLS and a + b not in _CODE_PAIRS for a, b in zip(value, value[1:])):
        return True  # ``^!``, ``#*``, ``@-``: symbols side by side the way no code or template writes them
    return sum(len(m.group()) for m in _WORD_PIECE.finditer(value)) < 0.6 * letters


def _not_a_value(value: str) -> bool:
    """Code, templates, placeholders, names, paths, runs and sequences: never a secret."""
    low = value.lower()
    if any(c.isspace() for c in value) or _NOT_LITERAL.search(value):
        return True
    if (_TEMPLATE_MARK.search(value) or code_call(value) or placeholder(value)) and not _random_between_marks(value):
        return True
    if len(set(low)) < 4 or value.replace(".", "").isdigit():
        return True
    if sequential(value) or any(low in row for row in _KEYBOARD_ROWS):
        return True
    if _PATH.match(value) and (re.search(r"\.[A-Za-z]{1,5}$", value) or value.lower() == value):
        return True
    return False


def placeholder(value: str) -> bool:
    if _PLACEHOLDER_MARKS.search(value):
        return True
    words = _CAMEL_BOUNDARY.sub("_", value).lower()  # testPass -> test_pass
    return 3 * sum(len(m.group()) for m in _PLACEHOLDER_WORDS.finditer(words)) >= len(value)


def sequential(value: str) -> bool:
    """Alphabets and counts (``abcdef...``, ``0123456789ABCDEF``): most neighbours are consecutive."""
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in zip(value, value[1:]))
    return steps >= (len(value) - 1) / 2


def encoded_text(value: str) -> bool:
    """Base64 of ordinary text (test vectors, ``Aladdin:open sesame``), not of random key bytes.

    A piece cut from a longer base64 string may start mid-group: every alignment is tried.
    """
    value = value.replace("\\n", "").replace("-", "+").replace("_", "/").rstrip("=")
    for shift in range(4):
        body = value[shift:]
        body = body[: len(body) - len(body) % 4] if len(body) % 4 == 1 else body
        try:
            text = base64.b64decode(body + "=" * (-len(body) % 4), validate=True).decode("ascii")
        except (binascii.Error, ValueError):
            continue
        if text.isprintable() and (" " in text or sequential(text) or entropy(text) < 3.0):
            return True
    return False


def word_pieces(value: str) -> bool:
    """Two or more words between separators (``id-tc26-cipher-gostr3412``, ``HEXAGON_V6_nqpred``):
    a name. A random token's letter-only pieces mix case at random (``uJhaXKt``)."""
    pieces = re.split(r"[-_.]+", value)
    return sum(len(p) >= 3 and p.isalpha() and (p.islower() or p.isupper() or p.istitle()) for p in pieces) >= 2


def identifier_like(value: str) -> bool:
    """Words joined the way names are (``_S_token_subexpr_begin``, ``content-type``, ``Bearer``),
    unlike random letters, which mix case inside a piece (``kXqz-PwLmRtYv``)."""
    return bool(_WORDY.match(value)) and all(
        piece.islower() or piece.isupper() or piece.istitle() for piece in _SEPARATORS.split(value.strip("._-*")))


def _classes(value: str) -> tuple[bool, bool, bool, bool]:
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    symbol = any(not c.isalnum() for c in value)
    return lower, upper, digit, symbol


def random_looking(value: str) -> bool:
    """Long, high-entropy and mixed: what generated keys and tokens look like."""
    lower, upper, digit, _ = _classes(value)
    return len(value) >= 16 and entropy(value) >= 3.5 and (digit + lower + upper) >= 2


def plausible_secret(value: str) -> bool:
    """Could ``value``, assigned to a secret's name, be the secret itself?"""
    value = strip_auth_scheme(value)
    if not 6 <= len(value) <= 400 or _not_a_value(value) or identifier_like(value):
        return False
    if random_looking(value):
        return True
    lower, upper, digit, symbol = _classes(value)
    if _WORDY.match(value):  # letters alone: random when mixed up (kXqzPwLmRtYv), else words (POSTGRES)
        return lower and upper and len(value) >= 8
    # hunter2x, S3cr3t!, p@ss!word; a short lowercase word and digits is more often a name (`mt19937`)
    return (lower or upper) and (symbol or digit and (len(value) >= 8 or upper))


def plausible_password(value: str) -> bool:
    """A secret written in a sentence ("the password is ..."): a letter and a digit, a symbol or
    mixed case (``hunter2``, ``Tr0ub4dor&3``), not a word or words (``required``, ``read-only``)."""
    value = value.rstrip(".,;:!?)")
    if not 6 <= len(value) <= 200 or _not_a_value(value):
        return False
    if random_looking(value):
        return True
    lower, upper, digit, symbol = _classes(value)
    if identifier_like(value):
        return False
    if _WORDY.match(value):  # letters alone: random when case is mixed inside a piece (twBldG-DcMgSzmq), else words
        return lower and upper and len(value) >= 8
    return (lower or upper) and (digit or symbol or lower and upper)


def url_password(password: str) -> bool:
    """The password of ``scheme://user:password@host``, unless it is an example (``user:pw``,
    ``joe:password``, ``spam:eggs``) or a template (``{password}``, ``${DB_PASS}``, ``%s``)."""
    if len(password) < 4 or _not_a_value(password):
        return False
    return random_looking(password) or len(password) >= 6 or not password.isalpha()
