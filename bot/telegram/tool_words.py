"""How the tools' commands read what people type and show what is kept: tool names and their
aliases (the specs', ``bot.tools.TOOLS``), time zones and offsets, local times, reminder lines,
the commands' argument forms."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo, available_timezones

from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.reminders import Reminder
from bot.tools import TOOLS, ToolKit, ToolSpec

__all__ = [
    "CANCEL",
    "CLEAR",
    "FORGET",
    "RESET",
    "SWITCH",
    "echo",
    "local_time",
    "reminder_cancelled",
    "reminder_line",
    "resolve_tool",
    "tool_aliases",
    "tools_of",
    "utc_offset",
    "zone_named",
]

# Fixed offsets have IANA names with the sign reversed: UTC+3 is "Etc/GMT-3".
_OFFSET = re.compile(
    r"(?:utc|gmt)?\s*(?P<sign>[+\-−])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?"
)
MAX_OFFSET_HOURS = 14
# What a reply repeats of a user's argument, at most (an argument can be a message long).
ECHO_CHARS = 40

# The arguments of the commands' forms (see ``Args``).
SWITCH = r"(?P<tool>\S+)\s+(?P<state>on|off)"
CLEAR = r"clear"
RESET = r"reset|default"
CANCEL = r"cancel\s+#?(?P<reminder_id>\S+)"
FORGET = r"forget\s+#?(?P<note_id>\d+)"


def echo(text: str) -> str:
    """The user's argument, short enough to repeat in a reply."""
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"


def tool_aliases(specs: Iterable[ToolSpec] = TOOLS) -> dict[str, str]:
    """What people call the tools (``ToolSpec.aliases``), besides their names: alias → name."""
    return {alias: spec.name for spec in specs for alias in spec.aliases}


def resolve_tool(name: str, specs: Iterable[ToolSpec] = TOOLS) -> str | None:
    """The tool of ``specs`` that ``name`` (or one of its aliases) stands for, None when none."""
    specs = tuple(specs)
    name = name.strip().lower().replace("-", "_")
    name = tool_aliases(specs).get(name, name)
    return name if any(spec.name == name for spec in specs) else None


@functools.cache
def _zones() -> dict[str, str]:
    """Every IANA zone name, by its lower-case form."""
    return {name.lower(): name for name in available_timezones()}


def zone_named(text: str) -> str | None:
    """The IANA zone ``text`` names (any case), or the fixed-offset zone of "UTC+3", "GMT-5",
    "+03:00"; None when it names none (offsets must be whole hours, as IANA's are)."""
    text = text.strip().lower()
    if text in ("utc", "gmt", "z"):
        return "UTC"
    offset = _OFFSET.fullmatch(text)
    if offset is not None:
        hours = int(offset["hours"])
        if offset["minutes"] not in (None, "00") or hours > MAX_OFFSET_HOURS:
            return None
        if hours == 0:
            return "UTC"
        return _zones().get(f"etc/gmt{'-' if offset['sign'] == '+' else '+'}{hours}")
    return _zones().get(text)


def local_time(texts: Texts, at: float, zone: str) -> str:
    """``at`` in ``zone``, the way people read it: "Sun 30.11 18:40"."""
    moment = dt.datetime.fromtimestamp(at, ZoneInfo(zone))
    return f"{texts('weekday', day=moment.weekday())} {moment:%d.%m %H:%M}"


def utc_offset(at: float, zone: str) -> str:
    """The offset of ``zone`` at ``at``: "UTC+03:00"."""
    offset = dt.datetime.fromtimestamp(at, ZoneInfo(zone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def tools_of(tool_kit: ToolKit, chat_settings: ChatSettings) -> list[str]:
    """The tools on in this chat, in the deployment's order."""
    enabled = tool_kit.enabled_for(chat_settings)
    return [name for name in tool_kit.available() if name in enabled]


def reminder_line(texts: Texts, reminder: Reminder, zone: str) -> str:
    when = local_time(texts, reminder.due_at, zone)
    return texts("reminders-line", id=reminder.id, when=when, text=reminder.text)


def reminder_cancelled(
    texts: Texts, cancelled: Reminder | None, reminder_id: str, zone: str
) -> str:
    """What a /reminders cancel ID says: the reminder cancelled, or that none is waiting."""
    if cancelled is None:
        return texts("reminders-not-found", id=echo(reminder_id))
    return texts("reminders-cancelled", line=reminder_line(texts, cancelled, zone))
