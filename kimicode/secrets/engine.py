"""Find secrets in a text about to leave the machine and replace each by ``[REDACTED:<kind>]``.

The detectors are detect-secrets' plugins (Yelp's maintained provider formats, keyword and
entropy rules) plus ours in ``plugins.py``, built once through detect-secrets' settings. The
scan around them is ours, for three reasons:

- **Whole tokens.** Some plugins report only part of a match (the GitHub pattern's capture
  group is ``ghp``). Every reported value is found in its line and widened over the token
  characters that follow it, so nothing of the token is left behind, whatever the plugin.
- **No line-level filters.** detect-secrets drops a whole line that reads like an indirect
  reference (``client = Client(token="ghp_...")``) or a lock/swagger file; here a value is
  judged on its own shape instead (kimicode.secrets.shape), and only generic kinds (keyword,
  entropy) are judged at all: a provider format is proof enough.
- **Speed.** A screen over the whole text picks the few lines worth scanning, and each plugin
  runs only on the lines its own trigger matches (``triggers.py``).

detect-secrets keeps its configuration in a process-wide object. It is used only to build
the plugin objects (inside ``transient_settings``, which restores whatever was there), and
the objects are kept: nothing here depends on, or changes, the global settings afterwards.
kimicode never turns on detect-secrets' verification (which would send a secret to its provider).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kimicode.secrets.loading import library_imports
from kimicode.secrets.shape import encoded_text, plausible_secret, random_looking, strip_auth_scheme, word_pieces
from kimicode.secrets.triggers import Trigger, screened, trigger_of


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based line in the scanned text
    kind: str  # detector name, e.g. "AWS Access Key"; never the secret itself


@dataclass(frozen=True)
class Redaction:
    text: str
    findings: tuple[Finding, ...]


PLUGINS_FILE = Path(__file__).with_name("plugins.py")

# IPPublicDetector flags every public IPv4 literal (test fixtures, docs): not credentials.
# BasicAuthDetector is replaced by plugins.UrlSecretDetector, which tells `user:pw@host` from a password.
# PrivateKeyDetector flags a key's header line only; whole key blocks are redacted here instead,
# and a header alone (a doc about PEM) is not a key.
DISABLED_PLUGINS = frozenset({"IPPublicDetector", "BasicAuthDetector", "PrivateKeyDetector"})

# detect-secrets' base64 rule wants 4.5 bits per symbol, which a random 32-character key misses
# half the time (log2(32) is 5): let more through, shape.random_looking judges them.
PLUGIN_OPTIONS = {"Base64HighEntropyString": {"limit": 3.5}}

# When detectors overlap on one span the most specific kind is reported: a provider format
# (rank 0, every kind not listed) beats a JWT, which beats a URL password, then assignments,
# then prose, then bare entropy.
KIND_RANK = {
    "JSON Web Token": 1,
    "URL Password": 2,
    "Secret Assignment": 3,
    "Secret Keyword": 3,
    "Password in Prose": 4,
    "Base64 High Entropy String": 6,  # hex is base64 too: the narrower name first
    "Hex High Entropy String": 5,
}
# Our assignment rule finds what detect-secrets' keyword rule finds, in more places: one name.
KIND_NAMES = {"Secret Assignment": "Secret Keyword"}
_ENTROPY_KINDS = frozenset({"Base64 High Entropy String", "Hex High Entropy String"})
# Provider formats loose enough to match identifiers (Artifactory's `AP[0-9A-F]` + 8 letters
# matches `APFixedPoint`): they must look random too.
_LOOSE_FORMATS = frozenset({"Artifactory Credentials"})

# Secrets that span lines. A PEM private key (also with \\n escapes inside JSON, or quoted
# piece by piece in code): the header, then base64 and the PEM header lines, up to the end line
# (or as far as the base64 goes in a cut-off key). PuTTY keys: the base64 after "Private-Lines".
_PEM_BODY = r"[A-Za-z0-9+/=\s\\:,.\-\"'()]"
_KEY_BLOCK = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    rf"{_PEM_BODY}*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|(?!{_PEM_BODY}))"
    r"|Private-Lines:[ \t]*\d+[ \t]*\r?\n(?:[ \t]*[A-Za-z0-9+/=]{4,}[ \t]*(?:\r?\n|\Z))+"
)
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{40}")  # a block without this much base64 is only a mention
# Entropy hits count on a line that names a secret; elsewhere only when clearly random base64.
_SECRET_WORD = re.compile(r"(?i:pass|pwd|secret|token|api.?key|access.?key|private.?key|auth|cred|bearer)")
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=]{8}")
MAX_SEGMENT = 4_000  # longer lines (minified code) are scanned in overlapping pieces
_OVERLAP = 512


@dataclass(frozen=True)
class Detector:
    plugin: Any  # a detect-secrets plugin object
    kind: str  # what findings call its secrets
    trigger: Trigger  # no hit, no secret of this plugin in the line
    rank: tuple[int, int]  # (kind specificity, plugin order): lower is more specific


@lru_cache(maxsize=1)
def detectors() -> tuple[Detector, ...]:
    """detect-secrets' plugins (but the disabled ones) and ours, built once per process."""
    with library_imports():  # its plugin modules are imported when they are first listed, below
        return _plugins()


def _plugins() -> tuple[Detector, ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class, get_plugins_from_file
    from detect_secrets.settings import get_plugins, transient_settings

    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    builtin = [cls.__name__ for cls in classes]
    path = f"file://{PLUGINS_FILE}"
    found: list[type] = list(get_plugins_from_file(str(PLUGINS_FILE)))  # the library's own annotation is partial
    ours = [{"name": cls.__name__, "path": path} for cls in found]
    used = [{"name": name, **PLUGIN_OPTIONS.get(name, {})} for name in builtin if name not in DISABLED_PLUGINS]
    config = {"plugins_used": used + ours}
    # detect-secrets caches its class mapping and plugin list per process (entering
    # transient_settings may fill them from the settings in force): clear them inside so our
    # file's classes are seen, and after, so the settings restored on exit get their own.
    try:
        with transient_settings(config):
            get_mapping_from_secret_type_to_class.cache_clear()
            get_plugins.cache_clear()
            plugins = get_plugins()
    finally:
        get_mapping_from_secret_type_to_class.cache_clear()
        get_plugins.cache_clear()
    return tuple(
        Detector(plugin, KIND_NAMES.get(plugin.secret_type, plugin.secret_type), trigger_of(plugin),
                 (KIND_RANK.get(plugin.secret_type, 0), order))
        for order, plugin in enumerate(plugins)
    )


def redact(text: str, filename: str) -> Redaction:
    """Replace every secret in ``text`` (the contents of ``filename``, or any string) by a marker.

    The line count is kept, so finding lines and later line numbers stay right.
    """
    findings: list[Finding] = []
    if "PRIVATE KEY" in text or "Private-Lines:" in text:
        text = _redact_key_blocks(text, findings)
    lines = text.split("\n")
    for index, sides in screened(text, lines).items():
        if _allowlisted(lines, index, filename):
            continue
        spans = _spans(lines[index], filename, *sides)
        if spans:
            lines[index] = _replace(lines[index], spans)
            findings.extend(Finding(index + 1, kind) for _, _, kind in spans)
    findings.sort(key=lambda f: (f.line, f.kind))
    return Redaction("\n".join(lines), tuple(findings))


def _redact_key_blocks(text: str, findings: list[Finding]) -> str:
    def replace(match: re.Match[str]) -> str:
        block = match.group(0)
        if not _KEY_MATERIAL.search(block.replace("\\n", "\n")):
            return block
        findings.append(Finding(text.count("\n", 0, match.start()) + 1, "Private Key"))
        return "[REDACTED:Private Key]" + "\n" * block.count("\n")

    return _KEY_BLOCK.sub(replace, text)


def _allowlisted(lines: list[str], index: int, filename: str) -> bool:
    """detect-secrets' ``pragma: allowlist secret`` (this line) or ``allowlist nextline secret`` (above)."""
    previous = lines[index - 1] if index else ""
    if "allowlist" not in lines[index] and "allowlist" not in previous:
        return False
    with library_imports():
        from detect_secrets.filters.allowlist import is_line_allowlisted

    # it reads only .previous_line of the context it is given
    return is_line_allowlisted(filename, lines[index], SimpleNamespace(previous_line=previous))  # type: ignore[arg-type]


def _spans(line: str, filename: str, exact_side: bool, lower_side: bool) -> list[tuple[int, int, str]]:
    """Merged (start, end, kind) of the secrets in ``line``, most specific kind per span.

    ``exact_side``/``lower_side``: whether the screen's side matched the line (triggers on a
    side that did not cannot match either)."""
    hits: list[tuple[int, int, tuple[int, int], str]] = []
    for offset in range(0, max(len(line) - _OVERLAP, 1), MAX_SEGMENT - _OVERLAP):
        segment = line[offset : offset + MAX_SEGMENT]
        lowered = segment.lower() if lower_side else ""
        for detector in detectors():
            exact = detector.trigger.exact if exact_side else None
            lower = detector.trigger.lower if lower_side else None
            if not (exact and exact.search(segment) or lower and lower.search(lowered)):
                continue
            for secret in detector.plugin.analyze_line(filename=filename, line=segment, line_number=0, context=None):
                value = secret.secret_value
                if value and _confirmed(secret.type, value, segment):
                    hits.extend((offset + start, offset + end, detector.rank, detector.kind)
                                for start, end in _occurrences(segment, value))
    return _merge(hits)


def _confirmed(kind: str, value: str, line: str) -> bool:
    """Generic kinds from detect-secrets' own plugins must also look like a secret."""
    if kind == "Secret Keyword":
        return plausible_secret(strip_auth_scheme(value))
    if kind in _ENTROPY_KINDS:
        if _SECRET_WORD.search(line):
            return plausible_secret(value)
        # no secret word: only a long, random string that is not base64 of plain text counts
        return (kind == "Base64 High Entropy String" and len(value) >= 32 and random_looking(value)
                and plausible_secret(value) and not word_pieces(value) and not encoded_text(value))
    if kind in _LOOSE_FORMATS:
        return random_looking(value) or all(any(map(test, value)) for test in (str.isdigit, str.isupper, str.islower))
    return True


def _occurrences(line: str, value: str) -> list[tuple[int, int]]:
    """Every place ``value`` occurs, widened to the end of its token.

    A plugin may report only the start of a token (GitHub's pattern reports ``ghp``) or stop
    at a fixed length the provider has since outgrown: the token characters that follow are
    taken too, across a dot or tilde only when a long run follows (a JWT's signature, not the
    ``.py`` of a file name).
    """
    found = []
    start = line.find(value)
    while start >= 0:
        end = start + len(value)
        while end < len(line):
            if line[end] in _TOKEN_CHARS:
                end += 1
            elif line[end] in ".~" and _TOKEN_RUN.match(line, end + 1):
                end += 1
            else:
                break
        found.append((start, end))
        start = line.find(value, end)
    return found


def _merge(hits: list[tuple[int, int, tuple[int, int], str]]) -> list[tuple[int, int, str]]:
    """Overlapping hits become one span, reported as the most specific kind among them
    (then the first plugin: detect-secrets' own before ours). A hit inside another that is no
    more specific leaves its kind alone: ``-gsk_...`` by chance inside an Atlassian token's random
    body is still an Atlassian token."""
    merged: list[tuple[int, int, tuple[int, int], str]] = []
    for start, end, rank, kind in sorted(hits):
        if merged and start < merged[-1][1]:
            s, e, r, k = merged[-1]
            inside = s < start and end <= e and rank[0] >= r[0]
            merged[-1] = (s, max(e, end), r, k) if inside else (s, max(e, end), *min((r, k), (rank, kind)))
        else:
            merged.append((start, end, rank, kind))
    return [(start, end, kind) for start, end, _, kind in merged]


def _replace(line: str, spans: list[tuple[int, int, str]]) -> str:
    for start, end, kind in reversed(spans):
        line = f"{line[:start]}[REDACTED:{kind}]{line[end:]}"
    return line
