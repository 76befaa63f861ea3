"""Redaction: whole tokens, right lines and kinds, ordinary code left alone, any text accepted."""

from random import Random

import pytest

from kimicode.secrets import Finding, Redaction, redact
from tests.secret_samples import ALNUM, B64, KINDS, URLSAFE, leaks, password, pem_body, rand

AWS = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> Random:
    return Random(request.node.nodeid)  # repeatable, and different for every test


def test_redacts_planted_secrets_and_reports_kind_not_value(rng: Random) -> None:
    secret, key_line = password(rng), rand(rng, B64, 64)
    text = "\n".join([
        "import os",
        f'AWS_ACCESS_KEY_ID = "{AWS}"',
        f'db_password = "{secret}"',
        f'url = "https://admin:{secret}x@db.example.com/x"',
        "-----BEGIN RSA PRIVATE KEY-----",
        key_line,
        "-----END RSA PRIVATE KEY-----",
        "def f(): return 1",
    ])
    result = redact(text, "settings.py")
    for value in (AWS, secret, key_line):
        assert not leaks(value, result.text)
    assert "[REDACTED:AWS Access Key]" in result.text
    assert {(f.line, f.kind) for f in result.findings} == {
        (2, "AWS Access Key"), (3, "Secret Keyword"), (4, "URL Password"), (5, "Private Key")}
    # line count is kept so later line numbers stay right
    assert result.text.count("\n") == text.count("\n")
    assert result.text.splitlines()[-1] == "def f(): return 1"
    assert all(AWS not in repr(f) for f in result.findings)


@pytest.mark.parametrize("prefix", ["ghp", "gho", "ghu", "ghs", "ghr"])
@pytest.mark.parametrize("template", ["{v}", "token {v} here", "git clone https://{v}@github.com/o/r", "x={v};"])
def test_github_token_is_redacted_whole_not_just_its_prefix(prefix: str, template: str, rng: Random) -> None:
    # detect-secrets' pattern has a capture group: its reported value is "ghp", not the token
    token = f"{prefix}_{rand(rng, ALNUM, 36)}"
    result = redact(template.format(v=token), "notes.txt")
    assert not leaks(token, result.text)
    assert "[REDACTED:GitHub Token]" in result.text and "_" + token[4:12] not in result.text


@pytest.mark.parametrize("prefix", ["glpat-", "gldt-", "glrt-", "glsoat-"])
def test_gitlab_token_is_redacted_whole(prefix: str, rng: Random) -> None:
    token = prefix + rand(rng, URLSAFE, 20)
    result = redact(f"GITLAB={token}\n", "ci.txt")
    assert not leaks(token, result.text) and result.text == "GITLAB=[REDACTED:GitLab Token]\n"


def test_every_kind_leaves_no_piece_of_its_value(rng: Random) -> None:
    for kind in KINDS:
        for _ in range(5):
            value = kind.make(rng)
            result = redact(kind.line.format(v=value), kind.filename)
            assert not leaks(value, result.text), (kind.id, result.text)


def test_token_in_a_call_is_redacted(rng: Random) -> None:
    # detect-secrets drops such lines whole as "indirect references": the token went out in clear
    token = f"ghp_{rand(rng, ALNUM, 36)}"
    bot = f"{rng.randint(10**8, 10**9)}:AA{rand(rng, URLSAFE, 33)}"
    text = f'client = Github(auth=Auth.Token("{token}"))\nbot = telebot.TeleBot("{bot}")\n'
    result = redact(text, "bot.py")
    assert not leaks(token, result.text) and not leaks(bot, result.text)
    assert [f.kind for f in result.findings] == ["GitHub Token", "Telegram Bot Token"]


def test_most_specific_kind_is_reported_when_detectors_overlap(rng: Random) -> None:
    token = f"ghp_{rand(rng, ALNUM, 36)}"
    # the quoted token is also a high-entropy string and a secret-named assignment
    assert redact(f'GITHUB_TOKEN = "{token}"', "ci.py").findings == (Finding(1, "GitHub Token"),)
    key = "AIza" + rand(rng, URLSAFE, 35)
    assert redact(f"google_api_key: {key}", "app.yaml").findings == (Finding(1, "Google API Key"),)


@pytest.mark.parametrize(
    "line, filename",
    [
        ('secrets = "1 secret" if h.redacted_secrets == 1 else f"{h.redacted_secrets} secrets"', "kimicode/repo/render.py"),
        ('    """``git@github.com:Org/Repo.git`` and ``https://user:pw@github.com/Org/Repo`` -> ``x``."""', "identity.py"),
        ('urls = ["https://user:tok@github.com/Org/Repo.git/", "http://spam:eggs@host/"]', "test_x.py"),
        ("proxy = 'http://joe:password@proxy.example.com:3128'", "proxy.py"),
        ('password = get_password()', "auth.py"),
        ('token = self.token or os.environ["TOKEN"]', "client.py"),
        ('api_key = settings.API_KEY', "client.py"),
        ('password_field = "password"', "forms.py"),
        ('token_type = "bearer"', "oauth.py"),
        ('TOKEN_HEADER = "X-Auth-Token"', "api.py"),
        ('max_tokens = 4096', "llm.py"),
        ('SECRET_KEY = os.getenv("SECRET_KEY", "changeme")', "settings.py"),
        ('password: ${DB_PASSWORD}', "compose.yaml"),
        ('password: "{{ vault_db_password }}"', "deploy.yaml"),
        ('api_key = "<YOUR_API_KEY>"', "README.md"),
        ('token: your-token-here', "config.yaml"),
        ('export API_TOKEN="$(cat ~/.token)"', "env.sh"),
        ("DRIVE_LETTERS = set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')", "pathlib.py"),
        ('b"YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXpBQkNE"', "test_base64.py"),
        ('#define SN_id_tc26_cipher_gostr3412_2015_kuznyechik "id-tc26-cipher-gostr3412-2015-kuznyechik"', "obj_mac.h"),
        ("class APFixedPoint {", "APFixedPoint.h"),
        ("    _M_token = _S_token_subexpr_no_group_begin;", "regex_scanner.tcc"),
        ("def token      : ValueType<0, 248>;  // TokenTy", "ValueTypes.td"),
        ("    stop_token::_Stop_state_ref _M_state;", "include/c++/12/stop_token"),
        ("PASSWD = 'testPass'", "test_urllib2_localnet.py"),
        ("        token = self[0]", "_header_value_parser.py"),
        ("# token          = 1*tchar", "client.py"),
        ('"integrity": "sha512-0hRBLiwpHF7K+8fWzcvR2fmjEXNhAZhuUAyoKfZdr7L8dq6s0amMgtmZA8qzaPw4R8+CJPFsMgBQR4Vy1iDVYQ=="', "package-lock.json"),
        ("-----BEGIN RSA PRIVATE KEY----- starts a PEM key; the body is base64.", "docs/keys.md"),
        ('escaped = "\\\\n".join(["-----BEGIN PRIVATE KEY-----", *body, "-----END PRIVATE KEY-----"])', "bench.py"),
        ("The password is required.", "NOTES.md"),
        ("Set the token: see below.", "NOTES.md"),
    ],
)
def test_ordinary_code_is_left_alone(line: str, filename: str) -> None:
    result = redact(line, filename)
    assert result == Redaction(line, ())


def test_redact_accepts_any_text() -> None:
    for text in ("", "\n", "src/backup_notes.py", "fix: handle empty input", "a" * 50_000, "\x00\x01binary\ufffd"):
        assert redact(text, "").text == text
    token = "ghp_" + rand(Random(130), ALNUM, 36)
    assert redact(f"backup_{token}.py", "").text == "backup_[REDACTED:GitHub Token].py"
    assert redact(f"commit message mentions {token}", "message").findings == (Finding(1, "GitHub Token"),)


def test_secret_in_a_long_minified_line_is_found(rng: Random) -> None:
    token = f"ghp_{rand(rng, ALNUM, 36)}"
    filler = "var a=1;" * 1000
    for text in (f"{filler}{token}{filler}", filler[:3998] + token + filler):  # also across a segment border
        result = redact(text, "app.min.js")
        assert not leaks(token, result.text) and result.findings == (Finding(1, "GitHub Token"),)


def test_redaction_is_idempotent(rng: Random) -> None:
    text = "\n".join(kind.line.format(v=kind.make(rng)) for kind in KINDS)
    once = redact(text, "mixed.txt")
    twice = redact(once.text, "mixed.txt")
    assert twice.text == once.text and twice.findings == ()


def test_allowlist_pragma_keeps_a_line(rng: Random) -> None:
    value = rand(rng, ALNUM, 24) + "9"
    text = f'api_key = "{value}"  # pragma: allowlist secret\n# pragma: allowlist nextline secret\ntoken = "{value}"\n'
    assert redact(text, "fixtures.py").text == text


def test_private_keys_are_redacted_whole_in_every_form(rng: Random) -> None:
    body = pem_body(rng)
    pem = "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *body, "-----END OPENSSH PRIVATE KEY-----"])
    forms = {
        "key.txt": f"here it is:\n{pem}\nthanks",
        "tls.yaml": "tls.key: |\n" + "\n".join("  " + line for line in pem.splitlines()),
        "sa.json": '{"private_key": "' + pem.replace("\n", "\\n") + '\\n", "client_email": "x@y"}',
        "cut.txt": "\n".join(pem.splitlines()[:5]),  # a key cut off before its end line
        "key.py": "KEY = (\n" + "\n".join(f'    "{line}\\n"' for line in pem.splitlines()) + "\n)",
        "putty.txt": "\n".join(["PuTTY-User-Key-File-2: ssh-rsa", "Public-Lines: 1", rand(rng, B64, 64),
                                f"Private-Lines: {len(body)}", *body, "Private-MAC: 00ff"]),
    }
    for filename, text in forms.items():
        result = redact(text, filename)
        assert not any(leaks(line, result.text) for line in body if line in text), filename
        assert "Private Key" in {f.kind for f in result.findings}, filename
        assert result.text.count("\n") == text.count("\n")


def test_detect_secrets_settings_of_the_process_are_left_as_they_were() -> None:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings, get_settings

    from kimicode.secrets.engine import detectors

    detectors.cache_clear()  # build the plugins again, under someone else's settings
    with default_settings():
        before = get_settings().json()
        assert redact("token = ghp_" + "a1b2" * 9, "x.txt").findings == (Finding(1, "GitHub Token"),)
        assert get_settings().json() == before
        assert "GitHub Token" in {s.type for s in scan_line("ghp_" + "a1b2" * 9)}


DJANGO_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)"  # django's get_random_secret_key


@pytest.mark.parametrize("alphabet", [DJANGO_ALPHABET, ALNUM + "!@#%^&*(-_=+)"])
def test_random_keys_whose_characters_look_like_code_are_still_found(alphabet: str) -> None:
    # ``hCCxl3d(``, ``%s``, ``$(`` or ``***`` formed by chance made 3 to 7% of such keys pass as code
    rng = Random(2026)
    missed = []
    for _ in range(600):
        value = "".join(rng.choice(alphabet) for _ in range(50))
        if leaks(value, redact(f"SECRET_KEY = '{value}'\n", "config/settings.py").text):
            missed.append(value)
    assert len(missed) <= 1, missed


@pytest.mark.parametrize("line", [
    "SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY')", "password = '%(user)s:%(password)s@%(host)s'",
    "api_key = getenv('API_KEY')", "token = '${GITHUB_TOKEN}'", "secret = '${DB_PASSWORD:-changeme}'",
    "token = hashlib.sha256(secret.encode()).hexdigest()", "password = '$DB_PASSWORD'", "token = get_token()",
])
def test_code_and_templates_assigned_to_secret_names_are_not_secrets(line: str) -> None:
    assert redact(line + "\n", "settings.py").findings == ()


def test_a_token_that_happens_to_hold_another_format_keeps_its_own_kind() -> None:
    # an Atlassian token's random body may hold "-gsk_" and 40 letters: a Groq key's shape
    body = rand(Random(3), ALNUM, 60) + "-gsk_" + rand(Random(4), ALNUM, 44) + "-" + rand(Random(5), ALNUM, 80)
    result = redact(f"token = ATATT3{body}\n", "notes.txt")
    assert [f.kind for f in result.findings] == ["Developer Platform Token"]
    assert not leaks(body, result.text)
