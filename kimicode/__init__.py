"""kimicode: a terminal coding assistant for long-context OpenAI-compatible models."""

__version__ = "0.1.0"
