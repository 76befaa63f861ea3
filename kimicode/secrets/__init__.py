"""Secret detection and redaction, shared by packing, review, chat, memory and exports.

Files whose names say they hold secrets (.env, keys, kubeconfig, credentials...) are never
read (``names``); any text about to be sent or stored is scanned and each secret replaced
by ``[REDACTED:<kind>]`` (``engine``), with detect-secrets' plugins and ours (``plugins``),
keyword and entropy hits checked by the value's shape (``shape``). docs/secrets.md lists
every kind covered, the rule that catches it, and what is not covered.
"""

from kimicode.secrets.engine import Finding, Redaction, redact
from kimicode.secrets.names import secret_file_kind

__all__ = ["Finding", "Redaction", "redact", "secret_file_kind"]
