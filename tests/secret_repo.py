"""A repository with about thirty secrets of different kinds, generated from a seed.

Each secret's *value* (the part an attacker wants) is random, so no rule can match a fixture:
only the format is known. Tests pass a fixed seed so that a run is repeatable (a value that
leaks one run in a thousand must not fail CI at random); the benches draw many. ``leaks(text)`` reports every value found in ``text``, whole or in
part (any 8-character piece of it).
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass
from pathlib import Path

from tests.repos import make_repo, write_files

ALNUM = string.ascii_letters + string.digits
PIECE = 8


@dataclass(frozen=True)
class Planted:
    kind: str
    value: str  # the secret part; never allowed out, whole or in part


class SecretRepo:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.planted: list[Planted] = []

    def _rand(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def plant(self, kind: str, value: str) -> str:
        self.planted.append(Planted(kind, value))
        return value

    def leaks(self, text: str) -> list[str]:
        found = []
        for secret in self.planted:
            pieces = {secret.value[i:i + PIECE] for i in range(0, max(len(secret.value) - PIECE, 0) + 1)}
            if any(piece in text for piece in pieces):
                found.append(secret.kind)
        return found

    def build(self, root: Path) -> Path:
        r, p = self._rand, self.plant
        hexs = "0123456789abcdef"
        tracked = {
            "app/github.py": f"GITHUB_TOKEN = {p('github classic', 'ghp_' + r(36))}\nclient = make(GITHUB_TOKEN)\n",
            "app/oauth.js": f"const token = '{p('github oauth', 'gho_' + r(36))}';\nexport default token;\n",
            "ci/github.yml": f"env:\n  GH_PAT: {p('github fine-grained', 'github_pat_' + r(22) + '_' + r(59))}\n",
            ".gitlab-ci.yml": f"variables:\n  GITLAB_TOKEN: {p('gitlab', 'glpat-' + r(20))}\n",
            "scripts/deploy.sh": (f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={p('aws key id', 'AKIA' + r(16, string.ascii_uppercase + string.digits))}\n"
                                  f"export AWS_SECRET_ACCESS_KEY={p('aws secret', r(40, ALNUM + '/+'))}\naws s3 ls\n"),
            "web/llm.ts": f"const anthropic = new Client({{ apiKey: \"{p('anthropic', 'sk-ant-api03-' + r(93) + 'AA')}\" }});\n",
            "config/firebase.json": f'{{"apiKey": "{p("google api", "AIza" + r(35))}", "projectId": "demo"}}\n',
            "app/openai_legacy.py": f"openai.api_key = '{p('openai legacy', 'sk-' + r(48))}'\n",
            "app/openai_proj.py": f"KEY = \"{p('openai project', 'sk-proj-' + r(64))}\"\n",
            "bots/slack.py": f"SLACK = 'xoxb-{self.rng.randint(10**11, 10**12)}-{self.rng.randint(10**12, 10**13)}-{p('slack', r(24))}'\n",
            "billing/stripe.rb": f"Stripe.api_key = '{p('stripe', 'sk_live_' + r(24))}'\n",
            "bots/telegram.py": f"BOT = '{self.rng.randint(10**8, 10**9)}:{p('telegram', 'AA' + r(33, ALNUM + '_-'))}'\n",
            "billing/square.py": f"SQUARE_ACCESS_TOKEN = '{p('square', 'EAAA' + r(60, ALNUM + '-_'))}'\n",
            "notify/twilio.py": f"TWILIO_API_KEY = 'SK{p('twilio', r(32, hexs))}'\n",
            "notify/sendgrid.py": f"SENDGRID = 'SG.{p('sendgrid', r(22, ALNUM + '-_') + '.' + r(43, ALNUM + '-_'))}'\n",
            ".npmrc.example": "registry=https://registry.npmjs.org/\n",
            "tools/publish.cfg": f"[npm]\ntoken = {p('npm', 'npm_' + r(36))}\n[pypi]\npassword = {p('pypi', 'pypi-AgEIcHlwaS5vcmc' + r(70, ALNUM + '-_'))}\n",
            "ml/hub.py": f"HF_TOKEN = \"{p('hugging face', 'hf_' + r(34))}\"\n",
            "deploy/cluster.yaml": ("apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
                                    f"    token: {p('kube token', r(48, ALNUM + '.-_'))}\n"
                                    f"    client-key-data: {p('kube client key', base64.b64encode(self.rng.randbytes(90)).decode())}\n"),
            "config/service.yaml": f"service:\n  api_token: {p('yaml api_token', r(32))}\n  retries: 3\n",
            "docs/legacy_key.txt": ("Old deploy key, do not use:\n-----BEGIN RSA PRIVATE KEY-----\n"
                                    + "\n".join(p("rsa private key", base64.b64encode(self.rng.randbytes(48)).decode()) for _ in range(3))
                                    + "\n-----END RSA PRIVATE KEY-----\n"),
            "docs/ssh.md": ("# Access\n\n```\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
                            + p("openssh private key", base64.b64encode(self.rng.randbytes(60)).decode())
                            + "\n-----END OPENSSH PRIVATE KEY-----\n```\n"),
            "app/db.py": f"DATABASE_URL = 'postgres://app:{p('database url password', r(20))}@db.internal:5432/app'\n",
            "README.md": f"# Demo\n\nFor the staging box the admin password is {p('prose password', r(6) + '-' + r(8))} (ask Bob).\n",
            "tests/fixtures/auth.py": ("JWT = '" + p("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                                                  + base64.urlsafe_b64encode(('{"sub":"' + r(12) + '"}').encode()).decode().rstrip("=")
                                                  + "." + r(43, ALNUM + "-_")) + "'\n"),
            "Dockerfile": f"FROM python:3.12\nENV DB_PASSWORD={p('dockerfile env', r(24))}\nCMD [\"python\", \"app.py\"]\n",
            "infra/main.tf": f'resource "db" "main" {{\n  username = "admin"\n  password = "{p("terraform password", r(20))}"\n}}\n',
            "config/azure.py": ("STORAGE = 'DefaultEndpointsProtocol=https;AccountName=demo;AccountKey="
                                + p("azure storage key", base64.b64encode(self.rng.randbytes(64)).decode()) + ";EndpointSuffix=core.windows.net'\n"),
            "bots/discord.py": f"DISCORD_TOKEN = '{p('discord', 'M' + r(23) + '.' + r(6) + '.' + r(27, ALNUM + '_-'))}'\n",
            f"backups/dump_{p('token in file name', 'ghp_' + r(36))}.py": "x = 1\n",
            "app/main.py": "from app.github import client\n\n\ndef run():\n    return client\n",
        }
        make_repo(root, tracked)
        untracked = {
            ".env": f"SECRET_KEY={p('dotenv', r(40))}\n",
            "config/settings_local.py": f"SECRET_KEY = '{p('untracked django key', r(50, ALNUM + '!@#%^&*(-_=+)'))}'\n",
            "terraform.tfvars": f"db_password = \"{p('tfvars', r(24))}\"\n",
        }
        write_files(root, untracked)
        return root
