"""Import detect-secrets without importing `requests` (about 0.13 s of its 0.25 s here).

detect-secrets imports `requests` at the top of its plugin modules only to verify a secret with
its provider, which kimicode never does (it would send the secret away). While detect-secrets'
modules are imported here, their ``import requests`` (and theirs only: the caller's module name
is checked) gets a stand-in that imports the real `requests` on first use, from any thread, and
hands over its attribute. `importlib.util.LazyLoader` would not do: two plugins annotate a
function's return as ``requests.Response``, evaluated when the function is defined, which would
load the lazy module at once. So while importing, and for that one name only, the stand-in gives
the annotation as the string ``"requests.Response"`` (what ``from __future__ import annotations``
makes of it); any other attribute, then or later, is the real one. Nothing else sees a
difference: ``sys.modules`` is never touched, another module's ``import requests`` gets the real
one, and the hook is removed before the lock is released.
"""

from __future__ import annotations

import builtins
import importlib
import sys
import threading
import types
from contextlib import contextmanager
from typing import Any, Iterator

_LIBRARY = "detect_secrets"
_DEFERRED = "requests"
_ANNOTATED = frozenset({"Response"})  # used at import time only as annotations (see above)
_LOCK = threading.RLock()


class _Deferred(types.ModuleType):
    """`requests` as detect-secrets' modules see it: imported on first use."""

    importing = True

    def __getattr__(self, name: str) -> Any:
        if self.importing and name in _ANNOTATED:
            return f"{_DEFERRED}.{name}"
        return getattr(importlib.import_module(_DEFERRED), name)


_STAND_IN = _Deferred(_DEFERRED)


@contextmanager
def library_imports() -> Iterator[None]:
    """Hold while importing anything of detect-secrets (its plugins are imported when first listed)."""
    with _LOCK:
        if _DEFERRED in sys.modules:  # imported already: nothing to save
            yield
            return
        real = builtins.__import__

        def hooked(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
            caller = globals.get("__name__", "") if isinstance(globals, dict) else ""
            if name == _DEFERRED and not level and not fromlist and caller.partition(".")[0] == _LIBRARY:
                return _STAND_IN
            return real(name, globals, locals, fromlist, level)

        builtins.__import__ = hooked
        _STAND_IN.importing = True
        try:
            yield
        finally:
            builtins.__import__ = real
            _STAND_IN.importing = False
