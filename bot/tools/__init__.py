"""Tools the model may call during a turn: the clock, the chat's notes and reminders, web search.

``ToolKit`` (built once) gives each turn its ``TurnTools`` (``bot.domain.ToolBox``)."""

from bot.tools.kit import SearchBackend, Source, ToolKit, TurnTools

__all__ = ["SearchBackend", "Source", "ToolKit", "TurnTools"]
