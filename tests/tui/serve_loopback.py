"""Run the loopback OpenAI-compatible server by hand, for trying the TUI in a terminal.

    python -m tests.tui.serve_loopback [URL_FILE]

Prints the base URL (and writes it to URL_FILE if given), then answers every chat request
with a streamed Markdown answer with a code block, slowly enough to be stopped with Ctrl+C.
Stop it with Ctrl+C (or kill).
"""

from __future__ import annotations

import sys
import time

from tests.openai_server import OpenAIServer, Reply

ANSWER = """`calc.py` defines two functions:

```python
def add(a, b):
    return a + b
```

- `add` returns the sum of its arguments;
- `sub` returns their difference.

""" + " ".join(f"Detail {n} of a long explanation." for n in range(1, 60))


def main() -> None:
    with OpenAIServer() as server:
        server.default_reply = Reply(ANSWER, reasoning="Looking at calc.py first.", chunk_size=6, chunk_delay=0.01)
        print(server.base_url, flush=True)
        if len(sys.argv) > 1:
            with open(sys.argv[1], "w", encoding="utf-8") as fh:
                fh.write(server.base_url)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
