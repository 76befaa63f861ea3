"""Random keys whose characters happen to look like code: how many are sent, beside plain detect-secrets.

    .venv/bin/python bench/random_keys.py [--keys 3000] [--seed 1]

Django's ``get_random_secret_key`` draws 50 characters from lower-case letters, digits and
``!@#$%^&*(-_=+)``; by chance such a key holds ``ab(``, ``$(``, ``%s`` or ``***``, which a scanner
may take for a call, a shell substitution, a printf mark or a placeholder. Each key is planted as
``SECRET_KEY = '<key>'`` in a settings file (and, for a second alphabet, with upper case too);
a key leaks when any 8-character piece of it survives redaction.
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent))
from secrets_bench import detect_secrets_scan, kimicode_scan  # noqa: E402

from tests.secret_samples import leaks  # noqa: E402

ALPHABETS = {
    "django (a-z 0-9 !@#$%^&*(-_=+))": string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)",
    "mixed case + symbols": string.ascii_letters + string.digits + "!@#%^&*(-_=+)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from detect_secrets.settings import default_settings

    print(f"{'alphabet':<34} {'keys':>6} {'kimicode leaked':>16} {'detect-secrets leaked':>22}")
    for label, alphabet in ALPHABETS.items():
        rng = Random(args.seed)
        keys = ["".join(rng.choice(alphabet) for _ in range(50)) for _ in range(args.keys)]
        row = []
        for scan in (kimicode_scan, detect_secrets_scan):
            with default_settings():  # detect-secrets' own plugins and filters (kimicode's ignore the context)
                row.append(sum(leaks(key, scan(f"SECRET_KEY = '{key}'\n", "config/settings.py")[0]) for key in keys))
        print(f"{label:<34} {len(keys):>6} {row[0]:>10} ({row[0] / len(keys):.1%}) {row[1]:>14} ({row[1] / len(keys):.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
