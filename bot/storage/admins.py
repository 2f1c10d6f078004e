"""The admin cache: each group's administrators as Telegram listed them, kept a few minutes, and
forgotten at once when Telegram says someone became or stopped being an admin."""

from __future__ import annotations

import logging
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.storage import keys

__all__ = ["AdminCache"]

log = logging.getLogger(__name__)

ADMINS_TTL = 300
# Stored with the ids so a chat with no listed admins is cached as well.
_PLACEHOLDER = "none"


class AdminCache:
    """Degrades quietly: with Redis away every lookup is a miss and nothing is stored."""

    def __init__(self, redis: Redis, ttl: int = ADMINS_TTL) -> None:
        self._redis = redis
        self.ttl = ttl

    async def get(self, chat_id: int) -> set[int] | None:
        """The cached admin ids, or None when not cached."""
        try:
            cached = cast(set[str], await self._redis.smembers(keys.chat_admins(chat_id)))
        except RedisError as exc:
            log.warning("admin cache unavailable: %s", exc)
            return None
        if not cached:
            return None
        return {int(x) for x in cached if x.lstrip("-").isdigit()}

    async def put(self, chat_id: int, admins: set[int]) -> None:
        key = keys.chat_admins(chat_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.sadd(key, _PLACEHOLDER, *map(str, admins))
                pipe.expire(key, self.ttl)
                await pipe.execute()
        except RedisError as exc:
            log.warning("admin cache unavailable: %s", exc)

    async def forget(self, chat_id: int) -> None:
        """Drop the chat's list: the next lookup asks Telegram."""
        try:
            await self._redis.delete(keys.chat_admins(chat_id))
        except RedisError as exc:
            log.warning("admin cache unavailable: %s", exc)
