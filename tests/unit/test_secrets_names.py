"""Files refused by name: never read, whatever they hold."""

import pytest

from kimicode.secrets import secret_file_kind
from kimicode.secrets.names import PATH_RULES

REFUSED = [
    ".env", "config/.env.production", "prod.env", ".envrc", "deploy/server.pem", "deploy/SERVER.PEM", "certs/tls.Key",
    "id_rsa", "home/.ssh/id_ed25519", ".ssh/deploy_github", "credentials.json", ".netrc", "app/secrets.yaml",
    ".streamlit/secrets.toml", "service-account-prod.json", ".kube/config", "home/me/.kube/config", "kubeconfig",
    "clusters/prod.kubeconfig", "kubeconfig.yaml", ".npmrc", "web/.npmrc", ".docker/config.json",
    "home/u/.docker/config.json", "terraform.tfvars", "envs/prod.tfvars", "prod.auto.tfvars.json", "terraform.tfstate",
    "infra/terraform.tfstate.backup", ".aws/credentials", ".aws/config", ".pgpass", ".my.cnf", ".s3cfg", ".boto",
    ".bash_history", ".zsh_history", "home/u/.python_history", ".git-credentials", ".pypirc", "keys/AuthKey_ABC123.p8",
    "putty/deploy.ppk", "store.jks", "cert.PFX", ".vault-token", ".terraformrc", ".config/gh/hosts.yml",
    ".gnupg/private-keys-v1.d/x.key", ".config/gcloud/application_default_credentials.json", "wp-config.php",
    "etc/shadow", ".azure/msal_token_cache.json", ".local/share/fish/fish_history",
]
ALLOWED = [
    ".env.example", "config/.env.sample", "id_rsa.pub", ".ssh/known_hosts", ".ssh/authorized_keys",
    "terraform.tfvars.example", "main.py", "environment.py", "keys.py", "kimicode/secrets/__init__.py",
    "kimicode/secrets/names.py", "package/config.json", "docker/config.json", "src/credentials_test.go",
    "docs/kubernetes.md", "main.tf", "variables.tf", "history.py", "bash_history_parser.py", "token.py",
    "tests/test_secrets.py", "public.pem.pub", "README.md",
]


@pytest.mark.parametrize("path", REFUSED)
def test_secret_files_are_refused(path: str) -> None:
    assert secret_file_kind(path) is not None


@pytest.mark.parametrize("path", ALLOWED)
def test_ordinary_files_are_not(path: str) -> None:
    assert secret_file_kind(path) is None


def test_kind_says_why() -> None:
    assert secret_file_kind(".kube/config") == "kubeconfig"
    assert secret_file_kind("a/b/KEY.PEM") == "private key or certificate"
    assert secret_file_kind(".docker/config.json") == "docker credentials"


@pytest.mark.parametrize(
    "path",
    [
        "keys/AKIADXPSKCJSZJLOEIVF.txt",  # an access key id with no digit: all capitals
        "backup_ghp_3TicV9P63ILVzSCmPPPni6TuaaiuogtX5tXV.py",
        "dumps/xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx.json",
    ],
)
def test_a_token_in_a_file_name_is_found(path: str) -> None:
    from kimicode.repo.files import secret_in_name

    assert secret_in_name(path)


@pytest.mark.parametrize("path", ["docs/averyveryverylongwordinafilename.md", "src/HTTPConnectionPoolManagerFactory.java"])
def test_long_words_in_file_names_are_not_tokens(path: str) -> None:
    from kimicode.repo.files import secret_in_name

    assert secret_in_name(path) is None


@pytest.mark.parametrize(("glob", "kind"), PATH_RULES)
def test_every_path_rule_holds_at_any_depth(glob: str, kind: str) -> None:
    # the path rules are tried only for paths with a dot folder: each must still match, deep or not
    for path in (glob.replace("*", "x"), "src/app/" + glob.replace("*", "x")):
        assert secret_file_kind(path) == (secret_file_kind(path.rsplit("/", 1)[-1]) or kind)  # a name rule comes first
