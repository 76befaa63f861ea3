"""The conversation: user messages, streamed answers (Markdown), notices and command output."""

from __future__ import annotations

from typing import Any, Iterable

from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets.markdown import MarkdownStream

REASONING_TAIL = 400  # characters of the model's reasoning shown while it thinks
TOOL_SHOWN = 4_000  # characters of a tool's result shown when its line is opened


class UserMessage(Static):
    def __init__(self, text: str) -> None:
        super().__init__(Content(text), classes="user")
        self.text = text


class Notice(Static):
    """One line (or a few) from kimicode itself: info, warning, error, compaction."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Content(text), classes=f"notice -{kind}")
        self.text = text
        self.kind = kind


class ToolLine(Collapsible):
    """One tool call: a line (tool, arguments, size of the result, time) that opens onto the result."""

    def __init__(self, line: str, detail: str, result: str, *, error: bool = False) -> None:
        shown = result if len(result) <= TOOL_SHOWN else result[:TOOL_SHOWN] + f"\n[... {len(result) - TOOL_SHOWN:,} more characters]"
        super().__init__(Static(Content(shown), classes="tool-result"), title=f"{line} · {detail}", collapsed=True,
                         classes="tool -error" if error else "tool")
        self.line = line
        self.detail = detail


class CommandOutput(Markdown):
    def __init__(self, markdown: str) -> None:
        super().__init__(markdown, classes="output")
        self.text = markdown


class AssistantMessage(Vertical):
    """An answer: the reasoning (dim, while it streams) and the answer as Markdown."""

    def __init__(self, text: str = "", *, partial: bool = False) -> None:
        super().__init__(classes="assistant")
        self.text = text
        self.reasoning = ""
        self.partial = partial
        self._stream: MarkdownStream | None = None
        self._thinking = Static("", classes="reasoning")
        self._answer = Markdown(text, classes="answer")
        self._label = Static("", classes="partial-label")

    def compose(self) -> Iterable[Any]:
        yield self._thinking
        yield self._answer
        yield self._label

    def on_mount(self) -> None:
        self._thinking.display = False
        self._label.display = False
        if self.partial:
            self._mark_partial("partial answer")

    async def write(self, fragment: str) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self._answer)
            self._thinking.display = False
        self.text += fragment
        await self._stream.write(fragment)

    def think(self, fragment: str) -> None:
        self.reasoning += fragment
        if self._stream is None:
            tail = self.reasoning[-REASONING_TAIL:]
            self._thinking.update(Content("thinking... " + " ".join(tail.split())))
            self._thinking.display = True

    async def finish(self, *, partial: bool = False, label: str = "") -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self._thinking.display = False
        if not self.text and self.reasoning and not partial:
            await self._answer.update("*(no answer: the model only reasoned)*")
        if partial:
            self.partial = True
            self._mark_partial(label or "partial")

    def _mark_partial(self, label: str) -> None:
        self.add_class("-partial")
        empty = "" if self.text else " (no text had arrived)"
        self._label.update(Content(f"⏹ {label}{empty}"))
        self._label.display = True


class ChatView(VerticalScroll):
    """Scrolls with the conversation while it grows (until the user scrolls up)."""

    def on_mount(self) -> None:
        self.anchor()

    async def add(self, widget: Any) -> Any:
        await self.mount(widget)
        return widget

    async def add_user(self, text: str) -> UserMessage:
        return await self.add(UserMessage(text))

    async def add_notice(self, text: str, kind: str = "info") -> Notice:
        return await self.add(Notice(text, kind))

    async def add_output(self, markdown: str) -> CommandOutput:
        return await self.add(CommandOutput(markdown))

    async def start_answer(self) -> AssistantMessage:
        return await self.add(AssistantMessage())

    async def show_turns(self, turns: Iterable[Any]) -> None:
        """A resumed conversation, as recorded (compressed turns included: they stay on disk)."""
        widgets: list[Any] = []
        for turn in turns:
            if turn.role == "user":
                widgets.append(UserMessage(turn.text))
            elif turn.role == "assistant" and turn.tool_calls and not turn.text:
                continue  # an answer that only called tools: its calls follow, one line each
            elif turn.role == "assistant":
                widgets.append(AssistantMessage(turn.text, partial=turn.partial))
            elif turn.role == "tool":
                error = turn.text.startswith("error:")
                widgets.append(ToolLine(f"[{turn.id}] {turn.name}", "error" if error else f"{len(turn.text):,} characters", turn.text,
                                        error=error))
            elif turn.role == "file":
                widgets.append(Notice(f"attached {turn.name}", "info"))
            elif turn.role == "output":
                widgets.append(Notice(f"output of {turn.name or 'a tool'}", "info"))
            else:
                widgets.append(Notice(turn.text, "error" if turn.name == "error" else "info"))
        if widgets:
            await self.mount_all(widgets)
        self.scroll_end(animate=False)

    async def clear(self) -> None:
        await self.remove_children()
