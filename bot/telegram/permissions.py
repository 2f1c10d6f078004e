"""Who may change a chat's settings: the one place that decides it.

Private chat: the user themself. Group: the chat's administrators (asked from Telegram and kept
in the admin cache for a few minutes), messages sent on behalf of the group by an anonymous
admin, and the bot's owners (``ADMIN_IDS``).
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError

from bot.storage.admins import AdminCache

__all__ = ["Permissions"]

log = logging.getLogger(__name__)


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
