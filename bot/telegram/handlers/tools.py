"""The chat's tools and time zone: /tools (which are on; anyone), /tools NAME on|off (admins),
/timezone (the zone and its local time; anyone), /timezone ZONE|reset (admins)."""

from __future__ import annotations

import time

from aiogram import Bot, Router
from aiogram.types import Message

from bot.config import Settings
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import TOOL_FIELD, ChatSettingsStore
from bot.telegram.filters import Args
from bot.telegram.handlers.common import command, register_change
from bot.telegram.ports import tell
from bot.telegram.tool_words import (
    RESET,
    SWITCH,
    echo,
    local_time,
    resolve_tool,
    utc_offset,
    zone_named,
)
from bot.tools import ToolKit

__all__ = ["router"]

# /timezone's argument, when it is not RESET: the zone to set.
ZONE = r"(?P<zone>.+)"


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


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="tools")
    register_change(r, on_tool_switch, "tools", Args(SWITCH))
    r.message.register(on_tools, command("tools"))
    register_change(r, on_timezone_reset, "timezone", Args(RESET))
    register_change(r, on_timezone_set, "timezone", Args(ZONE))
    r.message.register(on_timezone, command("timezone"))
    return r
