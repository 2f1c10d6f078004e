"""The chat's front door: /start and /help. /help says what anyone can do, in a few lines (its
"use" lines from the table), with a "More" button that adds the settings (the table's
"settings" lines) and, where it concerns the reader, the hint about Telegram's privacy mode.
/settings and its menu are ``settings``'s; /reset is ``memory``'s."""

from __future__ import annotations

import html

from aiogram import Bot, F, Router
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.telegram.commands import help_list
from bot.telegram.handlers.common import command
from bot.telegram.ports import tell, thread_of
from bot.tools import ToolKit

__all__ = ["HELP_MORE", "help_text", "router", "where"]

# The data of /help's "More" button.
HELP_MORE = "help:more"


def where(chat_type: str, chat_settings: ChatSettings | None) -> str:
    """What the chat's words depend on: "private", or a group's mode ("all", "replies")."""
    if chat_type == "private" or chat_settings is None:
        return "private"
    return chat_settings.mode


async def on_start(message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts) -> None:
    me = await bot.me()
    text = texts(
        "start",
        voice=chat_settings.voice,
        where=where(message.chat.type, chat_settings),
        bot=me.username or "bot",
    )
    await tell(bot, message, text)


def help_text(
    texts: Texts, *, where: str, bot_name: str, tool_kit: ToolKit, more: bool, privacy: bool
) -> str:
    """/help: what anyone can do; with ``more``, the admins' settings too, and with ``privacy``
    the hint about Telegram's privacy mode."""
    available = tool_kit.available()
    text = texts(
        "help",
        where=where,
        bot=bot_name,
        can=", ".join(available) or texts("tools-none-on"),
        search="yes" if "web_search" in available else "no",
        use=help_list(texts, "use"),
    )
    if more:
        text += "\n\n" + texts("help-more", settings=help_list(texts, "settings"))
        if privacy:
            text += "\n\n" + html.escape(texts("help-privacy"))
    return text


def _privacy_concerns(chat_type: str, user_id: int | None, settings: Settings) -> bool:
    """Whether the privacy-mode hint concerns the reader: in groups (where it applies), and in
    a private chat only the bot's owners (who can change it in @BotFather)."""
    return chat_type != "private" or user_id in settings.admin_ids


async def on_help(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, tool_kit: ToolKit
) -> None:
    me = await bot.me()
    text = help_text(
        texts,
        where=where(message.chat.type, chat_settings),
        bot_name=me.username or "bot",
        tool_kit=tool_kit,
        more=False,
        privacy=False,
    )
    more = InlineKeyboardButton(text=texts("help-more-button"), callback_data=HELP_MORE)
    await bot.send_message(
        chat_id=message.chat.id,
        text=text,
        parse_mode="HTML",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[more]]),
        message_thread_id=thread_of(message),
    )


async def on_help_more(
    query: CallbackQuery,
    bot: Bot,
    chat_settings: ChatSettings | None,
    texts: Texts,
    tool_kit: ToolKit,
    settings: Settings,
) -> None:
    """The "More" button (anyone's): /help's message shows the rest, without the button."""
    message = query.message
    await query.answer()
    if not isinstance(message, Message):
        return
    me = await bot.me()
    chat_type = message.chat.type
    text = help_text(
        texts,
        where=where(chat_type, chat_settings),
        bot_name=me.username or "bot",
        tool_kit=tool_kit,
        more=True,
        privacy=_privacy_concerns(chat_type, query.from_user.id, settings),
    )
    await bot.edit_message_text(
        chat_id=message.chat.id, message_id=message.message_id, text=text, parse_mode="HTML"
    )


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="start")
    r.message.register(on_start, CommandStart())
    r.message.register(on_help, command("help"))
    r.callback_query.register(on_help_more, F.data == HELP_MORE)
    return r
