"""The chat's front door: /start, /help (its lists of commands from the table) and /reset (the
chat's settings back to the defaults; admins). /settings and its menu are ``settings``'s."""

from __future__ import annotations

import html

from aiogram import Bot, Router
from aiogram.filters import CommandStart
from aiogram.types import Message

from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.memory import ConversationMemory
from bot.telegram.commands import help_list
from bot.telegram.handlers.common import command, register_change
from bot.telegram.ports import tell
from bot.tools import ToolKit

__all__ = ["router"]


async def on_start(message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts) -> None:
    await tell(bot, message, texts("start", voice=chat_settings.voice))


async def on_help(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, tool_kit: ToolKit
) -> None:
    me = await bot.me()
    available = tool_kit.available()
    text = texts(
        "help",
        voice=html.escape(chat_settings.voice),
        bot=me.username or "bot",
        can=", ".join(texts(f"tool-{name}") for name in available) or texts("tools-none-on"),
        search="yes" if "web_search" in available else "no",
        use=help_list(texts, "use"),
        settings=help_list(texts, "settings"),
    )
    await tell(bot, message, text, html_text=True)


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


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="start")
    r.message.register(on_start, CommandStart())
    r.message.register(on_help, command("help"))
    register_change(r, on_reset, "reset")
    return r
