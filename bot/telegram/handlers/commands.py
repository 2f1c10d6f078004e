"""Commands and the voice picker: /start /help /settings /voice /instructions /mode /reset."""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.realtime.providers import voices_for
from bot.storage.chat_settings import ChatSettings, ChatSettingsStore
from bot.storage.memory import ConversationMemory
from bot.telegram.i18n import Catalogue
from bot.telegram.permissions import Permissions
from bot.telegram.turns import tell

VOICE_CALLBACK = "voice:"
VOICES_PER_ROW = 3
INSTRUCTIONS_PREVIEW = 300


async def on_start(
    message: Message, bot: Bot, chat: ChatSettings, lang: str, catalogue: Catalogue
) -> None:
    await tell(bot, message, catalogue.get(lang, "start", voice=chat.voice))


async def on_help(
    message: Message, bot: Bot, chat: ChatSettings, lang: str, catalogue: Catalogue
) -> None:
    me = await bot.me()
    text = catalogue.get(lang, "help", voice=html.escape(chat.voice), bot=me.username or "bot")
    await tell(bot, message, text, html_text=True)


async def on_settings(
    message: Message, bot: Bot, chat: ChatSettings, lang: str, catalogue: Catalogue
) -> None:
    instructions = chat.instructions
    if len(instructions) > INSTRUCTIONS_PREVIEW:
        instructions = instructions[:INSTRUCTIONS_PREVIEW].rstrip() + "…"
    text = catalogue.get(
        lang,
        "settings",
        voice=html.escape(chat.voice),
        mode=catalogue.get(lang, f"mode-{chat.mode}"),
        instructions=html.escape(instructions),
    )
    await tell(bot, message, text, html_text=True)


async def _admin_or_refuse(
    message: Message, bot: Bot, permissions: Permissions, catalogue: Catalogue, lang: str
) -> bool:
    """True when the sender may change the chat's settings; otherwise says why and is False."""
    allowed = await permissions.can_configure(
        bot,
        chat_id=message.chat.id,
        chat_type=message.chat.type,
        user_id=message.from_user.id if message.from_user else None,
        sender_chat_id=message.sender_chat.id if message.sender_chat else None,
    )
    if not allowed:
        await tell(bot, message, catalogue.get(lang, "not-admin"))
    return allowed


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
    chat: ChatSettings,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
    settings: Settings,
) -> None:
    if not await _admin_or_refuse(message, bot, permissions, catalogue, lang):
        return
    voices = voices_for(settings.realtime_provider)
    name = (command.args or "").strip().lower()
    if not name:
        await bot.send_message(
            chat_id=message.chat.id,
            text=catalogue.get(lang, "voice-pick", voice=chat.voice),
            reply_markup=voice_keyboard(settings.realtime_provider, chat.voice),
            message_thread_id=message.message_thread_id if message.is_topic_message else None,
        )
        return
    if name not in voices:
        await tell(
            bot, message, catalogue.get(lang, "voice-unknown", voice=name, voices=", ".join(voices))
        )
        return
    await chat_settings.set(message.chat.id, voice=name)
    await tell(bot, message, catalogue.get(lang, "voice-set", voice=name))


async def on_voice_picked(
    query: CallbackQuery,
    bot: Bot,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
    settings: Settings,
) -> None:
    message = query.message
    name = (query.data or "")[len(VOICE_CALLBACK) :]
    if not isinstance(message, Message) or name not in voices_for(settings.realtime_provider):
        await query.answer()
        return
    allowed = await permissions.can_configure(
        bot,
        chat_id=message.chat.id,
        chat_type=message.chat.type,
        user_id=query.from_user.id,
        sender_chat_id=None,
    )
    if not allowed:
        await query.answer(catalogue.get(lang, "voice-only-admins"), show_alert=True)
        return
    await chat_settings.set(message.chat.id, voice=name)
    await query.answer(catalogue.get(lang, "voice-set", voice=name))
    await bot.edit_message_text(
        chat_id=message.chat.id,
        message_id=message.message_id,
        text=catalogue.get(lang, "voice-set", voice=name),
        reply_markup=voice_keyboard(settings.realtime_provider, name),
    )


async def on_instructions(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat: ChatSettings,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
    settings: Settings,
) -> None:
    limit = settings.max_instructions_chars
    text = (command.args or "").strip()
    reply = message.reply_to_message
    if not text and reply is not None:
        text = (reply.text or reply.caption or "").strip()
    if not text:
        await tell(
            bot,
            message,
            catalogue.get(lang, "instructions-show", instructions=chat.instructions, limit=limit),
        )
        return
    if not await _admin_or_refuse(message, bot, permissions, catalogue, lang):
        return
    if len(text) > limit:
        await tell(
            bot,
            message,
            catalogue.get(lang, "instructions-too-long", length=len(text), limit=limit),
        )
        return
    await chat_settings.set(message.chat.id, instructions=text)
    await tell(bot, message, catalogue.get(lang, "instructions-set"))


async def on_mode(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat: ChatSettings,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
) -> None:
    if message.chat.type == "private":
        await tell(bot, message, catalogue.get(lang, "mode-private"))
        return
    if not await _admin_or_refuse(message, bot, permissions, catalogue, lang):
        return
    mode = (command.args or "").strip().lower()
    if mode not in ("all", "replies"):
        current = catalogue.get(lang, f"mode-{chat.mode}")
        await tell(bot, message, catalogue.get(lang, "mode-usage", mode=current))
        return
    await chat_settings.set(message.chat.id, mode=mode)
    await tell(
        bot, message, catalogue.get(lang, "mode-set", mode=catalogue.get(lang, f"mode-{mode}"))
    )


async def on_reset(
    message: Message,
    bot: Bot,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
    memory: ConversationMemory,
) -> None:
    if not await _admin_or_refuse(message, bot, permissions, catalogue, lang):
        return
    await chat_settings.reset(message.chat.id)
    await memory.forget(message.chat.id)
    await tell(bot, message, catalogue.get(lang, "reset-done"))


async def on_forget(
    message: Message,
    bot: Bot,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    memory: ConversationMemory,
) -> None:
    if not await _admin_or_refuse(message, bot, permissions, catalogue, lang):
        return
    await memory.forget(message.chat.id)
    await tell(bot, message, catalogue.get(lang, "forget-done"))


async def _switch(
    message: Message,
    command: CommandObject,
    bot: Bot,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
    name: str,
    current: bool,
) -> None:
    """/memory and /transcript: ``on`` or ``off`` (admins), or show the state."""
    value = (command.args or "").strip().lower()
    if value not in ("on", "off"):
        state = catalogue.get(lang, "state-on" if current else "state-off")
        await tell(bot, message, catalogue.get(lang, f"{name}-usage", state=state))
        return
    if not await _admin_or_refuse(message, bot, permissions, catalogue, lang):
        return
    await chat_settings.set(message.chat.id, **{name: value})
    state = catalogue.get(lang, f"state-{value}")
    await tell(bot, message, catalogue.get(lang, f"{name}-set", state=state))


async def on_memory(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat: ChatSettings,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
    memory: ConversationMemory,
) -> None:
    await _switch(message, command, bot, lang, catalogue, permissions, chat_settings,
                  "memory", chat.memory)  # fmt: skip
    if (command.args or "").strip().lower() == "off":
        await memory.forget(message.chat.id)


async def on_transcript(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat: ChatSettings,
    lang: str,
    catalogue: Catalogue,
    permissions: Permissions,
    chat_settings: ChatSettingsStore,
) -> None:
    await _switch(message, command, bot, lang, catalogue, permissions, chat_settings,
                  "transcript", chat.shows_transcript(message.chat.type))  # fmt: skip


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="commands")
    r.message.register(on_start, CommandStart())
    r.message.register(on_help, Command("help"))
    r.message.register(on_settings, Command("settings"))
    r.message.register(on_voice, Command("voice"))
    r.callback_query.register(on_voice_picked, F.data.startswith(VOICE_CALLBACK))
    r.message.register(on_instructions, Command("instructions"))
    r.message.register(on_mode, Command("mode"))
    r.message.register(on_reset, Command("reset"))
    r.message.register(on_forget, Command("forget"))
    r.message.register(on_memory, Command("memory"))
    r.message.register(on_transcript, Command("transcript"))
    return r
