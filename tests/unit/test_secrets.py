import pytest

from kimicode.secrets import redact, secret_file_kind

AWS = "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    "path, secret",
    [
        (".env", True), ("config/.env.production", True), ("prod.env", True), ("deploy/server.pem", True),
        ("id_rsa", True), ("home/.ssh/id_ed25519", True), ("credentials.json", True), (".netrc", True),
        ("app/secrets.yaml", True), ("service-account-prod.json", True),
        (".env.example", False), ("id_rsa.pub", False), ("main.py", False), ("environment.py", False), ("keys.py", False),
    ],
)
def test_secret_file_names(path: str, secret: bool) -> None:
    assert (secret_file_kind(path) is not None) is secret


def test_redacts_planted_secrets_and_reports_kind_not_value() -> None:
    text = "\n".join([
        "import os",
        f'AWS_ACCESS_KEY_ID = "{AWS}"',
        'db_password = "correct-horse-battery"',
        'url = "https://admin:s3cr3tpass@db.example.com/x"',
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA7",
        "-----END RSA PRIVATE KEY-----",
        "def f(): return 1",
    ])
    result = redact(text, "settings.py")
    for value in (AWS, "correct-horse-battery", "s3cr3tpass", "MIIEowIBAAKCAQEA7"):
        assert value not in result.text
    assert "[REDACTED:AWS Access Key]" in result.text
    kinds = {(f.line, f.kind) for f in result.findings}
    assert (2, "AWS Access Key") in kinds and (5, "Private Key") in kinds
    assert {2, 3, 4, 5} <= {f.line for f in result.findings}
    # line count is kept so later line numbers stay right
    assert result.text.count("\n") == text.count("\n")
    assert result.text.splitlines()[-1] == "def f(): return 1"
    assert all(AWS not in repr(f) for f in result.findings)


def test_plain_code_untouched() -> None:
    code = "def add(a, b):\n    return a + b\n\nclass Config:\n    keys = ['a', 'b']\n"
    result = redact(code, "m.py")
    assert result.text == code and result.findings == ()


def test_public_ip_literals_are_not_secrets() -> None:
    code = 'SERVER = "8.8.8.8"\n'
    assert redact(code, "net.py").findings == ()
