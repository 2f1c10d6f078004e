"""Who is an admin of a chat (may change its settings; a turn they ask is an admin's): the one
place that decides it.

Private chat: the user themself. Group: the chat's administrators (asked from Telegram and kept
in the admin cache for a few minutes), messages sent on behalf of the group by an anonymous
admin, and the bot's owners (``ADMIN_IDS``).
"""

from __future__ import annotations

import logging
from typing import TypedDict

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from bot.storage.admins import AdminCache

__all__ = ["ADMIN_STATUSES", "Permissions"]

log = logging.getLogger(__name__)

# A tuple, compared with ==: a status may come as aiogram's ChatMemberStatus (a str enum).
ADMIN_STATUSES = ("creator", "administrator")


class Permissions:
    def __init__(self, admins: AdminCache, owners: frozenset[int]) -> None:
        self._admins = admins
        self.owners = owners

    async def can_configure(
        self,
        bot: Bot,
        *,
        chat_id: int,
        chat_type: str,
        user_id: int | None,
        sender_chat_id: int | None,
    ) -> bool:
        """True when this user (or sender chat) may change the chat's settings."""
        if user_id in self.owners:
            return True
        if chat_type == "private":
            return user_id == chat_id
        if sender_chat_id == chat_id:  # an anonymous admin writes as the group itself
            return True
        if user_id is None:
            return False
        return user_id in await self._admins_of(bot, chat_id)

    async def sender_is_admin(self, bot: Bot, message: Message) -> bool:
        """True when whoever sent ``message`` is an admin of its chat (``can_configure``): in a
        private chat always; a group's admin list comes from the admin cache, so this costs a
        Redis read, and a Telegram call only when the cache has no list for the chat."""
        return await self.can_configure(bot, **_sender(message))

    async def still_admin(
        self,
        bot: Bot,
        *,
        chat_id: int,
        chat_type: str,
        user_id: int | None,
        sender_chat_id: int | None,
    ) -> bool:
        """In a group, Telegram confirms now (getChatMember) that the sender is an admin: the
        list ``can_configure`` read may be minutes old, and one who was demoted since must change
        nothing. A demotion found here drops the chat's cached list. Private chats, the owners
        and anonymous admins (the group itself) need no list and are not asked about. When
        Telegram cannot say, the answer is no (and logged)."""
        if chat_type == "private" or user_id in self.owners or sender_chat_id == chat_id:
            return True
        if user_id is None:
            return False
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramAPIError as exc:
            log.warning("chat %s: cannot confirm that user %s is an admin (%s); change refused",
                        chat_id, user_id, exc)  # fmt: skip
            return False
        if member.status in ADMIN_STATUSES:
            return True
        log.info("chat %s: user %s is no longer an admin (%s); change refused",
                 chat_id, user_id, member.status)  # fmt: skip
        await self._admins.forget(chat_id)
        return False

    async def may_change(self, bot: Bot, message: Message) -> bool:
        """True when whoever sent ``message`` may change the chat now: an admin
        (``sender_is_admin``) whom Telegram confirms still is one (``still_admin``), as the
        ``IsChatAdmin`` and ``StillAdmin`` filters ask of every change."""
        who = _sender(message)
        return await self.can_configure(bot, **who) and await self.still_admin(bot, **who)

    async def _admins_of(self, bot: Bot, chat_id: int) -> set[int]:
        cached = await self._admins.get(chat_id)
        if cached is not None:
            return cached
        try:
            members = await bot.get_chat_administrators(chat_id)
        except TelegramAPIError as exc:
            log.warning("cannot list the admins of chat %s: %s", chat_id, exc)
            return set()
        admins = {member.user.id for member in members}
        await self._admins.put(chat_id, admins)
        return admins


class _Sender(TypedDict):
    chat_id: int
    chat_type: str
    user_id: int | None
    sender_chat_id: int | None


def _sender(message: Message) -> _Sender:
    return {
        "chat_id": message.chat.id,
        "chat_type": message.chat.type,
        "user_id": message.from_user.id if message.from_user else None,
        "sender_chat_id": message.sender_chat.id if message.sender_chat else None,
    }
