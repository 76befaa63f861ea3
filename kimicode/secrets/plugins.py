"""detect-secrets plugins for the token formats and assignments its own plugins miss.

This file is a detect-secrets custom-plugin file: kimicode registers it through
detect-secrets' settings (``{"name": ..., "path": "file://.../plugins.py"}``), and the
same file works from the command line: ``detect-secrets scan --plugin kimicode/secrets/plugins.py``.
So it imports only detect-secrets, the standard library and kimicode's pure shape checks.

Each provider pattern matches the token itself (context goes in lookarounds or in one
capture group that is the secret): the redactor replaces the whole token, and widens
every hit to the token characters around it, so a pattern that stops early still
leaves nothing of the value behind.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Generator

from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.plugins.base import RegexBasedDetector

from kimicode.secrets.shape import (
    is_code_file,
    plausible_password,
    plausible_secret,
    secret_name,
    strip_auth_scheme,
    url_password,
)

_L = r"(?<![A-Za-z0-9_])"  # a token starts here: not inside a longer word
_LD = r"(?<![A-Za-z0-9_\-])"  # ...nor after a dash (sk-..., xai-...)


def _c(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# ------------------------------------------------------------------ provider token formats


class GitHubFineGrainedTokenDetector(RegexBasedDetector):
    secret_type = "GitHub Fine-Grained Token"
    denylist = (_c(_L + r"github_pat_[A-Za-z0-9_]{40,}"),)


class AnthropicKeyDetector(RegexBasedDetector):
    secret_type = "Anthropic API Key"
    denylist = (_c(_LD + r"sk-ant-[A-Za-z0-9_\-]{32,}"),)


class OpenAIStyleKeyDetector(RegexBasedDetector):
    """OpenAI project/service keys and the legacy ``sk-`` + 32..64 form (also Moonshot, DeepSeek...)."""

    secret_type = "OpenAI-Style API Key"
    denylist = (
        _c(_LD + r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,}"),
        _c(_LD + r"sk-[A-Za-z0-9]{32,}(?![A-Za-z0-9_\-])"),
    )


class GoogleApiKeyDetector(RegexBasedDetector):
    secret_type = "Google API Key"
    denylist = (_c(_L + r"AIza[0-9A-Za-z_\-]{35}"),)


class GoogleOAuthDetector(RegexBasedDetector):
    secret_type = "Google OAuth Secret"
    denylist = (
        _c(_L + r"GOCSPX-[A-Za-z0-9_\-]{24,}"),  # client secret
        _c(_L + r"ya29\.[0-9A-Za-z_\-]{30,}"),  # access token
        _c(r"(?<![\w/])1//0[0-9A-Za-z_\-]{40,}"),  # refresh token
    )


class SlackAppTokenDetector(RegexBasedDetector):
    """App-level and configuration tokens; detect-secrets' Slack plugin knows xoxb/xoxp/... and webhooks."""

    secret_type = "Slack App Token"
    denylist = (
        _c(_L + r"xapp-\d-[A-Za-z0-9]+-\d+-[A-Za-z0-9]{16,}"),
        _c(_L + r"xox[a-z](?:\.xox[a-z])?-[A-Za-z0-9\-]{20,}"),
    )


class StripeSecretDetector(RegexBasedDetector):
    """Test-mode and restricted keys and webhook secrets (detect-secrets covers live sk_/rk_ keys)."""

    secret_type = "Stripe Secret"
    denylist = (_c(_L + r"(?:sk|rk)_(?:test|live)_[0-9a-zA-Z]{20,}"), _c(_L + r"whsec_[A-Za-z0-9+/=]{24,}"))


class NpmTokenDetector(RegexBasedDetector):
    secret_type = "npm Access Token"
    denylist = (_c(_L + r"npm_[A-Za-z0-9]{36}"),)


class HuggingFaceTokenDetector(RegexBasedDetector):
    secret_type = "Hugging Face Token"
    denylist = (_c(_L + r"(?:hf|api_org)_[A-Za-z0-9]{30,}"),)


class AzureSecretDetector(RegexBasedDetector):
    """Connection-string keys, SAS signatures and Entra ID (Azure AD) client secrets."""

    secret_type = "Azure Secret"
    trigger = _c(r"sig=|Q~")
    trigger_lower = _c(r"(?:sharedaccess|account|primary|secondary)key=")
    denylist = (
        _c(r"(?i:SharedAccessKey|AccountKey|PrimaryKey|SecondaryKey)=([A-Za-z0-9+/]{30,}={0,2})"),
        _c(r"[?&]sig=([A-Za-z0-9%+/]{30,}(?:=|%3D){0,2})"),
        _c(_L + r"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}"),
    )


class DigitalOceanTokenDetector(RegexBasedDetector):
    secret_type = "DigitalOcean Token"
    denylist = (_c(_L + r"do[opr]_v1_[a-f0-9]{64}"),)


class ShopifyTokenDetector(RegexBasedDetector):
    secret_type = "Shopify Token"
    denylist = (_c(_L + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),)


class WebhookUrlDetector(RegexBasedDetector):
    """Webhook URLs whose path is the credential (detect-secrets knows Slack's /services/ hooks)."""

    secret_type = "Webhook URL"
    denylist = (
        _c(r"discord(?:app)?\.com/api/webhooks/(\d+/[A-Za-z0-9_\-]{30,})"),
        _c(r"\.webhook\.office\.com/webhookb2/([A-Za-z0-9@\-/]{40,})"),  # Microsoft Teams
        _c(r"hooks\.zapier\.com/hooks/catch/(\d+/[A-Za-z0-9]{5,})"),
        _c(r"maker\.ifttt\.com/trigger/[\w\-]+/with/key/([A-Za-z0-9_\-]{16,})"),
        _c(r"hooks\.slack\.com/(?:workflows|triggers)/([A-Za-z0-9/]{20,})"),
    )


class MailgunKeyDetector(RegexBasedDetector):
    secret_type = "Mailgun API Key"
    trigger = _c(r"key-|-[0-9a-f]{8}-[0-9a-f]{8}")
    denylist = (_c(_L + r"key-[0-9a-f]{32}"), _c(_L + r"[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}(?![0-9a-f])"))


class HerokuKeyDetector(RegexBasedDetector):
    secret_type = "Heroku API Key"
    denylist = (_c(_L + r"HRKU-[A-Za-z0-9_\-]{40,}"),)


class SquareTokenDetector(RegexBasedDetector):
    """Access tokens, and OAuth secrets of any length (detect-secrets' plugin wants exactly 43 characters)."""

    secret_type = "Square Token"
    denylist = (_c(_L + r"sq0(?:atp|csp|idp)-[0-9A-Za-z_\-]{22,}"), _c(_L + r"EAAA[A-Za-z0-9_\-+=]{60,}"))


class GrafanaTokenDetector(RegexBasedDetector):
    secret_type = "Grafana Token"
    denylist = (_c(_L + r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"), _c(_L + r"glc_[A-Za-z0-9+/]{32,}={0,2}"))


class DeveloperPlatformTokenDetector(RegexBasedDetector):
    """Prefixed tokens of developer platforms: each prefix is specific enough on its own."""

    secret_type = "Developer Platform Token"
    trigger = _c(
        r"ATATT3|ATBB|PMAK-|lin_|dp\.|hv[sb]\.|\.atlasv1\.|secret_|ntn_|sntry|NRAK-|dapi|sbp_|pscale_|pul-"
        r"|nfp_|fo1_|sl\.|LTAI|AAAAAAAAAAAAAAAAAAAAA|AGE-SECRET-KEY-1"
    )
    denylist = (
        _c(_L + r"ATATT3[A-Za-z0-9_\-=]{100,}"),  # Atlassian
        _c(_L + r"ATBB[A-Za-z0-9_=.\-]{32,}"),  # Bitbucket app password
        _c(_L + r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),  # Postman
        _c(_L + r"lin_(?:api|oauth)_[A-Za-z0-9]{40}"),  # Linear
        _c(_L + r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}"),  # Doppler
        _c(_L + r"hv[sb]\.[A-Za-z0-9_\-]{24,}"),  # HashiCorp Vault
        _c(_L + r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,}"),  # Terraform Cloud
        _c(_L + r"(?:secret|ntn)_[A-Za-z0-9]{40,}"),  # Notion
        _c(_L + r"sntry[su]_[A-Za-z0-9+/=_]{40,}"),  # Sentry
        _c(_L + r"NRAK-[A-Z0-9]{27}"),  # New Relic
        _c(_L + r"dapi[a-f0-9]{32}(?:-\d)?"),  # Databricks
        _c(_L + r"sbp_[a-f0-9]{40}"),  # Supabase
        _c(_L + r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-.]{32,}"),  # PlanetScale
        _c(_L + r"pul-[a-f0-9]{40}"),  # Pulumi
        _c(_L + r"nfp_[A-Za-z0-9]{36}"),  # Netlify
        _c(_L + r"fo1_[A-Za-z0-9_\-]{40,}"),  # Fly.io
        _c(_L + r"sl\.[A-Za-z0-9_\-]{130,}"),  # Dropbox
        _c(_L + r"LTAI[A-Za-z0-9]{12,20}(?![A-Za-z0-9])"),  # Alibaba Cloud
        _c(_L + r"AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}"),  # Twitter/X bearer
        _c(_L + r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),  # age
    )


class AIProviderKeyDetector(RegexBasedDetector):
    """API keys of model providers with their own prefixes (Anthropic and OpenAI have their own plugins)."""

    secret_type = "AI Provider API Key"
    denylist = (
        _c(_L + r"gsk_[A-Za-z0-9]{40,}"),  # Groq
        _c(_L + r"r8_[A-Za-z0-9]{30,}"),  # Replicate
        _c(_LD + r"xai-[A-Za-z0-9]{60,}"),  # xAI
        _c(_LD + r"pplx-[A-Za-z0-9]{40,}"),  # Perplexity
    )


class Base64PrivateKeyDetector(RegexBasedDetector):
    """A PEM private key encoded once more in base64 (kubeconfig client-key-data, k8s Secrets)."""

    secret_type = "Base64-Encoded Private Key"
    denylist = (_c(r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}={0,2}"),)

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        for match in self.denylist[0].finditer(string):
            head = match.group(0)[:80]
            try:
                decoded = base64.b64decode(head[: len(head) // 4 * 4])
            except (binascii.Error, ValueError):
                continue
            if b"PRIVATE KEY" in decoded:
                yield match.group(0)


# ------------------------------------------------------------------ assignments and prose

# A name (or one that contains a secret word), an assignment, a value. The value runs to the
# closing quote, or, unquoted, to white space or a separator (and is no value when a call or a
# type's brackets follow: `token : ValueType<0, 248>`). The name is checked in Python:
# a regex cannot tell `api_token` from `tokenizer` or `password_field` cheaply.
_NAME = r"[A-Za-z0-9_.\-]*(?i:pass|pwd|secret|token|key|auth|cred|contrase|bearer)[A-Za-z0-9_.\-]*"
_VALUE = (r"""(?P<q>["'`])(?P<quoted>(?:(?!(?P=q)).){1,400})(?P=q)"""
          r"""|(?P<bare>(?:(?i:bearer|basic|token|bot|ssws)[ \t]+)?[^\s"'`,;&<>()\[\]{}]{1,400}+)(?![<(\[])""")
_ASSIGN = (
    r"(?P<name>" + _NAME + r")[\"']?\]?"
    r"(?:\s*:\s*[A-Za-z_][\w\[\], .|]*?(?=\s*=))?"  # a type annotation: `password: str = "..."`
    r"\s*(?::=|=>|:(?!:)|=|\+=)(?!=)\s*"
)


class _FileAware(RegexBasedDetector):
    """Remembers whether the line being scanned is from a code file: detect-secrets hands the
    file name to ``analyze_line`` only, and ``analyze_string`` (its API) has no room for it."""

    code = False

    def analyze_line(self, filename: str, line: str, line_number: int = 0, context: Any = None,
                     **kwargs: Any) -> set[PotentialSecret]:
        self.code = is_code_file(filename)
        return super().analyze_line(filename=filename, line=line, line_number=line_number, context=context)


class SecretAssignmentDetector(_FileAware):
    """``name = value`` where the name says secret: code, config files (yaml, toml, ini,
    properties, json, .env, Terraform), shell ``export``/``set -x``, Dockerfile ``ENV``/``ARG``,
    command-line flags and XML elements.

    In code an unquoted value is a variable or a call, not a secret: only quoted values
    count there. Every value must look like a secret (see kimicode.secrets.shape).
    """

    secret_type = "Secret Assignment"
    trigger_lower = _c(r"pass|pwd|secret|token|auth|cred|contrase|bearer|key|mysql")  # cheap screen, see triggers.py
    denylist = (
        _c(r"(?<![A-Za-z0-9_.\-])" + _ASSIGN + r"(?:" + _VALUE + r")"),
        # Dockerfile ENV/ARG and fish's set -x use a space, flags use a space or '='
        _c(r"(?im:^\s*(?:ENV|ARG)\s+|\bset\s+-[a-zA-Z]*x[a-zA-Z]*\s+|(?<!\S)--?)"
           r"(?P<name>" + _NAME + r")[ =](?!=)\s*(?:" + _VALUE + r")"),
        _c(r"<(?P<name>" + _NAME + r")>(?P<bare>[^<\s]{1,400})</"),
        # a name and its value as two quoted arguments or attributes: define('DB_PASSWORD', '...'),
        # props.setProperty("password", "..."), <add key="ApiKey" value="..."/>
        _c(r"""(?P<q0>["'])(?P<name>""" + _NAME + r""")(?P=q0)\s*(?:,|\s+value\s*=)\s*"""
           r"""(?P<q>["'])(?P<quoted>(?:(?!(?P=q)).){1,400})(?P=q)"""),
        # mysql -pSECRET, and `password SECRET` alone on a line (.netrc, notes)
        _c(r"\bmysql(?:dump|admin)?\b.*?\s-p(?P<bare>[^\s'\"]{4,})(?P<name>)"),
        _c(r"(?im:^\s*(?:machine\s+\S+\s+(?:login\s+\S+\s+)?)?"
           r"(?P<name>password|passwd|passphrase)\s+(?P<bare>\S+)\s*$)"),
    )

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        for regex in self.denylist:
            for match in regex.finditer(string):
                if match.group("name") and not secret_name(match.group("name")):
                    continue
                quoted = match.groupdict().get("quoted")
                value = strip_auth_scheme(quoted if quoted is not None else match.group("bare"))
                # in code a bare value is a variable, unless the pair sits inside a string
                # (a connection string's `;Password=...;`)
                in_string = string[match.start() - 1 : match.start()] in (";", '"', "'")
                if quoted is None and self.code and regex is self.denylist[0] and not in_string:
                    continue
                if plausible_secret(value):
                    yield value


class UrlSecretDetector(RegexBasedDetector):
    """Passwords in URLs (``scheme://user:password@host``) and secret query parameters."""

    secret_type = "URL Password"
    trigger = _c(r"://[^\s@]*:[^\s@]*@")
    trigger_lower = _c(r"[?&][a-z_\-]*(?:pass|pwd|secret|token|key|auth)[a-z_\-]*=")
    denylist = (
        _c(r"[A-Za-z][A-Za-z0-9+.\-]*://(?P<user>[^\s:/?#@'\"`{}]*):(?P<pw>[^\s/@'\"`{}]+)@"),
        _c(r"[?&](?P<name>[A-Za-z_\-]*(?i:pass|pwd|secret|token|key|auth)[A-Za-z_\-]*)=(?P<pw>[^&#\s'\"`;]+)"),
    )

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        for match in self.denylist[0].finditer(string):
            if url_password(match.group("pw")):
                yield match.group("pw")
        for match in self.denylist[1].finditer(string):
            if secret_name(match.group("name")) and plausible_secret(match.group("pw")):
                yield match.group("pw")


class PasswordInProseDetector(_FileAware):
    """A secret given in a sentence: "the admin password is ...", "token was `...`", and in
    notes and docs (not code, where it is an assignment) "password: ...", "API key = ..."."""

    secret_type = "Password in Prose"
    trigger_lower = _c(r"pass|pwd|secret|token|api[ _-]?key|access[ _-]?key|credential")
    _WORDS = (r"(?i:\b(?:password|passwd|passphrase|pass ?code|pwd|secret|token|api[ _-]?key|access[ _-]?key"
              r"|credentials?)\b)(?:\s+(?:for|of|to|on)\s+[\w.@\-]+)?")
    _VALUE = r"[\"'`*]*(?P<value>[^\s\"'`]{4,200}?)[\"'`*]*[.,;:!?)]*(?=\s|$)"
    denylist = (
        _c(_WORDS + r"\s+(?i:is|was)\s+(?i:now\s+|still\s+|set\s+to\s+)?" + _VALUE),
        _c(_WORDS + r"\s*(?::|=|->)\s*" + _VALUE),
    )

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        for regex in self.denylist[:1] if self.code else self.denylist:
            for match in regex.finditer(string):
                if plausible_password(match.group("value")):
                    yield match.group("value")
