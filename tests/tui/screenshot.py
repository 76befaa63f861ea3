"""Write docs/screenshot.svg: the TUI after a streamed answer, files panel open.

    python -m tests.tui.screenshot [docs/screenshot.svg]

Runs offline: a temp KIMICODE_HOME, the demo repository of the tests, the loopback server.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path


async def main(out: Path) -> None:
    os.environ["KIMICODE_HOME"] = tempfile.mkdtemp(prefix="kimicode-shot-")
    from kimicode.tui.app import KimicodeApp
    from tests.openai_server import OpenAIServer
    from tests.repos import write_files
    from tests.tui.conftest import DEMO_FILES, idle, send, settings_for
    from tests.tui.test_snapshots import ANSWER, seed_session

    root = Path(tempfile.mkdtemp(prefix="kimicode-shot-")) / "demo"
    write_files(root, DEMO_FILES)
    with OpenAIServer() as server:
        server.reply(ANSWER, reasoning="calc.py defines add.")
        app = KimicodeApp(settings_for(root, server.base_url), root, session_id=seed_session(root))
        async with app.run_test(size=(120, 34)) as pilot:
            await idle(pilot)
            await send(pilot, "What does add do?")
            await pilot.press("f2")
            app.prompt.focus()
            app.prompt.cursor_blink = False
            await pilot.pause(0.2)
            out.write_text(app.export_screenshot(title="kimicode"), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.svg")))
