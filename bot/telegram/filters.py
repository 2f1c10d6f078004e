"""Whether a message is for the bot: the group rules in one place."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters import Filter
from aiogram.types import Message, User

from bot.storage.chat_settings import ChatSettings

__all__ = ["ForTheBot", "mentions", "strip_mention"]


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


def strip_mention(text: str, me: User) -> str:
    """The text without the bot's @name (what the model should read)."""
    if me.username:
        for form in (f"@{me.username}", f"@{me.username.lower()}"):
            text = text.replace(form, "")
    return " ".join(text.split())


class ForTheBot(Filter):
    """Private chats: every message. Groups: a reply to the bot, a mention of it, or, in mode
    ``all``, every voice note. Never messages of bots (the bot itself included)."""

    def __init__(self, *, voice: bool) -> None:
        self.voice = voice

    async def __call__(self, message: Message, bot: Bot, chat: ChatSettings) -> bool:
        if message.from_user is not None and message.from_user.is_bot:
            return False
        if message.chat.type == "private":
            return True
        me = await bot.me()
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
            return True
        if mentions(message, me):
            return True
        return self.voice and chat.mode == "all"
