"""The model's real limits: asked of the server, learned from its refusals, remembered per endpoint.

``resolve_limits(settings, data_dir)`` gives the ModelSpec a command should plan with and where
each figure came from; ``learn_window`` records the window a "request too long" answer named, ``learn_speed`` the pace of an answer.
"""

from kimicode.discovery.resolve import (
    LimitSources,
    learn_speed,
    learn_window,
    remember_template,
    resolve_limits,
    template_check,
)

__all__ = ["LimitSources", "learn_speed", "learn_window", "remember_template", "resolve_limits", "template_check"]
