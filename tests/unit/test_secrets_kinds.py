"""One test per kind of secret covered (docs/secrets.md), each with generated values.

The values come from a seed per kind, so a run is repeatable; bench/secrets_bench.py draws many more.
"""

from random import Random

import pytest

from kimicode.secrets import redact
from tests.secret_samples import KINDS, Kind, leaks

# Where a token known by its own format must be caught whatever surrounds it.
NEUTRAL = [
    ("service.py", 'value = "{v}"'),
    ("app.yaml", "setting: {v}"),
    ("deploy.md", "Use {v} for the staging deploy."),
    ("run.sh", "export SETTING={v}"),
    ("app.json", '{{"value": "{v}"}}'),
    ("notes.txt", "{v}"),
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.id for k in KINDS])
def test_kind_is_redacted_whole_and_reported(kind: Kind) -> None:
    rng = Random(kind.id)
    for _ in range(20):
        value = kind.make(rng)
        text = "import os\n" + kind.line.format(v=value) + "\nprint('ok')\n"
        result = redact(text, kind.filename)
        assert not leaks(value, result.text), result.text
        assert {(f.line, f.kind) for f in result.findings} == {(2, kind.reported)}
        assert result.text.startswith("import os\n") and result.text.endswith("\nprint('ok')\n")


@pytest.mark.parametrize("kind", [k for k in KINDS if k.self_evident], ids=[k.id for k in KINDS if k.self_evident])
def test_format_is_caught_in_any_context(kind: Kind) -> None:
    rng = Random(f"{kind.id} in context")
    for filename, line in NEUTRAL:
        value = kind.make(rng)
        result = redact(line.format(v=value), filename)
        assert not leaks(value, result.text), (filename, result.text)
        assert [f.kind for f in result.findings] == [kind.reported]


def test_every_detector_has_a_kind_with_samples() -> None:
    # a plugin without a generated sample here is a kind nobody checks (nor documents)
    from kimicode.secrets.engine import KIND_RANK, detectors

    sampled = {k.reported for k in KINDS}
    assert {d.kind for d in detectors()} - sampled == set()
    assert set(KIND_RANK) <= {d.plugin.secret_type for d in detectors()}
