"""Fresh secrets of every kind kimicode redacts, and the places they are found in.

Values are generated from a seeded ``random.Random``, never fixed: tests and
bench/secrets_bench.py check formats, not one fixture's value. Each kind names the line it
typically sits in and the kind ``redact`` must report for it (docs/secrets.md lists them).
"""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass
from random import Random
from typing import Callable

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
LOWER_DIGITS = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"


def rand(rng: Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def uuid(rng: Random) -> str:
    h = rand(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def password(rng: Random) -> str:
    """What a person or a password manager picks: letters, digits and a symbol or two."""
    core = rand(rng, ALNUM, rng.randint(10, 20))
    return core[:4] + rng.choice("!#%^*-_+.") + core[4:] + rng.choice(string.digits)


def jwt(rng: Random) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": rand(rng, ALNUM, 12), "iat": rng.randint(10**9, 2 * 10**9)}).encode())
    return f"{head}.{body}.{rand(rng, URLSAFE, 43)}"


def pem_body(rng: Random, lines: int = 8) -> list[str]:
    return [rand(rng, B64, 64) for _ in range(lines)]


def pem(rng: Random, label: str = "RSA PRIVATE KEY") -> str:
    return "\n".join([f"-----BEGIN {label}-----", *pem_body(rng), f"-----END {label}-----"])


def base64_pem(rng: Random) -> str:
    return base64.b64encode(pem(rng).encode()).decode()


def dev_platform(rng: Random) -> str:
    return rng.choice([
        lambda: "ATATT3" + rand(rng, URLSAFE, 180),
        lambda: "ATBB" + rand(rng, ALNUM, 32),
        lambda: f"PMAK-{rand(rng, HEX, 24)}-{rand(rng, HEX, 34)}",
        lambda: "lin_api_" + rand(rng, ALNUM, 40),
        lambda: "dp.pt." + rand(rng, ALNUM, 43),
        lambda: "hvs." + rand(rng, URLSAFE, 90),
        lambda: f"{rand(rng, ALNUM, 14)}.atlasv1.{rand(rng, URLSAFE, 67)}",
        lambda: "ntn_" + rand(rng, ALNUM, 46),
        lambda: "sntrys_" + rand(rng, ALNUM, 60),
        lambda: "NRAK-" + rand(rng, UPPER_DIGITS, 27),
        lambda: "dapi" + rand(rng, HEX, 32),
        lambda: "sbp_" + rand(rng, HEX, 40),
        lambda: "pscale_tkn_" + rand(rng, URLSAFE, 43),
        lambda: "pul-" + rand(rng, HEX, 40),
        lambda: "nfp_" + rand(rng, ALNUM, 36),
        lambda: "fo1_" + rand(rng, URLSAFE, 43),
        lambda: "sl." + rand(rng, URLSAFE, 140),
        lambda: "LTAI" + rand(rng, ALNUM, 20),
        lambda: "AAAAAAAAAAAAAAAAAAAAA" + rand(rng, ALNUM, 80),
        lambda: "AGE-SECRET-KEY-1" + rand(rng, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
    ])()


@dataclass(frozen=True)
class Kind:
    id: str
    reported: str  # the kind redact() reports
    make: Callable[[Random], str]
    line: str = "deploy with {v} today"  # where it typically sits; {v} is the value
    filename: str = "notes.txt"
    # a token recognised by its own format: caught in any context, under any name
    self_evident: bool = True


KINDS: tuple[Kind, ...] = (
    # detect-secrets' own plugins
    Kind("aws-key-id", "AWS Access Key", lambda r: r.choice(["AKIA", "ASIA"]) + rand(r, UPPER_DIGITS, 16)),
    Kind("aws-secret-quoted", "AWS Access Key", lambda r: rand(r, B64, 40),
         'aws_secret_access_key = "{v}"', "deploy.py", False),
    Kind("artifactory", "Artifactory Credentials", lambda r: "AKC" + rand(r, ALNUM, 70), 'ARTIFACTORY="{v}"', "ci.sh"),
    Kind("azure-storage", "Azure Storage Account access key", lambda r: rand(r, B64, 86) + "==",
         "conn = 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={v};EndpointSuffix=core.windows.net'",
         "storage.py", False),
    Kind("cloudant", "Cloudant Credentials", lambda r: rand(r, HEX, 64),
         "url = 'https://acme:{v}@acme.cloudant.com'", "db.py", False),
    Kind("discord-bot", "Discord Bot Token",
         lambda r: f"{r.choice('MNO')}{rand(r, URLSAFE, 23)}.{rand(r, URLSAFE, 6)}.{rand(r, URLSAFE, 27)}"),
    Kind("github-classic", "GitHub Token",
         lambda r: r.choice(["ghp", "gho", "ghu", "ghs", "ghr"]) + "_" + rand(r, ALNUM, 36)),
    Kind("gitlab", "GitLab Token", lambda r: r.choice(["glpat-", "gldt-", "glrt-"]) + rand(r, URLSAFE, 20)),
    Kind("ibm-iam", "IBM Cloud IAM Key", lambda r: rand(r, URLSAFE, 44), 'ibm_cloud_iam_key = "{v}"', "ibm.py", False),
    Kind("ibm-cos", "IBM COS HMAC Credentials", lambda r: rand(r, HEX, 48),
         'ibm_cos_hmac_secret_access_key = "{v}"', "cos.py", False),
    Kind("jwt", "JSON Web Token", jwt),
    Kind("mailchimp", "Mailchimp Access Key", lambda r: f"{rand(r, HEX, 32)}-us{r.randint(1, 20)}"),
    Kind("npmrc", "NPM tokens", lambda r: "npm_" + rand(r, ALNUM, 36), "//registry.npmjs.org/:_authToken={v}",
         "npmrc.txt", False),
    Kind("openai-t3", "OpenAI Token", lambda r: f"sk-{rand(r, ALNUM, 20)}T3BlbkFJ{rand(r, ALNUM, 20)}"),
    Kind("pypi", "PyPI Token", lambda r: "pypi-AgEIcHlwaS5vcmc" + rand(r, URLSAFE, 80)),
    Kind("sendgrid", "SendGrid API Key", lambda r: f"SG.{rand(r, URLSAFE, 22)}.{rand(r, URLSAFE, 43)}"),
    Kind("slack-bot", "Slack Token", lambda r: f"xoxb-{rand(r, string.digits, 12)}-{rand(r, string.digits, 13)}-{rand(r, ALNUM, 24)}"),
    Kind("slack-webhook", "Slack Token",
         lambda r: f"https://hooks.slack.com/services/T{rand(r, UPPER_DIGITS, 8)}/B{rand(r, UPPER_DIGITS, 8)}/{rand(r, ALNUM, 24)}"),
    Kind("softlayer", "SoftLayer Credentials", lambda r: rand(r, LOWER_DIGITS, 64), 'softlayer_api_key = "{v}"', "sl.py", False),
    Kind("square-oauth", "Square OAuth Secret", lambda r: "sq0csp-" + rand(r, URLSAFE, 43)),
    Kind("stripe-live", "Stripe Access Key", lambda r: r.choice(["sk_live_", "rk_live_"]) + rand(r, ALNUM, 99)),
    Kind("telegram", "Telegram Bot Token", lambda r: f"{r.randint(10**8, 10**10 - 1)}:AA{rand(r, URLSAFE, 33)}",
         'bot = telebot.TeleBot("{v}")', "bot.py"),
    Kind("twilio-sid", "Twilio API Key", lambda r: r.choice(["AC", "SK"]) + rand(r, HEX, 32)),
    # kimicode's plugins
    Kind("github-fine-grained", "GitHub Fine-Grained Token",
         lambda r: f"github_pat_{rand(r, ALNUM, 22)}_{rand(r, ALNUM, 59)}"),
    Kind("anthropic", "Anthropic API Key", lambda r: f"sk-ant-api03-{rand(r, URLSAFE, 93)}AA"),
    Kind("openai-legacy", "OpenAI-Style API Key", lambda r: "sk-" + rand(r, ALNUM, 48)),
    Kind("openai-project", "OpenAI-Style API Key", lambda r: "sk-proj-" + rand(r, URLSAFE, 156)),
    Kind("google-api", "Google API Key", lambda r: "AIza" + rand(r, URLSAFE, 35)),
    Kind("google-oauth", "Google OAuth Secret",
         lambda r: r.choice(["GOCSPX-" + rand(r, URLSAFE, 28), "ya29." + rand(r, URLSAFE, 120)])),
    Kind("slack-app", "Slack App Token",
         lambda r: f"xapp-1-A{rand(r, UPPER_DIGITS, 10)}-{rand(r, string.digits, 13)}-{rand(r, HEX, 64)}"),
    Kind("stripe-test", "Stripe Secret",
         lambda r: r.choice(["sk_test_" + rand(r, ALNUM, 99), "whsec_" + rand(r, ALNUM, 32)])),
    Kind("npm", "npm Access Token", lambda r: "npm_" + rand(r, ALNUM, 36)),
    Kind("huggingface", "Hugging Face Token", lambda r: "hf_" + rand(r, string.ascii_letters, 34)),
    Kind("azure-connection", "Azure Secret", lambda r: rand(r, B64, 43) + "=",
         'EVENTS="Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={v}"',
         "azure.sh", False),
    Kind("azure-sas", "Azure Secret", lambda r: rand(r, ALNUM, 40) + "%3D",
         "blob = 'https://acme.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&sig={v}'", "blob.py", False),
    Kind("azure-entra", "Azure Secret", lambda r: f"{rand(r, ALNUM, 3)}{r.randint(0, 9)}Q~{rand(r, URLSAFE, 34)}"),
    Kind("digitalocean", "DigitalOcean Token", lambda r: r.choice(["dop", "doo", "dor"]) + "_v1_" + rand(r, HEX, 64)),
    Kind("shopify", "Shopify Token", lambda r: r.choice(["shpat", "shpss", "shpca"]) + "_" + rand(r, HEX, 32)),
    Kind("discord-webhook", "Webhook URL", lambda r: f"{rand(r, string.digits, 18)}/{rand(r, URLSAFE, 68)}",
         "hook = 'https://discord.com/api/webhooks/{v}'", "hook.py", False),
    Kind("mailgun", "Mailgun API Key", lambda r: "key-" + rand(r, HEX, 32)),
    Kind("heroku", "Heroku API Key", lambda r: "HRKU-" + rand(r, URLSAFE, 60)),
    Kind("square-access", "Square Token",
         lambda r: r.choice(["sq0atp-" + rand(r, URLSAFE, 22), "EAAA" + rand(r, URLSAFE, 60)])),
    Kind("grafana", "Grafana Token",
         lambda r: r.choice([f"glsa_{rand(r, ALNUM, 32)}_{rand(r, HEX, 8)}", "glc_" + rand(r, ALNUM, 60)])),
    Kind("dev-platform", "Developer Platform Token", dev_platform),
    Kind("ai-provider", "AI Provider API Key", lambda r: r.choice([
        "gsk_" + rand(r, ALNUM, 52), "r8_" + rand(r, ALNUM, 37), "xai-" + rand(r, ALNUM, 80), "pplx-" + rand(r, ALNUM, 48)])),
    Kind("base64-pem", "Base64-Encoded Private Key", base64_pem, "    client-key-data: {v}", "kubeconfig.yaml"),
    # secrets known by the name they are given, the URL or the sentence they are in
    Kind("yaml-api-token", "Secret Keyword", lambda r: rand(r, ALNUM, 32), "api_token: {v}", "settings.yaml", False),
    Kind("kube-token", "Secret Keyword", lambda r: f"{rand(r, LOWER_DIGITS, 6)}.{rand(r, LOWER_DIGITS, 16)}",
         "    token: {v}", "cluster.yaml", False),
    Kind("aws-secret-unquoted", "Secret Keyword", lambda r: rand(r, B64, 40),
         "export AWS_SECRET_ACCESS_KEY={v}", "deploy.sh", False),
    Kind("env-password", "Secret Keyword", password, "POSTGRES_PASSWORD={v}", "compose.env.txt", False),
    Kind("dockerfile-env", "Secret Keyword", lambda r: rand(r, HEX, 32), "ENV DD_API_KEY {v}", "Dockerfile", False),
    Kind("terraform", "Secret Keyword", password, '  password = "{v}"', "main.tf", False),
    Kind("properties", "Secret Keyword", password, "spring.datasource.password={v}", "application.properties", False),
    Kind("json-secret", "Secret Keyword", lambda r: rand(r, URLSAFE, 40), '  "client_secret": "{v}",', "oauth.json", False),
    Kind("code-password", "Secret Keyword", password, 'DB_PASSWORD = "{v}"', "settings.py", False),
    Kind("code-call", "Secret Keyword", lambda r: rand(r, HEX, 32),
         'client = Client(api_key="{v}")', "client.py", False),
    Kind("bearer-header", "Secret Keyword", lambda r: rand(r, URLSAFE, 40),
         'headers = {{"Authorization": "Bearer {v}"}}', "api.py", False),
    Kind("heroku-uuid", "Secret Keyword", uuid, "HEROKU_API_KEY={v}", "heroku.sh", False),
    Kind("cli-flag", "Secret Keyword", password, "deploy --api-token {v} --region eu", "deploy.md", False),
    Kind("url-password", "URL Password", password, 'DATABASE_URL = "postgres://app:{v}@db.internal:5432/app"',
         "config.py", False),
    Kind("prose-password", "Password in Prose", password, "the admin password is {v} until we rotate it",
         "NOTES.md", False),
    Kind("base64-entropy", "Base64 High Entropy String", lambda r: rand(r, B64, 44), 'blob = "{v}"', "data.py", False),
    Kind("hex-entropy", "Hex High Entropy String", lambda r: rand(r, HEX, 64),
         'sig = hmac_sign(body, "{v}")  # the webhook secret', "hooks.py", False),
)


def leaks(value: str, text: str, window: int = 8) -> bool:
    """Whether any ``window``-character piece of ``value`` (the whole of a shorter one) is in ``text``."""
    if len(value) <= window:
        return value in text
    return any(value[i : i + window] in text for i in range(len(value) - window + 1))
