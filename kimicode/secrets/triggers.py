"""Cheap screens in front of the detectors: most lines are never scanned.

Running ~50 plugins on every line would cost far more than the rest of packing. So every
line first goes through ``SCREEN``: a long token, a secret word, a password in a URL, a key
header, and a few short anchors. Only a line that passes is checked against each plugin's
trigger (a regex every one of its matches implies), and a plugin runs only on the lines its
trigger matches. Words are searched in the lowercased line with plain literals:
case-insensitive alternations are ten times slower in Python's ``re``.

The screen is written by hand to stay fast; each side must be implied by every trigger on that
side (a lowercase trigger's words are in the lowercase screen). tests/unit/test_secrets_kinds.py
checks that with a generated secret of every kind.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

# detect-secrets' plugins whose patterns are slow to search or not regexes at all, read from
# their source: (exact, lowercase) triggers, each implied by every match of the plugin.
BUILTIN_TRIGGERS: dict[str, tuple[str | None, str | None]] = {
    "KeywordDetector": (None, r"(?:api|auth|service|account|db|database|priv|private|client|key)_?(?:key|pass)"
                              r"|pass|pwd|secret|contrase"),
    # 3.5 bits of entropy (engine.PLUGIN_OPTIONS) takes >= 12 distinct symbols; 3.0 bits of hex >= 9
    "Base64HighEntropyString": (r"['\"][A-Za-z0-9+/=_\\\-]{12,}['\"]", None),
    "HexHighEntropyString": (r"['\"][0-9a-fA-F]{9,}['\"]", None),
    "ArtifactoryDetector": (r"AKC|AP[\dA-F]", None),
    "AWSKeyDetector": (r"A3T|ABIA|ACCA|AKIA|ASIA", r"aws"),
    "CloudantDetector": (None, r"(?:cloudant|clou|cl)[-_]?(?:api)?(?:key|pwd|pw|pass|token)|cloudant\.com"),
    "IbmCloudIamDetector": (None, r"key|pwd|pass|token"),
    "IbmCosHmacDetector": (None, r"secret[-_]?(?:access)?[-_]?key"),
    "SoftlayerDetector": (None, r"(?:softlayer|sl)[-_]?(?:api)?[-_]?(?:key|pwd|pass|token)|api\.softlayer\.com"),
    "MailchimpDetector": (r"-us[0-9]", None),
    "SlackDetector": (r"hooks\.slack\.com", r"xox"),
}
@dataclass(frozen=True)
class Trigger:
    exact: re.Pattern[str] | None  # searched in the line
    lower: re.Pattern[str] | None  # searched in the lowercased line

    def hit(self, line: str, lowered: str) -> bool:
        return bool(self.exact and self.exact.search(line)) or bool(self.lower and self.lower.search(lowered))


# Every detector's match implies one of these. Provider tokens are long runs of token characters
# but for Artifactory's (AKC..., AP...) and Entra ID secrets (...Q~...); quoted hex is what the hex
# entropy rule looks at (and it counts only beside a secret word).
SCREEN = Trigger(
    re.compile(r"[A-Za-z0-9_\-+/=]{16,}|://[^\s/@]*:[^\s@]*@|PRIVATE KEY|PuTTY-User-Key|AKC|AP[\dA-F]|Q~|sig="
               r"|['\"][0-9a-fA-F]{9,}['\"]"),
    re.compile(r"pass|pw|secret|token|key|auth|cred|contrase|bearer|aws|sig=|mysql|xox|cloudant|softlayer"),
)
_SCOPED_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))
_LEADING_LOOKBEHIND = re.compile(r"^\(\?<!\[[^\]]*\]\)")


def trigger_of(plugin: Any) -> Trigger:
    """The plugin's own ``trigger``/``trigger_lower``, a known one, or its own patterns in one
    regex (a leading lookbehind dropped: it only narrows a match, and hides the literal prefix
    that makes a search fast)."""
    exact, lower = getattr(plugin, "trigger", None), getattr(plugin, "trigger_lower", None)
    if exact is not None or lower is not None:
        return Trigger(exact, lower)
    if type(plugin).__name__ in BUILTIN_TRIGGERS:
        return Trigger(*(re.compile(p) if p else None for p in BUILTIN_TRIGGERS[type(plugin).__name__]))
    patterns = getattr(plugin, "denylist", None)
    if not patterns:
        return Trigger(re.compile(""), None)  # an unknown kind of plugin: always run it
    parts = []
    for pattern in patterns:
        flags = "".join(letter for flag, letter in _SCOPED_FLAGS if pattern.flags & flag)
        body = _LEADING_LOOKBEHIND.sub("", pattern.pattern)
        parts.append(f"(?{flags}:{body})" if flags else f"(?:{body})")
    return Trigger(re.compile("|".join(parts)), None)


def screened(text: str, lines: list[str]) -> dict[int, tuple[bool, bool]]:
    """The ``lines`` of ``text`` that pass ``SCREEN``: index -> (exact side hit, lowercase side hit).

    The screen runs over the whole text at once, jumping to the next line after each hit, so
    the Python loop turns once per passing line rather than once per line. A side that missed
    a line spares the checks of every trigger on that side (each one implies the screen).
    """
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    hits: list[set[int]] = [set(), set()]
    lowered = text.lower()
    if len(lowered) == len(text):
        sides = [(SCREEN.exact, text, hits[0]), (SCREEN.lower, lowered, hits[1])]
    else:  # a few characters lowercase to two: offsets would drift, so that side goes line by line
        sides = [(SCREEN.exact, text, hits[0])]
        lower = SCREEN.lower
        assert lower is not None
        hits[1].update(i for i, line in enumerate(lines) if lower.search(line.lower()))
    for pattern, source, found in sides:
        assert pattern is not None
        match = pattern.search(source)
        while match is not None:
            index = bisect_right(starts, match.start()) - 1
            found.add(index)
            match = pattern.search(source, starts[index + 1])
    return {index: (index in hits[0], index in hits[1]) for index in sorted(hits[0] | hits[1])}
