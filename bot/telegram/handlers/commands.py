"""Commands anyone may use: /start /help /settings, and reading what admins set (/instructions,
/memory, /transcript, /live without a new value); the tools' commands are in ``tools``. An admin
command from anyone else ends here too (the admin router let it through) and is refused."""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot.config import Settings
from bot.errors import NotAdmin, VoiceOnlyAdmins
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettings
from bot.telegram.filters import InstructionsGiven, Switch
from bot.telegram.handlers.admin import ADMIN_COMMANDS, VOICE_CALLBACK
from bot.telegram.ports import tell
from bot.telegram.tool_words import tools_of
from bot.tools.kit import ToolKit

INSTRUCTIONS_PREVIEW = 300


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
    tools = ", ".join(tools_of(tool_kit, chat_settings)) or texts("tools-none-on")
    instructions = chat_settings.instructions
    if len(instructions) > INSTRUCTIONS_PREVIEW:
        instructions = instructions[:INSTRUCTIONS_PREVIEW].rstrip() + "…"
    text = texts(
        "settings",
        voice=html.escape(chat_settings.voice),
        mode=texts(f"mode-{chat_settings.mode}"),
        live=texts("state-on" if _live(chat_settings, settings) else "state-off"),
        tools=html.escape(tools),
        timezone=html.escape(tool_kit.timezone_for(chat_settings)),
        instructions=html.escape(instructions),
    )
    await tell(bot, message, text, html_text=True)


async def on_instructions(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, settings: Settings
) -> None:
    limit = settings.max_instructions_chars
    await tell(
        bot,
        message,
        texts("instructions-show", instructions=chat_settings.instructions, limit=limit),
    )


async def on_memory(message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts) -> None:
    state = texts("state-on" if chat_settings.memory else "state-off")
    await tell(bot, message, texts("memory-usage", state=state))


async def on_transcript(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts
) -> None:
    shown = chat_settings.shows_transcript(message.chat.type)
    await tell(
        bot, message, texts("transcript-usage", state=texts(f"state-{'on' if shown else 'off'}"))
    )


async def on_live(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, settings: Settings
) -> None:
    state = texts("state-on" if _live(chat_settings, settings) else "state-off")
    await tell(bot, message, texts("live-usage", state=state))


def _live(chat_settings: ChatSettings, settings: Settings) -> bool:
    return chat_settings.live if chat_settings.live is not None else settings.live_answers


async def refuse(_: object) -> None:
    raise NotAdmin("not an admin of the chat")


async def refuse_voice_pick(_: object) -> None:
    raise VoiceOnlyAdmins("not an admin of the chat")


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="commands")
    r.message.register(on_start, CommandStart())
    r.message.register(on_help, Command("help"))
    r.message.register(on_settings, Command("settings"))
    # A new value from someone who is not an admin: refused; no value: what is set now.
    r.message.register(refuse, Command("instructions"), InstructionsGiven())
    r.message.register(on_instructions, Command("instructions"))
    r.message.register(refuse, Command("memory", "transcript", "live"), Switch())
    r.message.register(on_memory, Command("memory"))
    r.message.register(on_transcript, Command("transcript"))
    r.message.register(on_live, Command("live"))
    r.message.register(refuse, Command(*ADMIN_COMMANDS))
    r.callback_query.register(refuse_voice_pick, F.data.startswith(VOICE_CALLBACK))
    return r
