"""Tools the model calls during an answer: what they are (base), the repository's (repo),
the context tools over a conversation's outputs (context) and MCP servers' (mcp).

The tool loop that runs them is the engine's (kimicode.engine.tool_loop); a tool only turns
arguments into text, or refuses with a ``ToolError`` the model reads.
"""
