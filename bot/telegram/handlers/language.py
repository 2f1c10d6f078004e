"""The language the model listens for (admins): ``/language`` shows a keyboard of the
languages the provider takes and "auto"; ``/language TAG`` (``kk-KZ``) or ``/language auto``
sets it; a tap on the keyboard sets it too, and is refused to anyone else. A fixed language is
sent as the provider expects it (Yandex: ``audio.input.languages``; OpenAI: the transcription's
ISO-639-1 language) and is also the language a chat's voice follows."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.provider_profiles import PROFILES
from bot.storage.chat_settings import ChatSettingsStore
from bot.telegram.filters import IsChatAdmin, StillAdmin
from bot.telegram.handlers.common import edit_view, refuse, register_change, send_view
from bot.telegram.ports import tell

__all__ = ["LANGUAGE_CALLBACK", "language_view", "router"]

log = logging.getLogger(__name__)

LANGUAGE_CALLBACK = "lang:"
PER_ROW = 3
AUTO = "auto"


def choices(settings: Settings) -> tuple[str, ...]:
    """ "auto" and the tags the provider takes."""
    return (AUTO, *PROFILES[settings.realtime_provider].input_languages)


def language_view(
    texts: Texts, settings: Settings, chat: ChatSettings
) -> tuple[str, InlineKeyboardMarkup]:
    """The languages to listen for, the chat's marked."""
    current = str(chat.value("language"))
    buttons = []
    for tag in choices(settings):
        label = texts(f"language-{tag}")
        label = f"✓ {label}" if tag == current else label
        buttons.append(InlineKeyboardButton(text=label, callback_data=LANGUAGE_CALLBACK + tag))
    rows = [buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)]
    text = texts("language-pick", language=texts(f"language-{current}"))
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def on_language(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    wanted = (command.args or "").strip()
    tags = {tag.lower(): tag for tag in choices(settings)}
    if not wanted:
        await send_view(bot, message, language_view(texts, settings, chat_settings))
    elif wanted.lower() not in tags:
        known = ", ".join(choices(settings))
        await tell(bot, message, texts("language-unknown", language=wanted, languages=known))
    else:
        tag = tags[wanted.lower()]
        await settings_store.set(message.chat.id, language=tag)
        await tell(bot, message, texts("language-set", language=texts(f"language-{tag}")))


async def on_language_picked(
    query: CallbackQuery,
    bot: Bot,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    message = query.message
    tag = (query.data or "")[len(LANGUAGE_CALLBACK) :]
    if not isinstance(message, Message) or tag not in choices(settings):
        await query.answer(texts("settings-menu-stale"))
        return
    await settings_store.set(message.chat.id, language=tag)
    said = texts("language-set", language=texts(f"language-{tag}"))
    await query.answer(said)
    chat = await settings_store.get(message.chat.id)
    await edit_view(bot, message, language_view(texts, settings, chat))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="language")
    register_change(r, on_language, "language")
    picked = F.data.startswith(LANGUAGE_CALLBACK)
    r.callback_query.register(on_language_picked, picked, IsChatAdmin(), StillAdmin())
    r.callback_query.register(refuse, picked)
    return r
