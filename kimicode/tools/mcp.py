"""MCP servers' tools, offered to the model beside ours: only servers the user listed in their own
config (never a repository's), none unless ``mcp.enabled``.

Each server runs in one task of a private event loop (a background thread): the ``mcp``
package's sessions are async and must be entered and left in the same task. A tool is named
``SERVER__TOOL``; its output is redacted and framed like every other tool's. A tool runs
without asking only if the server says it only reads (``readOnlyHint``) or the user trusts the
server (``trust = true``); any other call goes through the toolbox's approval, and is declined
when no one can approve it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, TextIO

from kimicode.repo.render import frame_body
from kimicode.secrets import redact
from kimicode.tools.base import Tool, ToolError

if TYPE_CHECKING:
    from kimicode.config import McpServer

START_TIMEOUT = 30.0  # seconds for a server to start and list its tools
_NAME = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64  # the tools API's limit on a function name


class McpError(Exception):
    """A server could not be started or listed; one line for the user."""


@dataclass(frozen=True)
class _Listed:
    name: str
    description: str
    schema: dict[str, Any]
    read_only: bool


def tool_name(server: str, tool: str) -> str:
    return _NAME.sub("_", f"{server}__{tool}")[:MAX_NAME]


def _text(result: Any) -> tuple[str, bool]:
    """A call's result as text: its text blocks, or its structured content as JSON."""
    parts = []
    for block in getattr(result, "content", None) or []:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')} block not shown]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, indent=1, default=str))
    return "\n".join(parts), bool(getattr(result, "is_error", False))


class _Server:
    """One server's session, held open by one task until ``stop``."""

    def __init__(self, name: str, config: McpServer) -> None:
        self.name = name
        self.config = config
        self.listed: list[_Listed] = []
        self.ready: asyncio.Event | None = None
        self.failure: str = ""
        self.calls: asyncio.Queue[tuple[str, dict[str, Any], Future[tuple[str, bool]]]] | None = None
        self.errlog: TextIO = sys.stderr  # the hub points it at os.devnull

    def _transport(self) -> Any:
        if self.config.url:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.config.url)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        # the server's own log must not reach the terminal (it would scribble over the TUI)
        return stdio_client(StdioServerParameters(command=self.config.command, args=list(self.config.args)),
                            errlog=self.errlog)

    async def run(self) -> None:
        from mcp import ClientSession

        self.ready, self.calls = asyncio.Event(), asyncio.Queue()
        try:
            async with self._transport() as streams, ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                listed = await session.list_tools()
                for tool in listed.tools:
                    hint = getattr(getattr(tool, "annotations", None), "read_only_hint", None)
                    self.listed.append(_Listed(tool.name, tool.description or "", dict(tool.input_schema or {}),
                                               bool(hint) or self.config.trust))
                self.ready.set()
                while True:
                    name, arguments, done = await self.calls.get()
                    if not name:
                        return  # stop
                    try:
                        result = await session.call_tool(name, arguments)
                        done.set_result(_text(result))
                    except Exception as exc:  # noqa: BLE001 - the model reads the failure; the session goes on
                        done.set_result((f"{type(exc).__name__}: {exc}", True))
        except Exception as exc:  # noqa: BLE001 - a server that fails is named, the rest go on
            self.failure = f"MCP server {self.name!r} failed: {type(exc).__name__}: {exc}"
        finally:
            self.ready.set()


class McpHub:
    """The configured servers, started once; their tools as kimicode tools."""

    def __init__(self, servers: Mapping[str, McpServer]) -> None:
        self.servers = {name: _Server(name, config) for name, config in sorted(servers.items())}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kimicode-mcp", daemon=True)
        self.tasks: list[Future[None]] = []
        self.failures: list[str] = []
        self.devnull = open(os.devnull, "w")  # noqa: SIM115 - closed in close()
        for server in self.servers.values():
            server.errlog = self.devnull

    def start(self) -> list[Tool]:
        """Start every server; a server that fails is listed in ``failures``, not raised."""
        try:
            import mcp  # noqa: F401 - the optional dependency: say how to get it
        except ImportError:
            raise McpError("MCP servers are configured but the mcp package is not installed: "
                           "pip install 'kimicode[mcp]'") from None
        self.thread.start()
        for server in self.servers.values():
            self.tasks.append(asyncio.run_coroutine_threadsafe(server.run(), self.loop))
        tools: list[Tool] = []
        for server in self.servers.values():
            self._wait_ready(server)
            if server.failure:
                self.failures.append(server.failure)
                continue
            tools.extend(self._tool(server, listed) for listed in server.listed)
        return tools

    def _wait_ready(self, server: _Server) -> None:
        async def ready() -> None:
            while server.ready is None:
                await asyncio.sleep(0.01)
            await server.ready.wait()

        try:
            asyncio.run_coroutine_threadsafe(ready(), self.loop).result(timeout=server.config.timeout or START_TIMEOUT)
        except FutureTimeout:
            server.failure = f"MCP server {server.name!r} did not start within {server.config.timeout or START_TIMEOUT:g} s"

    def _tool(self, server: _Server, listed: _Listed) -> Tool:
        def run(arguments: dict[str, Any]) -> str:
            text, error = self.call(server, listed.name, arguments)
            text = frame_body(redact(text, f"{server.name} {listed.name}").text)
            if error:
                raise ToolError(f"{server.name} says: {text}")
            return text

        schema = listed.schema if listed.schema.get("type") == "object" else {"type": "object", "properties": {}}
        description = f"[MCP server {server.name}] {listed.description}".strip()
        return Tool(tool_name(server.name, listed.name), description, schema, run, read_only=listed.read_only,
                    source=server.name)

    def call(self, server: _Server, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        done: Future[tuple[str, bool]] = Future()
        queue = server.calls
        if queue is None or server.failure:
            raise ToolError(f"MCP server {server.name!r} is not running")
        self.loop.call_soon_threadsafe(queue.put_nowait, (name, arguments, done))
        timeout = server.config.timeout or START_TIMEOUT
        try:
            return done.result(timeout=timeout)
        except FutureTimeout:
            raise ToolError(f"MCP server {server.name!r} did not answer within {timeout:g} s") from None

    def close(self) -> None:
        """Stop every server (their processes end with their sessions) and the loop."""
        if not self.thread.is_alive():
            self.devnull.close()
            return
        for server in self.servers.values():
            if server.calls is not None:
                self.loop.call_soon_threadsafe(server.calls.put_nowait, ("", {}, Future()))
        for task in self.tasks:
            try:
                task.result(timeout=10)
            except Exception:  # noqa: BLE001 - closing: a server that will not stop is left to the loop's end
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.devnull.close()
