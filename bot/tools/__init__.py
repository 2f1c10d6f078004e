"""Tools the model may call during a turn: the clock, the chat's notes and reminders, web search.

Each tool is a module exporting a ``ToolSpec`` (``bot.tools.spec``), one row of the registry
(``bot.tools.registry``); ``ToolKit`` (built once from them) gives each turn its ``TurnTools``
(``bot.domain.ToolBox``)."""

from bot.tools.common import may_remove
from bot.tools.kit import ToolKit, TurnTools
from bot.tools.notes import NotesForgotten, forget_notes
from bot.tools.registry import TOOL_NAMES, TOOLS
from bot.tools.reminders import ReminderCancel, cancel_reminder
from bot.tools.search import SearchBackend
from bot.tools.spec import Source, ToolSpec

__all__ = [
    "TOOLS",
    "TOOL_NAMES",
    "NotesForgotten",
    "ReminderCancel",
    "SearchBackend",
    "Source",
    "ToolKit",
    "ToolSpec",
    "TurnTools",
    "cancel_reminder",
    "forget_notes",
    "may_remove",
]
