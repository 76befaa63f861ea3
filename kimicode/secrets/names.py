"""Files that hold secrets by their very name: never read, never listed with their contents.

Names are matched without regard to case (``KEY.PEM`` is as secret as ``key.pem``). Most
rules look at the file name alone; a few need the directory too (``.docker/config.json`` is
a credential store, ``package/config.json`` is not), so rules are matched against the end of
the repository-relative POSIX path.
"""

from __future__ import annotations

import fnmatch
import re

# (glob on the file name, why it is refused)
NAME_RULES: tuple[tuple[str, str], ...] = (
    (".env", "dotenv file"),
    (".env.*", "dotenv file"),
    ("*.env", "dotenv file"),
    (".envrc", "direnv file"),
    ("*.pem", "private key or certificate"),
    ("*.key", "private key"),
    ("*.p8", "private key"),
    ("*.ppk", "PuTTY private key"),
    ("*.p12", "key store"),
    ("*.pfx", "key store"),
    ("*.pkcs12", "key store"),
    ("*.jks", "key store"),
    ("*.jceks", "key store"),
    ("*.bks", "key store"),
    ("*.keystore", "key store"),
    ("*.keytab", "Kerberos key table"),
    ("*.kdbx", "password database"),
    ("id_rsa*", "ssh key"),
    ("id_dsa*", "ssh key"),
    ("id_ecdsa*", "ssh key"),
    ("id_ed25519*", "ssh key"),
    ("ssh_host_*_key", "ssh host key"),
    (".netrc", "credentials file"),
    ("_netrc", "credentials file"),
    (".pypirc", "credentials file"),
    (".npmrc", "package registry credentials"),
    (".htpasswd", "credentials file"),
    (".pgpass", "database credentials"),
    (".my.cnf", "database credentials"),
    (".mylogin.cnf", "database credentials"),
    (".s3cfg", "cloud credentials"),
    (".passwd-s3fs", "cloud credentials"),
    (".boto", "cloud credentials"),
    (".vault-token", "Vault token"),
    (".terraformrc", "Terraform credentials"),
    ("terraform.rc", "Terraform credentials"),
    ("*.tfvars", "Terraform variables"),
    ("*.tfvars.json", "Terraform variables"),
    ("*.tfstate", "Terraform state"),
    ("*.tfstate.backup", "Terraform state"),
    ("kubeconfig", "kubeconfig"),
    ("kubeconfig.*", "kubeconfig"),
    ("*.kubeconfig", "kubeconfig"),
    (".dockercfg", "docker credentials"),
    (".git-credentials", "credentials file"),
    ("credentials", "credentials file"),
    ("credentials.*", "credentials file"),
    ("application_default_credentials.json", "cloud credentials"),
    ("service-account*.json", "cloud service account key"),
    ("*secrets.json", "credentials file"),
    ("*secrets.yml", "credentials file"),
    ("*secrets.yaml", "credentials file"),
    ("*secrets.toml", "credentials file"),
    ("wp-config.php", "WordPress credentials"),
    ("shadow", "password hashes"),
    ("gshadow", "password hashes"),
    ("*_history", "shell or REPL history"),
    (".history", "shell history"),
)

# (glob on the end of the path, why it is refused): the directory says what the file is.
PATH_RULES: tuple[tuple[str, str], ...] = (
    (".docker/config.json", "docker credentials"),
    (".kube/config", "kubeconfig"),
    (".kube/*.yaml", "kubeconfig"),
    (".kube/*.yml", "kubeconfig"),
    (".aws/config", "cloud credentials"),
    (".ssh/*", "ssh directory"),
    (".gnupg/*", "GnuPG keys"),
    (".azure/*", "cloud credentials"),
    (".config/gcloud/*", "cloud credentials"),
    (".config/gh/hosts.yml", "GitHub CLI token"),
    (".composer/auth.json", "package registry credentials"),
    (".local/share/fish/fish_history", "shell history"),
)

# Templates are meant to be shared and hold placeholders, not secrets.
TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".tmpl", ".dist", ".pub")
_SSH_PUBLIC = ("known_hosts", "known_hosts.old", "authorized_keys")


def _compile(rules: tuple[tuple[str, str], ...], prefix: str) -> re.Pattern[str]:
    # one regex with a named group per rule: checked for every file of a repository
    return re.compile(
        "|".join(f"(?P<r{i}>{prefix}{fnmatch.translate(glob)})" for i, (glob, _) in enumerate(rules)),
        re.IGNORECASE,
    )


_NAME = _compile(NAME_RULES, "")
_PATH = _compile(PATH_RULES, "(?:.*/)?")


def secret_file_kind(path: str) -> str | None:
    """Why ``path`` (a repository-relative POSIX path, or a bare name) must never be read, or None."""
    name = path.rsplit("/", 1)[-1]
    lowered = name.lower()
    if lowered.endswith(TEMPLATE_SUFFIXES) or lowered in _SSH_PUBLIC:
        return None
    # every path rule names a dot folder: most paths have none and skip that regex (10k paths: 0.05 s)
    dotted = path.startswith(".") or "/." in path
    return _rule(_NAME, NAME_RULES, name) or (_rule(_PATH, PATH_RULES, path) if dotted else None)


def _rule(pattern: re.Pattern[str], rules: tuple[tuple[str, str], ...], text: str) -> str | None:
    match = pattern.match(text)
    return None if match is None else rules[int(match.lastgroup[1:])][1]  # type: ignore[index]
