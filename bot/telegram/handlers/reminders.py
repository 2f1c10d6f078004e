"""The chat's reminders: /reminders lists those waiting (anyone), /reminders cancel ID cancels
one (one's own, or any for an admin: ``bot.tools.kit.may_remove``, the rule the model's tools
follow too), /reminders clear cancels them all (admins)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import Message

from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.reminders import ReminderStore
from bot.telegram.filters import Args
from bot.telegram.handlers.common import command, register_change, tell_long
from bot.telegram.media import sender_of
from bot.telegram.permissions import Permissions
from bot.telegram.ports import tell
from bot.telegram.tool_words import CANCEL, CLEAR, reminder_cancelled, reminder_line
from bot.tools import ToolKit, cancel_reminder

__all__ = ["router"]


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


async def on_reminder_cancel(
    message: Message,
    reminder_id: str,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    reminders: ReminderStore,
    tool_kit: ToolKit,
    permissions: Permissions,
) -> None:
    # Asked only here, for a reminder to cancel: it may ask Telegram who the admins are.
    admin = await permissions.may_change(bot, message)
    done = await cancel_reminder(
        reminders, message.chat.id, reminder_id, asker=sender_of(message), admin=admin
    )
    if done.not_yours is not None:
        await tell(bot, message, texts("reminders-not-yours"))
        return
    zone = tool_kit.timezone_for(chat_settings)
    await tell(bot, message, reminder_cancelled(texts, done.cancelled, reminder_id, zone))


async def on_reminders_clear(
    message: Message, bot: Bot, texts: Texts, reminders: ReminderStore
) -> None:
    count = await reminders.clear(message.chat.id)
    await tell(bot, message, texts("reminders-cleared", count=count))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="reminders")
    register_change(r, on_reminders_clear, "reminders", Args(CLEAR))
    r.message.register(on_reminder_cancel, command("reminders"), Args(CANCEL))
    r.message.register(on_reminders, command("reminders"))
    return r
