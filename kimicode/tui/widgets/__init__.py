"""Widgets of the kimicode TUI, one module per screen area."""
