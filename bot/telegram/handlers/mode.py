"""Which group messages the bot answers (admins): /mode all|replies."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import CommandObject
from aiogram.types import Message

from bot.chat_options import MODE
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.telegram.handlers.common import register_change
from bot.telegram.ports import tell

__all__ = ["router"]


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
    elif not MODE.accepts(mode):
        await tell(bot, message, texts("mode-usage", mode=texts(f"mode-{chat_settings.mode}")))
    else:
        await settings_store.set(message.chat.id, mode=mode)
        await tell(bot, message, texts("mode-set", mode=texts(f"mode-{mode}")))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="mode")
    register_change(r, on_mode, "mode")
    return r
