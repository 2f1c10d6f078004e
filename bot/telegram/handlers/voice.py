"""The chat's voice (admins): /voice shows a keyboard of the provider's voices, /voice NAME sets
one; a tap on the keyboard sets it too, and is refused to anyone else."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.domain import ChatSettings
from bot.errors import VoiceOnlyAdmins
from bot.i18n import Texts
from bot.realtime.providers import voices_for
from bot.storage.chat_settings import ChatSettingsStore
from bot.telegram.filters import IsChatAdmin, StillAdmin
from bot.telegram.handlers.common import register_change
from bot.telegram.ports import tell, thread_of

__all__ = ["VOICE_CALLBACK", "router"]

VOICE_CALLBACK = "voice:"
VOICES_PER_ROW = 3
# A voice's language and gender on its button, as signs anyone reads: "alena 🇷🇺 ♀".
LANGUAGE_FLAGS = {
    "ru": "🇷🇺", "kk": "🇰🇿", "uz": "🇺🇿", "en": "🇬🇧", "de": "🇩🇪", "he": "🇮🇱", "fr": "🇫🇷",
    "es": "🇪🇸", "it": "🇮🇹", "uk": "🇺🇦", "be": "🇧🇾", "tr": "🇹🇷",
}  # fmt: skip
GENDER_SIGNS = {"F": "♀", "M": "♂"}


def voice_label(name: str, language: str, gender: str) -> str:
    """A voice's button: its name, its language's flag (else the language's code) and its
    gender's sign, where known."""
    flag = LANGUAGE_FLAGS.get(language, language.upper())
    signs = " ".join(x for x in (flag, GENDER_SIGNS.get(gender, "")) if x)
    return f"{name} {signs}" if signs else name


def voice_keyboard(provider: str, current: str) -> InlineKeyboardMarkup:
    """The provider's voices, the current one marked."""
    buttons = []
    for name, (language, gender) in voices_for(provider).items():
        label = voice_label(name, language, gender)
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


async def refuse_voice_pick(_: object) -> None:
    raise VoiceOnlyAdmins("not an admin of the chat")


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="voice")
    register_change(r, on_voice, "voice")
    picked = F.data.startswith(VOICE_CALLBACK)
    r.callback_query.register(on_voice_picked, picked, IsChatAdmin(), StillAdmin())
    r.callback_query.register(refuse_voice_pick, picked)
    return r
