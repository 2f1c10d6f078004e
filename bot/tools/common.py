"""What the tools share: time in the chat's zone, reading the model's arguments, and who may
remove what.

Who may remove what (``may_remove``), the one rule for the tools and the commands alike: a note
or a reminder is removed by whoever asked for it (``TurnJob.payer``) or by an admin of the chat
(``TurnJob.asker_is_admin``, known at admission); a note kept before notes had authors is the
admins'. ``bot.tools.notes.forget_notes`` and ``bot.tools.reminders.cancel_reminder`` apply it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ToolFailed

__all__ = [
    "WEEKDAYS",
    "local",
    "local_text",
    "may_remove",
    "one_line",
    "parse_local",
    "text_argument",
    "when",
    "zone",
]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def may_remove(owner: int | None, asker: int | None, *, admin: bool) -> bool:
    """Whether ``asker`` may forget a note or cancel a reminder that ``owner`` asked for: its
    owner, or an admin of the chat. Without a known owner (a note kept before notes had
    authors) only an admin may; an unknown asker only when an admin."""
    return admin or (owner is not None and owner == asker)


# -- time in the chat's zone ---------------------------------------------------------------------


def zone(name: str) -> dt.tzinfo | None:
    """The time zone ``name`` names, None when it names none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local(timestamp: float, tz: dt.tzinfo) -> dt.datetime:
    """Unix time ``timestamp`` in the zone ``tz``."""
    return dt.datetime.fromtimestamp(timestamp, tz)


def local_text(timestamp: float, tz: dt.tzinfo) -> str:
    """``timestamp`` in ``tz`` the way the model reads and writes times: ``YYYY-MM-DDTHH:MM``."""
    return local(timestamp, tz).strftime("%Y-%m-%dT%H:%M")


def when(timestamp: float, tz: dt.tzinfo, now: float) -> str:
    """``18:40`` today in ``tz``, else ``30.11 18:40`` (with the year when not this year): what
    the lines under an answer show."""
    moment, today = local(timestamp, tz), local(now, tz).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    if moment.year == today.year:
        return moment.strftime("%d.%m %H:%M")
    return moment.strftime("%d.%m.%Y %H:%M")


def parse_local(value: object, tz: dt.tzinfo) -> float:
    """A time the model gave, ``YYYY-MM-DDTHH:MM`` in ``tz``, as Unix time."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        if len(text) < len("YYYY-MM-DDTHH:MM"):
            raise ValueError(text)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ToolFailed(
            f"cannot read the time {str(value)[:40]!r}: give it as YYYY-MM-DDTHH:MM in the "
            "chat's time zone"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


# -- the model's arguments -----------------------------------------------------------------------


def text_argument(arguments: dict[str, Any], name: str) -> str:
    """The argument ``name``, a non-empty string (stripped); ``ToolFailed`` when it is not."""
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolFailed(f"{name} is missing: give it as a non-empty string")
    return value.strip()


def one_line(text: str) -> str:
    """``text`` on one line: what the lines under an answer show of it."""
    return " ".join(text.split())
