"""Secret detection and redaction, shared by packing, review and memory.

Files whose names say they hold secrets (.env, keys, credentials) are never
read; text that is about to be sent is scanned with detect-secrets (Yelp's
maintained detector: ~25 provider plugins, entropy checks and false-positive
filters) and each hit is replaced by ``[REDACTED:<kind>]``.

detect-secrets costs ~200 us per line, so lines are first screened with one
cheap regex that every plugin's match implies (a quoted string, a long token,
a secret keyword, a URL with a password, a PEM header); only those lines, ~10%
of code, go through the full detector.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

# gitwildmatch patterns for files that are secrets by their very name.
SECRET_FILE_PATTERNS: tuple[tuple[str, str], ...] = (
    (".env", "dotenv file"),
    (".env.*", "dotenv file"),
    ("*.env", "dotenv file"),
    ("*.pem", "private key or certificate"),
    ("*.key", "private key"),
    ("*.p12", "key store"),
    ("*.pfx", "key store"),
    ("*.jks", "key store"),
    ("*.keystore", "key store"),
    ("*.kdbx", "password database"),
    ("id_rsa*", "ssh key"),
    ("id_dsa*", "ssh key"),
    ("id_ecdsa*", "ssh key"),
    ("id_ed25519*", "ssh key"),
    (".netrc", "credentials file"),
    (".pypirc", "credentials file"),
    (".htpasswd", "credentials file"),
    (".git-credentials", "credentials file"),
    ("credentials", "credentials file"),
    ("credentials.*", "credentials file"),
    ("*secrets.json", "credentials file"),
    ("*secrets.yml", "credentials file"),
    ("*secrets.yaml", "credentials file"),
    ("service-account*.json", "cloud service account key"),
)
# Templates are meant to be shared and hold placeholders, not secrets.
_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".pub")

# The IP plugin flags every public IPv4 literal in code (test fixtures, docs):
# those are not credentials, so it stays off.
_DISABLED_PLUGINS = {"IPPublicDetector"}

_CANDIDATE_LINE = re.compile(
    r"""["'][0-9a-fA-F]{8,}["']"""  # hex-entropy plugin: quoted hex strings
    r"|[A-Za-z0-9+/=_\-]{20,}"  # base64-entropy strings (>= 23 symbols for 4.5 bits) and provider tokens
    r"|://[^/\s:@]+:[^/\s@]+@"  # basic auth in URLs
    r"|PRIVATE KEY"
    r"|(?i:pass|pwd|secret|key|token|auth|contrase)",
)
_PEM_BLOCK = re.compile(
    r"-----BEGIN[A-Z ]*PRIVATE KEY( BLOCK)?-----.*?(-----END[A-Z ]*PRIVATE KEY( BLOCK)?-----|\Z)", re.DOTALL
)


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based line in the scanned text
    kind: str  # detector name, e.g. "AWS Access Key"; never the secret itself


@dataclass(frozen=True)
class Redaction:
    text: str
    findings: tuple[Finding, ...]


# One regex with a named group per pattern: checked for every file of a repository.
_SECRET_NAME = re.compile(
    "|".join(f"(?P<p{i}>{fnmatch.translate(pattern)})" for i, (pattern, _) in enumerate(SECRET_FILE_PATTERNS))
)


def secret_file_kind(path: str) -> str | None:
    """Why ``path`` must never be read, or None."""
    name = path.rsplit("/", 1)[-1]
    if name.lower().endswith(_TEMPLATE_SUFFIXES):
        return None
    match = _SECRET_NAME.match(name)
    if match is None:
        return None
    return SECRET_FILE_PATTERNS[int(match.lastgroup[1:])][1]  # type: ignore[index]


@lru_cache(maxsize=1)
def _configure_detector() -> None:
    """Set detect-secrets' process-wide settings once: every plugin but the disabled ones.

    detect-secrets keeps its configuration in a module-level object; configuring it per
    call (its transient_settings) costs ~1.5 ms, which adds up over hundreds of files.
    """
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import cache_bust, configure_settings_from_baseline

    names = sorted(cls.__name__ for cls in get_mapping_from_secret_type_to_class().values())
    cache_bust()  # drops the settings object itself, so it goes before configuring, never after
    configure_settings_from_baseline({"plugins_used": [{"name": n} for n in names if n not in _DISABLED_PLUGINS]})


def _scan(lines: list[tuple[int, str]], filename: str) -> Iterable[Any]:
    from detect_secrets.core.scan import _process_line_based_plugins

    _configure_detector()
    return _process_line_based_plugins(lines=lines, filename=filename)


def _redact_pem_blocks(text: str) -> tuple[str, list[Finding]]:
    findings: list[Finding] = []

    def replace(match: re.Match[str]) -> str:
        findings.append(Finding(text.count("\n", 0, match.start()) + 1, "Private Key"))
        # keep the line count so later line numbers still point at the right lines
        return "[REDACTED:Private Key]" + "\n" * match.group(0).count("\n")

    return _PEM_BLOCK.sub(replace, text), findings


def redact(text: str, filename: str) -> Redaction:
    """Replace every secret detect-secrets finds in ``text`` (from ``filename``) by a marker."""
    text, findings = _redact_pem_blocks(text)
    lines = text.split("\n")
    candidates = [(i, line) for i, line in enumerate(lines, start=1) if _CANDIDATE_LINE.search(line)]
    if candidates:
        for secret in _scan(candidates, filename):
            value = secret.secret_value
            line = lines[secret.line_number - 1]
            if value and value in line:
                lines[secret.line_number - 1] = line.replace(value, f"[REDACTED:{secret.type}]")
                findings.append(Finding(secret.line_number, secret.type))
    findings.sort(key=lambda f: (f.line, f.kind))
    return Redaction("\n".join(lines), tuple(findings))
