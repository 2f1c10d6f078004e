"""The ``clock`` tool: the date, weekday and time in the chat's time zone.

The session instructions of a turn with it on open with the chat's local time already
(``ToolSpec.local_time``); ``get_current_time`` gives the exact time when the model needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.tools.common import WEEKDAYS, local
from bot.tools.spec import OBJECT, ToolSpec, function

if TYPE_CHECKING:
    from bot.tools.kit import TurnTools

__all__ = ["CLOCK"]


async def get_current_time(tools: TurnTools, arguments: dict[str, Any]) -> dict[str, Any]:
    now = local(tools.now(), tools.zone)
    return {
        "now": now.isoformat(timespec="seconds"),
        "weekday": WEEKDAYS[now.weekday()],
        "timezone": tools.timezone,
    }


CLOCK = ToolSpec(
    name="clock",
    declarations=(
        function(
            "get_current_time",
            "Get the current date, weekday and time in the chat's time zone. Call it when the "
            "user asks the time or date, or when you need today's date to work out a day such "
            "as 'next Friday'.",
            OBJECT,
        ),
    ),
    handlers={"get_current_time": get_current_time},
    instructions="- get_current_time gives the exact current time when you need it.",
    local_time=True,
    aliases=("time", "date", "datetime"),
)
