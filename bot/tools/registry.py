"""The registry: every tool a chat may switch on, one ``ToolSpec`` a row, in the order
``/tools`` lists them, the session declares them and its instructions tell of them.

Adding a tool is a module that exports its spec and a row here; ``TOOL_NAMES``, the session's
declarations and instructions, ``/tools`` and what people may call a tool follow from the rows.
``TOOLS_DISABLED`` is checked against the rows when the kit is built at start, and the tool's
words go into the locale files.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.errors import ConfigError
from bot.tools.clock import CLOCK
from bot.tools.notes import NOTES
from bot.tools.reminders import REMINDERS
from bot.tools.spec import ToolSpec
from bot.tools.web_search import WEB_SEARCH

__all__ = ["TOOLS", "TOOL_NAMES", "check_disabled", "tool_names"]

TOOLS: tuple[ToolSpec, ...] = (
    WEB_SEARCH,
    CLOCK,
    NOTES,
    REMINDERS,
)


def tool_names(specs: Iterable[ToolSpec]) -> tuple[str, ...]:
    """The names of ``specs``, in their order."""
    return tuple(spec.name for spec in specs)


TOOL_NAMES = tool_names(TOOLS)
"""The tools a chat can switch on and off, each a group of functions."""


def check_disabled(disabled: Iterable[str], specs: Iterable[ToolSpec]) -> None:
    """Raise ``ConfigError`` when ``TOOLS_DISABLED`` names a tool none of ``specs`` is."""
    names = tool_names(specs)
    unknown = set(disabled) - set(names)
    if unknown:
        raise ConfigError(
            f"TOOLS_DISABLED: unknown tools {', '.join(sorted(unknown))}; known: {', '.join(names)}"
        )
