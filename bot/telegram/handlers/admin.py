"""Settings commands of the chat's admins: /voice (and its keyboard), /instructions TEXT, /mode,
/reset, /forget, /memory on|off, /transcript on|off, /live on|off, and the tools' changes:
/tools NAME on|off, /timezone ZONE|reset, /notes clear, /reminders cancel ID|clear.

The router carries the admin check (``IsChatAdmin``) for all of them, then, in groups, Telegram's
word that the sender is an admin still (``StillAdmin``, getChatMember: the admin list may be
minutes old); a non-admin's command falls through to ``tools`` or ``commands``, which refuse it.
"""

from __future__ import annotations

import logging
import time

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.i18n import Texts
from bot.realtime.providers import voices_for
from bot.storage.admins import AdminCache
from bot.storage.chat_settings import TOOL_FIELD, ChatSettings, ChatSettingsStore
from bot.storage.memory import ConversationMemory
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.telegram.filters import Args, InstructionsGiven, IsChatAdmin, Switch
from bot.telegram.handlers.membership import ADMIN_STATUSES
from bot.telegram.permissions import Permissions
from bot.telegram.ports import tell, thread_of
from bot.telegram.tool_words import (
    CANCEL,
    CLEAR,
    RESET,
    SWITCH,
    echo,
    local_time,
    reminder_cancelled,
    resolve_tool,
    zone_named,
)
from bot.tools.kit import ToolKit

__all__ = ["ADMIN_COMMANDS", "VOICE_CALLBACK", "StillAdmin", "router"]

log = logging.getLogger(__name__)

ADMIN_COMMANDS = (
    "voice", "instructions", "mode", "reset", "forget", "memory", "transcript", "live",
    "tools", "timezone", "notes", "reminders",
)  # fmt: skip
VOICE_CALLBACK = "voice:"
VOICES_PER_ROW = 3


class StillAdmin(Filter):
    """In a group, Telegram confirms now (getChatMember) that the sender is an admin: the list
    ``IsChatAdmin`` read may be minutes old, and one who was demoted since must change nothing.
    A demotion found here drops the chat's cached list. Private chats, the owners and anonymous
    admins (the group itself) need no list and are not asked about. When Telegram cannot say,
    the change is refused (and logged)."""

    async def __call__(
        self,
        event: Message | CallbackQuery,
        bot: Bot,
        permissions: Permissions,
        admin_cache: AdminCache,
    ) -> bool:
        user_id: int | None
        sender_chat_id: int | None = None
        if isinstance(event, CallbackQuery):
            if not isinstance(event.message, Message):
                return False
            chat, user_id = event.message.chat, event.from_user.id
        else:
            chat = event.chat
            user_id = event.from_user.id if event.from_user else None
            sender_chat_id = event.sender_chat.id if event.sender_chat else None
        if chat.type == "private" or user_id in permissions.owners or sender_chat_id == chat.id:
            return True
        if user_id is None:
            return False
        try:
            member = await bot.get_chat_member(chat.id, user_id)
        except TelegramAPIError as exc:
            log.warning("chat %s: cannot confirm that user %s is an admin (%s); change refused",
                        chat.id, user_id, exc)  # fmt: skip
            return False
        if member.status in ADMIN_STATUSES:
            return True
        log.info("chat %s: user %s is no longer an admin (%s); change refused",
                 chat.id, user_id, member.status)  # fmt: skip
        await admin_cache.forget(chat.id)
        return False


def voice_keyboard(provider: str, current: str) -> InlineKeyboardMarkup:
    """The provider's voices, the current one marked."""
    buttons = []
    for name, (language, gender) in voices_for(provider).items():
        details = ", ".join(x for x in (language, gender) if x)
        label = f"{name} ({details})" if details else name
        if name == current:
            label = f"✓ {label}"
        buttons.append(InlineKeyboardButton(text=label, callback_data=VOICE_CALLBACK + name))
    rows = [buttons[i : i + VOICES_PER_ROW] for i in range(0, len(buttons), VOICES_PER_ROW)]
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def on_voice(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    provider = settings.realtime_provider
    name = (command.args or "").strip().lower()
    if not name:
        await bot.send_message(
            chat_id=message.chat.id,
            text=texts("voice-pick", voice=chat_settings.voice),
            reply_markup=voice_keyboard(provider, chat_settings.voice),
            message_thread_id=thread_of(message),
        )
    elif name not in voices_for(provider):
        voices = ", ".join(voices_for(provider))
        await tell(bot, message, texts("voice-unknown", voice=name, voices=voices))
    else:
        await settings_store.set(message.chat.id, voice=name)
        await tell(bot, message, texts("voice-set", voice=name))


async def on_voice_picked(
    query: CallbackQuery,
    bot: Bot,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    message = query.message
    name = (query.data or "")[len(VOICE_CALLBACK) :]
    if not isinstance(message, Message) or name not in voices_for(settings.realtime_provider):
        await query.answer()
        return
    await settings_store.set(message.chat.id, voice=name)
    await query.answer(texts("voice-set", voice=name))
    await bot.edit_message_text(
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=texts("voice-set", voice=name),
        reply_markup=voice_keyboard(settings.realtime_provider, name),
    )


async def on_instructions(
    message: Message,
    text: str,
    bot: Bot,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    limit = settings.max_instructions_chars
    if len(text) > limit:
        await tell(bot, message, texts("instructions-too-long", length=len(text), limit=limit))
        return
    await settings_store.set(message.chat.id, instructions=text)
    await tell(bot, message, texts("instructions-set"))


async def on_mode(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings_store: ChatSettingsStore,
) -> None:
    mode = (command.args or "").strip().lower()
    if message.chat.type == "private":
        await tell(bot, message, texts("mode-private"))
    elif mode not in ("all", "replies"):
        await tell(bot, message, texts("mode-usage", mode=texts(f"mode-{chat_settings.mode}")))
    else:
        await settings_store.set(message.chat.id, mode=mode)
        await tell(bot, message, texts("mode-set", mode=texts(f"mode-{mode}")))


async def on_reset(
    message: Message,
    bot: Bot,
    texts: Texts,
    settings_store: ChatSettingsStore,
    memory: ConversationMemory,
) -> None:
    await settings_store.reset(message.chat.id)
    await memory.forget(message.chat.id)
    await tell(bot, message, texts("reset-done"))


async def on_forget(message: Message, bot: Bot, texts: Texts, memory: ConversationMemory) -> None:
    await memory.forget(message.chat.id)
    await tell(bot, message, texts("forget-done"))


async def on_memory(
    message: Message,
    state: str,
    bot: Bot,
    texts: Texts,
    settings_store: ChatSettingsStore,
    memory: ConversationMemory,
) -> None:
    await settings_store.set(message.chat.id, memory=state)
    if state == "off":
        await memory.forget(message.chat.id)
    await tell(bot, message, texts("memory-set", state=texts(f"state-{state}")))


async def on_transcript(
    message: Message, state: str, bot: Bot, texts: Texts, settings_store: ChatSettingsStore
) -> None:
    await settings_store.set(message.chat.id, transcript=state)
    await tell(bot, message, texts("transcript-set", state=texts(f"state-{state}")))


async def on_live(
    message: Message, state: str, bot: Bot, texts: Texts, settings_store: ChatSettingsStore
) -> None:
    await settings_store.set(message.chat.id, live=state)
    await tell(bot, message, texts("live-set", state=texts(f"state-{state}")))


async def on_tool_switch(
    message: Message,
    tool: str,
    state: str,
    bot: Bot,
    texts: Texts,
    settings_store: ChatSettingsStore,
    tool_kit: ToolKit,
) -> None:
    name = resolve_tool(tool)
    available = tool_kit.available()
    if name is None or name not in available:
        key = "tools-unknown" if name is None else "tools-unavailable"
        await tell(bot, message, texts(key, tool=echo(tool), tools=", ".join(available) or "—"))
        return
    state = state.lower()
    await settings_store.set(message.chat.id, **{f"{TOOL_FIELD}{name}": state})
    await tell(bot, message, texts(f"tools-set-{state}", tool=name))


async def on_timezone_reset(
    message: Message, bot: Bot, texts: Texts, settings_store: ChatSettingsStore, settings: Settings
) -> None:
    # An empty value reads as unset: the chat follows the bot's default again.
    await settings_store.set(message.chat.id, timezone="")
    zone = settings.default_timezone
    await tell(
        bot, message, texts("timezone-reset", zone=zone, time=local_time(texts, time.time(), zone))
    )


async def on_timezone_set(
    message: Message, zone: str, bot: Bot, texts: Texts, settings_store: ChatSettingsStore
) -> None:
    name = zone_named(zone)
    if name is None:
        await tell(bot, message, texts("timezone-unknown", zone=echo(zone)))
        return
    await settings_store.set(message.chat.id, timezone=name)
    await tell(
        bot, message, texts("timezone-set", zone=name, time=local_time(texts, time.time(), name))
    )


async def on_notes_clear(message: Message, bot: Bot, texts: Texts, notes: NotesStore) -> None:
    count = await notes.clear(message.chat.id)
    await tell(bot, message, texts("notes-cleared", count=count))


async def on_reminder_cancel(
    message: Message,
    reminder_id: str,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    reminders: ReminderStore,
    tool_kit: ToolKit,
) -> None:
    cancelled = await reminders.cancel(message.chat.id, reminder_id)
    zone = tool_kit.timezone_for(chat_settings)
    await tell(bot, message, reminder_cancelled(texts, cancelled, reminder_id, zone))


async def on_reminders_clear(
    message: Message, bot: Bot, texts: Texts, reminders: ReminderStore
) -> None:
    count = await reminders.clear(message.chat.id)
    await tell(bot, message, texts("reminders-cleared", count=count))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="admin")
    # The command filter first: other messages never pay for the admin check.
    r.message.filter(Command(*ADMIN_COMMANDS), IsChatAdmin(), StillAdmin())
    r.callback_query.filter(F.data.startswith(VOICE_CALLBACK), IsChatAdmin(), StillAdmin())
    r.message.register(on_voice, Command("voice"))
    r.callback_query.register(on_voice_picked)
    r.message.register(on_instructions, Command("instructions"), InstructionsGiven())
    r.message.register(on_mode, Command("mode"))
    r.message.register(on_reset, Command("reset"))
    r.message.register(on_forget, Command("forget"))
    r.message.register(on_memory, Command("memory"), Switch())
    r.message.register(on_transcript, Command("transcript"), Switch())
    r.message.register(on_live, Command("live"), Switch())
    # The tools' commands without a change to make (listing, /notes forget ID, a bad form) go
    # on to the ``tools`` router.
    r.message.register(on_tool_switch, Command("tools"), Args(SWITCH))
    r.message.register(on_timezone_reset, Command("timezone"), Args(RESET))
    r.message.register(on_timezone_set, Command("timezone"), Args(r"(?P<zone>.+)"))
    r.message.register(on_notes_clear, Command("notes"), Args(CLEAR))
    r.message.register(on_reminder_cancel, Command("reminders"), Args(CANCEL))
    r.message.register(on_reminders_clear, Command("reminders"), Args(CLEAR))
    return r
