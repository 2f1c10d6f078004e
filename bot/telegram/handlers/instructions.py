"""The chat's instructions: /instructions shows them (anyone); /instructions TEXT, or
/instructions in reply to a message, sets them (admins)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import Message

from bot.config import Settings
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.telegram.filters import InstructionsGiven
from bot.telegram.handlers.common import command, register_change
from bot.telegram.ports import tell

__all__ = ["router"]


async def on_instructions_set(
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


async def on_instructions(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, settings: Settings
) -> None:
    limit = settings.max_instructions_chars
    await tell(
        bot,
        message,
        texts("instructions-show", instructions=chat_settings.instructions, limit=limit),
    )


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="instructions")
    register_change(r, on_instructions_set, "instructions", InstructionsGiven())
    r.message.register(on_instructions, command("instructions"))
    return r
