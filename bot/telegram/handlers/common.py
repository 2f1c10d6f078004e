"""What the feature routers share: the commands' filter (from the table in
``bot.telegram.commands``), a change registered with its admin checks and, right after it, the
refusal of anyone else, replies long enough to need several messages, and a picker (a text and
its keyboard) sent or shown again in place.

A feature router holds every handler of its commands, so no router relies on another's order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, Filter
from aiogram.types import InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.domain import ChatSettings
from bot.errors import NotAdmin
from bot.telegram.commands import spec
from bot.telegram.filters import IsChatAdmin, StillAdmin
from bot.telegram.ports import tell, thread_of
from bot.telegram.texts import split_text

__all__ = [
    "PickerView",
    "command",
    "edit_view",
    "live_on",
    "refuse",
    "register_change",
    "send_view",
    "tell_long",
]

log = logging.getLogger(__name__)

# A picker's text and keyboard.
PickerView = tuple[str, InlineKeyboardMarkup]

Handler = Callable[..., Awaitable[Any]]


def command(*names: str) -> Command:
    """The filter of the commands ``names``, each a row of the table (KeyError otherwise)."""
    return Command(*(spec(name).name for name in names))


async def refuse(_: object) -> None:
    """A change from someone who is not an admin of the chat (the error router tells them)."""
    raise NotAdmin("not an admin of the chat")


def register_change(router: Router, handler: Handler, name: str, *forms: Filter) -> None:
    """``/name`` in the form ``forms`` (its arguments' filters) changes the chat: ``handler``
    for the chat's admins (``IsChatAdmin``, then, in groups, Telegram's word with
    ``StillAdmin``), and right after it the refusal for anyone else. The admin checks come
    last: other messages never pay for them."""
    if not spec(name).changes:
        raise ValueError(f"/{name} changes nothing, says the table of commands")
    router.message.register(handler, command(name), *forms, IsChatAdmin(), StillAdmin())
    router.message.register(refuse, command(name), *forms)


async def tell_long(bot: Bot, message: Message, text: str) -> None:
    """``tell``, in as many messages as Telegram needs (a list of notes can be long)."""
    for part in split_text(text):
        await tell(bot, message, part)


def live_on(chat_settings: ChatSettings, settings: Settings) -> bool:
    """Whether the chat gets live answers: its own choice, else the deployment's default."""
    return chat_settings.live if chat_settings.live is not None else settings.live_answers


async def send_view(bot: Bot, message: Message, view: PickerView) -> None:
    """A picker, in the chat (and topic) of ``message``."""
    text, markup = view
    await bot.send_message(
        chat_id=message.chat.id,
        text=text,
        reply_markup=markup,
        message_thread_id=thread_of(message),
    )


async def edit_view(bot: Bot, message: Message, view: PickerView) -> None:
    """The picker ``message`` becomes ``view``; a failure (gone, or already showing it) is
    logged: the change it shows is made."""
    text, markup = view
    try:
        await bot.edit_message_text(
            chat_id=message.chat.id, message_id=message.message_id, text=text, reply_markup=markup
        )
    except TelegramAPIError as exc:
        log.info("could not edit a picker in chat %s: %s", message.chat.id, exc)
