"""detect-secrets imported without `requests` (kimicode.secrets.loading), each in a new process:
the test process may have imported `requests` already, and then there is nothing to defer."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_redaction_imports_no_requests_and_finds_what_it_found() -> None:
    out = _run("""
        import sys
        from kimicode.secrets import redact
        found = redact('password = "hunter2hunter2xx"\\nkey = AKIAIOSFODNN7EXAMPLE1\\n# pragma: allowlist nextline secret\\n'
                       'token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"\\n', "a.py").findings
        print([(f.line, f.kind) for f in found], "requests" in sys.modules, "urllib3" in sys.modules)
    """)
    assert out == "[(1, 'Secret Keyword'), (2, 'AWS Access Key')] False False"


def test_the_library_gets_the_real_requests_on_first_use() -> None:
    out = _run("""
        import builtins, sys, typing
        real_import = builtins.__import__
        from kimicode.secrets.engine import detectors
        detectors()
        assert builtins.__import__ is real_import, "the hook is removed"
        from detect_secrets.plugins import base, ibm_cloud_iam
        assert "requests" not in sys.modules
        error = base.requests.exceptions.RequestException  # as its verification's except clauses read it
        import requests
        assert error is requests.exceptions.RequestException and base.requests.get is requests.get
        hints = typing.get_type_hints(ibm_cloud_iam.verify_cloud_iam_api_key)
        print(hints["return"] is requests.Response)
    """)
    assert out == "True"


def test_only_the_library_gets_the_stand_in() -> None:
    out = _run("""
        import sys
        from kimicode.secrets.loading import library_imports
        with library_imports():
            import requests  # this module's own import, while the hook is in place
            import detect_secrets.plugins.base as base
        print(sys.modules["requests"] is requests, hasattr(requests, "__version__"), base.requests is not requests,
              type(base.requests.Response).__name__)
    """)
    assert out == "True True True type"


def test_threads_building_the_detectors_at_once() -> None:
    out = _run("""
        import builtins, sys, threading
        from kimicode.secrets import engine
        real_import = builtins.__import__
        seen = []
        def build():
            with engine.library_imports():
                from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
                seen.append(len(get_mapping_from_secret_type_to_class()))
            seen.append(len(engine.redact('aws = "AKIAIOSFODNN7EXAMPLE1"', "x.py").findings))
        threads = [threading.Thread(target=build) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(builtins.__import__ is real_import, "requests" in sys.modules, sorted(set(seen)) == sorted({seen[0], 1}))
    """)
    assert out == "True False True"
