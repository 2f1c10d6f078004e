"""The chat's front door: /start, /help (its lists of commands from the table), /settings (what
the chat chose) and /reset (all of it back to the defaults; admins)."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import CommandStart
from aiogram.types import Message

from bot.chat_options import OPTIONS, ChatOption
from bot.config import Settings
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.memory import ConversationMemory
from bot.telegram.commands import help_list
from bot.telegram.handlers.common import command, live_on, register_change
from bot.telegram.ports import tell
from bot.telegram.tool_words import tools_of
from bot.tools import ToolKit

__all__ = ["router", "settings_text"]


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


async def on_settings(
    message: Message,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings: Settings,
    tool_kit: ToolKit,
) -> None:
    # What the chat gets where it chose nothing, or what only the tools know.
    resolved = {
        "live": live_on(chat_settings, settings),
        "tools": ", ".join(tools_of(tool_kit, chat_settings)) or texts("tools-none-on"),
        "timezone": tool_kit.timezone_for(chat_settings),
    }
    await tell(bot, message, settings_text(texts, chat_settings, resolved), html_text=True)


def settings_text(
    texts: Callable[..., str],
    chat_settings: ChatSettings,
    resolved: Mapping[str, object],
    options: Sequence[ChatOption[Any]] = OPTIONS,
) -> str:
    """/settings: a line for each declared option that is shown, in their order, with the value
    the chat has (``resolved`` gives it for those whose value depends on more than the chat's
    settings: a default of the deployment's, the tools available)."""
    lines = []
    for option in options:
        if option.shown is None:
            continue
        value = (
            resolved[option.name] if option.name in resolved else chat_settings.value(option.name)
        )
        shown = option.show(value)
        if option.words is not None:
            shown = texts(f"{option.words}{shown}")
        else:
            if option.preview and len(shown) > option.preview:
                shown = shown[: option.preview].rstrip() + "…"
            shown = html.escape(shown)
        lines.append(texts(option.shown, value=shown))
    return texts("settings", lines="\n".join(lines))


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
    r.message.register(on_settings, command("settings"))
    register_change(r, on_reset, "reset")
    return r
