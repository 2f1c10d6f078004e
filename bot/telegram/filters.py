"""Filters: whether a message is for the bot (the group rules), whether its sender is an admin,
and what a settings command asks for."""

from __future__ import annotations

import re
from typing import Any

from aiogram import Bot
from aiogram.filters import CommandObject, Filter
from aiogram.types import CallbackQuery, Message, User

from bot.domain import ChatSettings
from bot.telegram.permissions import Permissions

__all__ = [
    "TELEGRAM_SERVICE_USER_ID",
    "Args",
    "ForTheBot",
    "InstructionsGiven",
    "IsChatAdmin",
    "StillAdmin",
    "Switch",
    "broadcast",
    "may_ask",
    "mentions",
    "sent_as_group",
    "strip_mention",
]

# Telegram's service account ("Telegram", not a bot): the sender of a linked channel's posts
# that Telegram forwards into the channel's discussion group (and of its service notices).
TELEGRAM_SERVICE_USER_ID = 777000


def mentions(message: Message, me: User) -> bool:
    """True when the message's text or caption mentions the bot."""
    text = message.text or message.caption or ""
    for entity in message.entities or message.caption_entities or []:
        if entity.type == "text_mention" and entity.user and entity.user.id == me.id:
            return True
        if entity.type == "mention" and me.username:
            name = entity.extract_from(text)
            if name.lower() == f"@{me.username.lower()}":
                return True
    return False


def sent_as_group(message: Message) -> bool:
    """Sent on behalf of the group itself: by one of its anonymous admins."""
    return message.sender_chat is not None and message.sender_chat.id == message.chat.id


def broadcast(message: Message) -> bool:
    """A channel's broadcast, not anyone's question: a linked channel's post that Telegram
    forwarded into its discussion group (``is_automatic_forward``, from the service account
    777000 with ``sender_chat`` the channel; that account is no bot, so a bot filter misses
    it), anything else from that account, or a post in a channel itself."""
    if message.chat.type == "channel" or message.is_automatic_forward:
        return True
    return message.from_user is not None and message.from_user.id == TELEGRAM_SERVICE_USER_ID


def may_ask(message: Message) -> bool:
    """Whoever sent ``message`` may ask the bot something: a person, the group's own anonymous
    admin (``GroupAnonymousBot``, ``sender_chat`` the group), or a member writing as a channel
    (``Channel_Bot``, ``sender_chat`` the channel; the turn counts against that channel). Never
    a bot (the bot itself included), a broadcast, or a chat other than this group or a channel
    (Telegram sends no such message: a forged or misrouted one)."""
    if broadcast(message):
        return False
    sender_chat = message.sender_chat
    if sender_chat is not None:
        # The sender is the chat; ``from`` is a placeholder bot Telegram puts there.
        return sent_as_group(message) or sender_chat.type == "channel"
    return message.from_user is not None and not message.from_user.is_bot


def strip_mention(text: str, me: User) -> str:
    """The text without the bot's @name (what the model should read)."""
    if me.username:
        for form in (f"@{me.username}", f"@{me.username.lower()}"):
            text = text.replace(form, "")
    return " ".join(text.split())


class ForTheBot(Filter):
    """Private chats: every message. Groups: a reply to the bot, a mention of it, or, in mode
    ``all``, every voice note. Only from someone who ``may_ask``: never bots (the bot itself
    included); an anonymous admin's messages (from ``GroupAnonymousBot``, ``sender_chat`` the
    group) and a member's written as a channel (``Channel_Bot``, ``sender_chat`` the channel)
    are a member's like any other. A linked channel's posts in its discussion group (from the
    service account 777000, ``is_automatic_forward``) are the channel's broadcasts, not
    questions to the bot: ignored, as answering each would cost."""

    def __init__(self, *, voice: bool) -> None:
        self.voice = voice

    async def __call__(
        self, message: Message, bot: Bot, chat_settings: ChatSettings | None
    ) -> bool:
        if not may_ask(message):
            return False
        if message.chat.type == "private":
            return True
        me = await bot.me()
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
            return True
        if mentions(message, me):
            return True
        return self.voice and chat_settings is not None and chat_settings.mode == "all"


class IsChatAdmin(Filter):
    """The sender may change the chat's settings (``Permissions`` decides). Every change carries
    it, then ``StillAdmin`` (``bot.telegram.handlers.common.register_change``)."""

    async def __call__(
        self, event: Message | CallbackQuery, bot: Bot, permissions: Permissions
    ) -> bool:
        if isinstance(event, CallbackQuery):
            message = event.message
            if not isinstance(message, Message):
                return False
            return await permissions.can_configure(
                bot,
                chat_id=message.chat.id,
                chat_type=message.chat.type,
                user_id=event.from_user.id,
                sender_chat_id=None,
            )
        return await permissions.sender_is_admin(bot, event)


class StillAdmin(Filter):
    """In a group, Telegram confirms now that the sender is an admin (``Permissions.still_admin``,
    getChatMember): the list ``IsChatAdmin`` read may be minutes old."""

    async def __call__(
        self, event: Message | CallbackQuery, bot: Bot, permissions: Permissions
    ) -> bool:
        if isinstance(event, CallbackQuery):
            if not isinstance(event.message, Message):
                return False
            chat = event.message.chat
            return await permissions.still_admin(
                bot,
                chat_id=chat.id,
                chat_type=chat.type,
                user_id=event.from_user.id,
                sender_chat_id=None,
            )
        return await permissions.still_admin(
            bot,
            chat_id=event.chat.id,
            chat_type=event.chat.type,
            user_id=event.from_user.id if event.from_user else None,
            sender_chat_id=event.sender_chat.id if event.sender_chat else None,
        )


class Switch(Filter):
    """``/command on`` or ``/command off``: gives the handler ``state`` ("on" or "off")."""

    async def __call__(self, message: Message, command: CommandObject) -> bool | dict[str, Any]:
        state = (command.args or "").strip().lower()
        return {"state": state} if state in ("on", "off") else False


class InstructionsGiven(Filter):
    """``/instructions TEXT``, or ``/instructions`` in reply to a message with text: gives the
    handler ``text``."""

    async def __call__(self, message: Message, command: CommandObject) -> bool | dict[str, Any]:
        text = (command.args or "").strip()
        reply = message.reply_to_message
        if not text and reply is not None:
            text = (reply.text or reply.caption or "").strip()
        return {"text": text} if text else False


class Args(Filter):
    """The command's arguments match ``pattern`` (whole, case-insensitive): gives the handler
    the pattern's named groups."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern, re.IGNORECASE | re.DOTALL)

    async def __call__(self, message: Message, command: CommandObject) -> bool | dict[str, Any]:
        match = self.pattern.fullmatch((command.args or "").strip())
        if match is None:
            return False
        return {k: v for k, v in match.groupdict().items() if v is not None} or True
