"""Chats that blocked or removed the bot: recorded, so nothing more is sent there in vain."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.storage import keys

__all__ = ["ChatStatus"]

log = logging.getLogger(__name__)


class ChatStatus:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def mark_blocked(self, chat_id: int, reason: str) -> None:
        log.info("chat %s blocked or removed the bot (%s); skipping it", chat_id, reason)
        try:
            await self._redis.set(keys.chat_blocked(chat_id), str(int(time.time())))
        except RedisError as exc:
            log.warning("cannot record the blocked chat %s: %s", chat_id, exc)

    async def mark_reachable(self, chat_id: int) -> None:
        try:
            await self._redis.delete(keys.chat_blocked(chat_id))
        except RedisError as exc:
            log.warning("cannot clear the blocked mark of chat %s: %s", chat_id, exc)

    async def is_blocked(self, chat_id: int) -> bool:
        try:
            return bool(await self._redis.exists(keys.chat_blocked(chat_id)))
        except RedisError:
            return False
