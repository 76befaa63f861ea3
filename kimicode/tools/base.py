"""What a tool is: a name, a JSON schema, a function from arguments to text, and whether it only reads.

A tool that changes anything (``read_only=False``: edits, commands) runs only after the
user's approval: the ``Toolbox`` asks its ``approve`` callback first and tells the model
when the user declined. Read-only tools run at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping


class ToolError(Exception):
    """The call cannot be served; the message (one line) is what the model reads."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any]  # JSON schema of the arguments object
    run: Callable[[dict[str, Any]], str]
    read_only: bool = True  # False: the user approves every call first
    # how to get the rest when the result is cut short: (arguments, the text kept) -> a hint
    rest: Callable[[dict[str, Any], str], str] | None = None
    source: str = "kimicode"  # kimicode, or the MCP server that serves it

    def spec(self) -> dict[str, Any]:
        """The OpenAI tools-API entry."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": dict(self.parameters)}}


def schema(required: Iterable[str] = (), **properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "required": list(required)}


@dataclass(frozen=True)
class Outcome:
    """What one call gave: the text for the model, and whether it is an error."""

    text: str
    error: bool = False


Approve = Callable[[Tool, dict[str, Any]], bool]


@dataclass
class Toolbox:
    """The tools one answer may call, by name."""

    tools: dict[str, Tool] = field(default_factory=dict)
    approve: Approve | None = None  # asked before a tool that is not read-only; None: such calls are declined

    @classmethod
    def of(cls, *groups: Iterable[Tool], approve: Approve | None = None) -> Toolbox:
        box = cls(approve=approve)
        for group in groups:
            for tool in group:
                box.add(tool)
        return box

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"two tools are called {tool.name!r}")
        self.tools[tool.name] = tool

    def __bool__(self) -> bool:
        return bool(self.tools)

    def read_only(self, name: str) -> bool:
        """Whether a call of ``name`` runs without the user's approval (an unknown name only fails)."""
        tool = self.tools.get(name)
        return tool is None or tool.read_only

    def specs(self) -> list[dict[str, Any]]:
        return [self.tools[name].spec() for name in sorted(self.tools)]

    def arguments(self, name: str, text: str) -> dict[str, Any]:
        try:
            value = json.loads(text or "{}")
        except ValueError:
            raise ToolError(f"the arguments of {name} are not valid JSON") from None
        if not isinstance(value, dict):
            raise ToolError(f"the arguments of {name} must be a JSON object")
        return value

    def call(self, name: str, text: str) -> Outcome:
        """Run one call; every failure becomes an error the model reads, never an exception."""
        tool = self.tools.get(name)
        if tool is None:
            return Outcome(f"error: there is no tool {name!r}; the tools are: {', '.join(sorted(self.tools))}", True)
        try:
            arguments = self.arguments(name, text)
            if not tool.read_only and (self.approve is None or not self.approve(tool, arguments)):
                return Outcome(f"error: the user declined this call of {name}", True)
            return Outcome(tool.run(arguments))
        except ToolError as exc:
            return Outcome(f"error: {exc}", True)
        except Exception as exc:  # noqa: BLE001 - a tool's bug must not end the answer: the model reads it
            return Outcome(f"error: {name} failed: {type(exc).__name__}: {exc}", True)


def text_arg(arguments: Mapping[str, Any], name: str, *, required: bool = True, default: str = "") -> str:
    value = arguments.get(name, None)
    if value is None:
        if required:
            raise ToolError(f"missing argument {name!r}")
        return default
    if not isinstance(value, str):
        raise ToolError(f"argument {name!r} must be a string")
    return value


def int_arg(arguments: Mapping[str, Any], name: str) -> int | None:
    value = arguments.get(name, None)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ToolError(f"argument {name!r} must be a whole number")
    try:
        return int(value)
    except ValueError:
        raise ToolError(f"argument {name!r} must be a whole number") from None


def int_list(arguments: Mapping[str, Any], name: str) -> list[int]:
    value = arguments.get(name, None)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ToolError(f"argument {name!r} must be a list of ids")
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise ToolError(f"argument {name!r} must be a list of whole-number ids") from None
