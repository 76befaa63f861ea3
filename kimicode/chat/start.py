"""Open a conversation from settings (a new session, or the one `--resume [ID]` names); switch its model.

The only place the chat core makes model clients: a face asks for a conversation or a model by
name and never builds a client itself.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from kimicode.chat.context import ContextPolicy
from kimicode.chat.conversation import Conversation, ToolSetup
from kimicode.chat.errors import ChatError
from kimicode.chat.repo_shelf import RepoPacker
from kimicode.chat.session import LoadedSession, SessionError, SessionFile, SessionStore, load_session
from kimicode.config import Settings
from kimicode.discovery import resolve_limits
from kimicode.engine.tool_loop import ToolPolicy
from kimicode.llm import ChatClient, Endpoint
from kimicode.locations import Locations, user_locations
from kimicode.models import ModelSpec, pace_line
from kimicode.repo.pack import PackOptions
from kimicode.tokens import TokenCounter
from kimicode.tools.base import Tool
from kimicode.tools.paths import RepoView


def open_conversation(
    settings: Settings,
    root: Path,
    *,
    resume: bool = False,
    session_id: str | None = None,
    use_repo: bool = True,
    policy: ContextPolicy | None = None,
    locations: Locations | None = None,
    summarizer_settings: Settings | None = None,
    use_memory: bool = True,
) -> Conversation:
    """A session for the repository at ``root``.

    ``resume`` with no ``session_id`` picks this repository's last session; a
    ``session_id`` (or a unique prefix of one) may name a session of any repository,
    whose own root then applies. ``summarizer_settings`` points compaction at another
    (cheaper) model or endpoint; by default the chat model summarizes. With ``use_memory``
    (and ``memory.enabled``), each request's memory shelf holds what memory knows that bears on
    the newest question, and what the session established is remembered when it compacts and ends.
    """
    from kimicode import calibration

    locations = locations or user_locations()
    store = SessionStore(locations.data_dir)
    spec, limits = resolve_limits(settings, locations.data_dir)  # the window the server reports or taught
    counter = TokenCounter(settings.pack.encoding, calibration.factor(locations.data_dir, settings.model))
    if resume or session_id:
        path = store.resolve(root, session_id)
        file = SessionFile.reopen(path)  # locks it and ends a half-written last line
        try:
            loaded = load_session(path)
        except SessionError:
            file.close()
            raise
        if loaded.meta.root and Path(loaded.meta.root).is_dir():
            root = Path(loaded.meta.root)
    else:
        file, meta = store.create(root, settings.model)
        loaded = LoadedSession(meta, file.path)
    client = ChatClient(Endpoint.from_settings(settings), spec)
    owned: tuple[ChatClient, ...] = (client,)
    summarizer = None
    if summarizer_settings is not None:
        summarizer = ChatClient(Endpoint.from_settings(summarizer_settings), resolve_limits(summarizer_settings, locations.data_dir)[0])
        owned += (summarizer,)
    policy = policy or ContextPolicy(reply_tokens=min(settings.ask.reply_tokens, spec.max_output))
    packer = None
    if use_repo:
        options = PackOptions.from_settings(settings.pack, counter)
        lean = settings.tools.enabled and settings.tools.context == "lean"  # lean needs the tools to read files
        packer = RepoPacker(root, dataclasses.replace(options, full_files=not lean), locations.cache_dir, counter)
    memory = None
    if use_memory and settings.memory.enabled:
        from kimicode.engine.memory import SessionMemory
        from kimicode.engine.memory_model import MemoryModel

        # [memory] rerank / expand: the chat's model orders each turn's notes and expands what is stored
        memory = SessionMemory(root, settings, locations.data_dir, counter.count,
                               MemoryModel.from_settings(settings, spec, counter.count))
    tools = None
    try:
        if settings.tools.enabled:
            pack = settings.pack
            view = RepoView(root, pack.include, pack.exclude, pack.max_file_bytes) if use_repo else None
            loop_policy = ToolPolicy(settings.tools.rounds, settings.tools.result_tokens, settings.tools.keep_rounds)
            tools = ToolSetup(loop_policy, view, *_mcp(settings, loaded), edit=settings.edits.chat)
    except BaseException:
        file.close()
        for c in owned:
            c.close()
        if memory is not None:
            memory.close()
        raise
    try:
        conversation = Conversation(file, loaded, client, counter, policy=policy, packer=packer, summarizer_client=summarizer,
                                    project_root=root, memory=memory, calibration_dir=locations.data_dir, owned=owned,
                                    tools=tools)
    except BaseException:
        file.close()
        for c in owned:
            c.close()
        if tools is not None and tools.close is not None:
            tools.close()
        raise
    conversation.warnings.extend(limits.notices)  # a guessed window, a template that drops the system message
    budget = conversation.budget
    paced = pace_line(spec, budget.plan.prompt_limit, budget.plan.reply, held="each request holds at most")
    if paced:  # a slow local model: what its time target gives up is said, as ask and review say it
        conversation.warnings.append(paced)
    if budget.plan.small:
        conversation.warnings.append(
            f"a small window ({budget.plan.window:,} tokens): the repository shelf holds ~{budget.repo_budget():,} tokens "
            f"(mostly outlines), answers at most {budget.plan.reply:,}, and older turns are compacted early")
    return conversation


def _mcp(settings: Settings, loaded: LoadedSession) -> tuple[tuple[Tool, ...], Callable[[], None] | None]:
    """The configured MCP servers' tools, and how to stop the servers; a server that fails is a warning."""
    if not settings.mcp.enabled or not settings.mcp.servers:
        return (), None
    from kimicode.tools.mcp import McpError, McpHub

    hub = McpHub(settings.mcp.servers)
    try:
        tools = tuple(hub.start())
    except McpError as exc:
        hub.close()
        raise ChatError(str(exc)) from None
    loaded.warnings.extend(hub.failures)
    return tools, hub.close


def switch_model(conversation: Conversation, settings: Settings, name: str) -> tuple[Settings, ModelSpec]:
    """/model NAME: the conversation answers with that model from the next turn on."""
    settings = dataclasses.replace(settings, model=name)
    spec = resolve_limits(settings, user_locations().data_dir)[0]
    conversation.use_client(ChatClient(Endpoint.from_settings(settings), spec), owned=True)
    memory = conversation.memory
    if memory is not None and memory.model is not None:  # memory's rerank and expansion ask the new model too
        from kimicode.engine.memory_model import MemoryModel

        old, memory.model = memory.model, MemoryModel.from_settings(settings, spec, conversation.counter.count)
        old.close()
    return settings, spec
