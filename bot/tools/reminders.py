"""The ``reminders`` tool: at a time the chat's people choose, the bot speaks a reminder.

``set_reminder(text, at | in_minutes)``, ``list_reminders()``, ``cancel_reminder(id)``. Times
are the chat's local times (``YYYY-MM-DDTHH:MM``); the reminder keeps the turn's job, so it is
delivered as a reply to the message that asked for it (``ReminderStore``).

Bounds: at most ``reminders_per_turn`` reminders set in one turn, and ``reminders_per_user_day``
a person sets a day (``ToolQuota``; 0: no daily cap); ``ToolKit.charge`` says what setting one
costs the turn's payer. ``cancel_reminder`` is the one way a reminder is cancelled, by the model
and by ``/reminders cancel`` alike (``may_remove``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import LimitReached, ToolFailed
from bot.storage.reminders import Reminder, ReminderStore
from bot.tools.common import (
    WEEKDAYS,
    local,
    local_text,
    may_remove,
    one_line,
    parse_local,
    text_argument,
    when,
)
from bot.tools.spec import OBJECT, ToolSpec, function, schema

if TYPE_CHECKING:
    from bot.tools.kit import TurnTools

__all__ = ["REMINDERS", "ReminderCancel", "cancel_reminder"]

REMINDERS_PER_TURN = 3
REMINDERS_PER_USER_DAY = 20
_SLOT = "reminders"  # of the turn's slots (``TurnTools.take``) and the person's day (``ToolQuota``)


@dataclass(frozen=True)
class ReminderCancel:
    """What a request to cancel a reminder did: ``cancelled``, or the waiting reminder it named
    that is someone else's (``not_yours``: still waiting); both None when none is waiting."""

    cancelled: Reminder | None = None
    not_yours: Reminder | None = None


async def cancel_reminder(
    store: ReminderStore, chat_id: int, wanted: str, *, asker: int | None, admin: bool
) -> ReminderCancel:
    """Cancel the chat's waiting reminder ``wanted`` ("3", "#3") if ``asker`` may
    (``may_remove``: whoever asked for it, ``Reminder.job.payer``, or an admin)."""
    number = reminder_number(wanted)
    found = next((r for r in await store.list(chat_id) if r.id == number), None)
    if found is None:
        return ReminderCancel()
    if not may_remove(found.job.payer, asker, admin=admin):
        return ReminderCancel(not_yours=found)
    # Ids are never given twice in a chat: this cancels the reminder just read, or nothing.
    return ReminderCancel(cancelled=await store.cancel(chat_id, found.id))


def reminder_number(wanted: str) -> str:
    """A reminder's id as given ("3", "#3", "r3", " 03 ") in the form ids are kept ("3")."""
    text = wanted.strip().lstrip("#").strip()
    if text[:1] in ("r", "R"):
        text = text[1:].strip()
    return str(int(text)) if text.isdigit() and len(text) <= 12 else text


def minutes_argument(value: object) -> float:
    """``in_minutes`` as the model gave it: a positive number of minutes."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        minutes = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ToolFailed("in_minutes must be a number of minutes") from None
    if not math.isfinite(minutes) or minutes <= 0:
        raise ToolFailed("in_minutes must be a positive number of minutes")
    return minutes


def _reminder_json(tools: TurnTools, reminder: Reminder) -> dict[str, Any]:
    due = local(reminder.due_at, tools.zone)
    return {
        "id": reminder.id,
        "text": reminder.text,
        "due": due.strftime("%Y-%m-%dT%H:%M"),
        "weekday": WEEKDAYS[due.weekday()],
    }


# -- the functions -------------------------------------------------------------------------------


async def set_reminder(tools: TurnTools, arguments: dict[str, Any]) -> dict[str, Any]:
    text = text_argument(arguments, "text")
    at, minutes = arguments.get("at"), arguments.get("in_minutes")
    at = None if at in (None, "") else at
    minutes = None if minutes in (None, "") else minutes
    if (at is None) == (minutes is None):
        raise ToolFailed(
            "give exactly one of at (local time, YYYY-MM-DDTHH:MM) or in_minutes (a number)"
        )
    now = tools.now()
    zone = tools.zone
    due_at = parse_local(at, zone) if at is not None else now + minutes_argument(minutes) * 60
    if not math.isfinite(due_at):
        raise LimitReached("that is too far ahead for a reminder")
    if due_at <= now:
        raise ToolFailed(
            f"{local_text(due_at, zone)} has already passed: it is now "
            f"{local_text(now, zone)} in {tools.timezone}; choose a later time"
        )
    per_turn = tools.limit("reminders_per_turn")
    if not tools.take(_SLOT, per_turn):
        raise LimitReached(
            f"at most {per_turn} reminders can be set in one request; this one "
            "was not set: tell the user which were set and to ask for the rest later"
        )
    try:
        reminder = await _add_reminder(tools, text, due_at, now)
    except ToolFailed:
        tools.give_back(_SLOT)  # refused: it set nothing
        raise
    shown = when(reminder.due_at, zone, tools.now())
    tools.actions.append(f"⏰ {shown} — {one_line(reminder.text)}")
    return {"set": True, **_reminder_json(tools, reminder)}


async def _add_reminder(tools: TurnTools, text: str, due_at: float, now: float) -> Reminder:
    """The reminder set, charged as ``ToolKit.charge`` says, within the person's daily cap
    (a slot taken first, given back when the reminder is refused)."""
    kit, job = tools.kit, tools.job
    limit = tools.limit("reminders_per_user_day")
    quota = kit.quota if limit > 0 else None
    person = job.payer if job.payer is not None else job.chat_id
    if quota is not None and await quota.take(person, _SLOT, limit, now=now) is None:
        raise LimitReached(
            f"this person has set {limit} reminders today, the most one person may set in a "
            "day; it was not set: they can ask again tomorrow"
        )
    charge = kit.charge(job) if kit.charge is not None else None
    try:
        return await kit.reminders.add(job, text, due_at, now=now, charge=charge)
    except ToolFailed:
        if quota is not None:
            await quota.give_back(person, _SLOT, now=now)
        raise


async def list_reminders(tools: TurnTools, arguments: dict[str, Any]) -> dict[str, Any]:
    reminders = await tools.kit.reminders.list(tools.job.chat_id)
    return {
        "reminders": [_reminder_json(tools, r) for r in reminders],
        "timezone": tools.timezone,
    }


async def cancel_reminder_call(tools: TurnTools, arguments: dict[str, Any]) -> dict[str, Any]:
    wanted = arguments.get("id")
    if isinstance(wanted, bool) or not isinstance(wanted, str | int) or str(wanted) == "":
        raise ToolFailed("give the id of the reminder to cancel, as list_reminders shows it")
    job = tools.job
    done = await cancel_reminder(
        tools.kit.reminders, job.chat_id, str(wanted), asker=job.payer, admin=job.asker_is_admin
    )
    if done.not_yours is not None:
        raise ToolFailed(
            f"reminder {done.not_yours.id} was asked for by someone else: only they or an "
            "admin of the chat can cancel it"
        )
    if done.cancelled is None:
        raise ToolFailed(
            f"this chat has no waiting reminder with id {str(wanted)[:20]!r}; "
            "list_reminders shows the ids"
        )
    tools.actions.append(f"❌⏰ {one_line(done.cancelled.text)}")
    return {"cancelled": True, **_reminder_json(tools, done.cancelled)}


REMINDERS = ToolSpec(
    name="reminders",
    declarations=(
        function(
            "set_reminder",
            "Set a reminder: at the given time the bot sends this chat a voice message "
            "reminding of the text. Give exactly one of 'at' (a local date and time in the "
            "chat's time zone) or 'in_minutes' (minutes from now). Use it when the user asks "
            "to be reminded later.",
            schema(
                ["text"],
                text={
                    "type": "string",
                    "description": "What to remind of, a short phrase in the user's language, "
                    "for example 'call mum'.",
                },
                at={
                    "type": "string",
                    "description": "Local date and time in the chat's time zone, "
                    "YYYY-MM-DDTHH:MM (for example 2026-11-30T18:40).",
                },
                in_minutes={
                    "type": "number",
                    "description": "Minutes from now (for example 30 for 'in half an hour').",
                },
            ),
        ),
        function(
            "list_reminders",
            "List this chat's waiting reminders with their ids and local times.",
            OBJECT,
        ),
        function(
            "cancel_reminder",
            "Cancel one of this chat's waiting reminders by its id, as list_reminders gives it.",
            schema(["id"], id={"type": "string", "description": "The reminder's id."}),
        ),
    ),
    handlers={
        "set_reminder": set_reminder,
        "list_reminders": list_reminders,
        "cancel_reminder": cancel_reminder_call,
    },
    instructions=(
        "- set_reminder when asked to remind of something later, with a local time (at) or "
        "minutes from now (in_minutes); say the time back. list_reminders and cancel_reminder "
        "manage them."
    ),
    local_time=True,
    words=(
        "reminders-title",
        "reminders-line",
        "reminders-how",
        "reminders-empty",
        "reminders-not-found",
        "reminders-not-yours",
        "reminders-cancelled",
        "reminders-cleared",
    ),
    aliases=("reminder",),
    limits={
        "reminders_per_turn": REMINDERS_PER_TURN,
        "reminders_per_user_day": REMINDERS_PER_USER_DAY,
    },
)
