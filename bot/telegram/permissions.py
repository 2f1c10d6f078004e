"""Who may change a chat's settings: the one place that decides it.

Private chat: the user themself. Group: the chat's administrators (asked from Telegram and kept
in Redis for a few minutes), messages sent on behalf of the group by an anonymous admin, and the
bot's owners (``ADMIN_IDS``).
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.storage import keys

__all__ = ["Permissions"]

log = logging.getLogger(__name__)

ADMINS_TTL = 300


class Permissions:
    def __init__(self, redis: Redis, owners: frozenset[int]) -> None:
        self._redis = redis
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
        return user_id in await self._admins(bot, chat_id)

    async def _admins(self, bot: Bot, chat_id: int) -> set[int]:
        key = keys.chat_admins(chat_id)
        try:
            cached: set[str] = await self._redis.smembers(key)  # type: ignore[misc]
        except RedisError as exc:
            log.warning("admin cache unavailable: %s", exc)
            cached = set()
        if cached:
            return {int(x) for x in cached if x.lstrip("-").isdigit()}
        try:
            members = await bot.get_chat_administrators(chat_id)
        except TelegramAPIError as exc:
            log.warning("cannot list the admins of chat %s: %s", chat_id, exc)
            return set()
        admins = {m.user.id for m in members}
        try:
            # A placeholder keeps a chat with no listed admins cached as well.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.sadd(key, "none", *map(str, admins))
                pipe.expire(key, ADMINS_TTL)
                await pipe.execute()
        except RedisError as exc:
            log.warning("admin cache unavailable: %s", exc)
        return admins
