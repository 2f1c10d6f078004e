"""The tools' commands anyone may use: /tools (which are on), /timezone, /notes and /notes forget
ID (of a note one asked for; admins: any), /reminders and /reminders cancel ID (of a reminder one
asked for).

Who may forget a note or cancel a reminder is ``bot.tools.kit.may_remove``, the rule the model's
tools follow too; whether the sender is an admin is the ``IsChatAdmin`` filter's to say.

The changes only admins may make (/tools NAME on|off, /timezone ZONE|reset, /notes clear,
/reminders clear, cancelling anyone's reminder) are in ``admin``, behind its ``IsChatAdmin``
filter; the same commands from anyone else end here and are refused. This router comes before
``commands``, whose last handler refuses every admin command it sees.
"""

from __future__ import annotations

import time

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.errors import NotAdmin
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettings
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.telegram.filters import Args, IsChatAdmin
from bot.telegram.media import sender_of
from bot.telegram.ports import tell
from bot.telegram.texts import split_text
from bot.telegram.tool_words import (
    CANCEL,
    CLEAR,
    FORGET,
    SWITCH,
    echo,
    local_time,
    reminder_cancelled,
    reminder_line,
    utc_offset,
)
from bot.tools.kit import ToolKit, cancel_reminder, forget_notes

__all__ = ["router"]


async def tell_long(bot: Bot, message: Message, text: str) -> None:
    """``tell``, in as many messages as Telegram needs (a list of notes can be long)."""
    for part in split_text(text):
        await tell(bot, message, part)


async def on_tools(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, tool_kit: ToolKit
) -> None:
    available = tool_kit.available()
    if not available:
        await tell(bot, message, texts("tools-none"))
        return
    enabled = tool_kit.enabled_for(chat_settings)
    lines = [texts("tools-title")]
    lines += [
        texts("tools-line", mark="✅" if name in enabled else "⛔", tool=name,
              description=texts(f"tool-{name}"))
        for name in available
    ]  # fmt: skip
    lines.append(texts("tools-how", example=available[-1]))
    await tell(bot, message, "\n".join(lines))


async def on_timezone(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, tool_kit: ToolKit
) -> None:
    zone = tool_kit.timezone_for(chat_settings)
    now = time.time()
    await tell(
        bot,
        message,
        texts(
            "timezone-show",
            zone=zone,
            offset=utc_offset(now, zone),
            time=local_time(texts, now, zone),
        ),
    )


async def on_notes(message: Message, bot: Bot, texts: Texts, notes: NotesStore) -> None:
    kept = await notes.list(message.chat.id)
    if not kept:
        await tell(bot, message, texts("notes-empty"))
        return
    lines = [texts("notes-title")]
    lines += [texts("notes-line", id=str(note.id), text=note.text) for note in kept]
    lines.append(texts("notes-how"))
    await tell_long(bot, message, "\n".join(lines))


async def forget_note(
    message: Message, note_id: str, bot: Bot, texts: Texts, notes: NotesStore, *, admin: bool
) -> None:
    done = await forget_notes(
        notes, message.chat.id, note_id, asker=sender_of(message), admin=admin
    )
    if done.forgotten:
        await tell(bot, message, texts("notes-forgotten", text=done.forgotten[0].text))
    elif done.not_yours:
        await tell(bot, message, texts("notes-not-yours", id=str(done.not_yours[0].id)))
    else:
        await tell(bot, message, texts("notes-not-found", id=echo(note_id)))


async def on_notes_forget_any(
    message: Message, note_id: str, bot: Bot, texts: Texts, notes: NotesStore
) -> None:
    # An admin (the ``IsChatAdmin`` filter said so): any note of the chat.
    await forget_note(message, note_id, bot, texts, notes, admin=True)


async def on_notes_forget(
    message: Message, note_id: str, bot: Bot, texts: Texts, notes: NotesStore
) -> None:
    # Anyone else: only the notes they asked for.
    await forget_note(message, note_id, bot, texts, notes, admin=False)


async def on_reminders(
    message: Message,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    reminders: ReminderStore,
    tool_kit: ToolKit,
) -> None:
    waiting = await reminders.list(message.chat.id)
    if not waiting:
        await tell(bot, message, texts("reminders-empty"))
        return
    zone = tool_kit.timezone_for(chat_settings)
    lines = [texts("reminders-title", zone=zone)]
    lines += [reminder_line(texts, reminder, zone) for reminder in waiting]
    lines.append(texts("reminders-how"))
    await tell_long(bot, message, "\n".join(lines))


async def on_reminders_cancel_own(
    message: Message,
    reminder_id: str,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    reminders: ReminderStore,
    tool_kit: ToolKit,
) -> None:
    # Not an admin (they are served by ``admin``): only the reminders they asked for.
    done = await cancel_reminder(
        reminders, message.chat.id, reminder_id, asker=sender_of(message), admin=False
    )
    if done.not_yours is not None:
        await tell(bot, message, texts("reminders-not-yours"))
        return
    zone = tool_kit.timezone_for(chat_settings)
    await tell(bot, message, reminder_cancelled(texts, done.cancelled, reminder_id, zone))


async def refuse(_: object) -> None:
    raise NotAdmin("not an admin of the chat")


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="tools")
    # A change only admins may make, from someone else: refused; anything else: what is now.
    r.message.register(refuse, Command("tools"), Args(SWITCH))
    r.message.register(on_tools, Command("tools"))
    r.message.register(refuse, Command("timezone"), Args(r".+"))
    r.message.register(on_timezone, Command("timezone"))
    r.message.register(refuse, Command("notes"), Args(CLEAR))
    # The admin check only for a note to forget: it may ask Telegram who the admins are.
    r.message.register(on_notes_forget_any, Command("notes"), Args(FORGET), IsChatAdmin())
    r.message.register(on_notes_forget, Command("notes"), Args(FORGET))
    r.message.register(on_notes, Command("notes"))
    r.message.register(refuse, Command("reminders"), Args(CLEAR))
    r.message.register(on_reminders_cancel_own, Command("reminders"), Args(CANCEL))
    r.message.register(on_reminders, Command("reminders"))
    return r
