"""Chats that blocked or removed the bot, and one-off notices to chats.

A blocked mark holds the time it was set: a turn queued after it is from someone who unblocked
the bot (they could not have written otherwise), so the mark is cleared when such a turn runs
instead of on every message the receiver takes.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.storage import keys

__all__ = ["ChatStatus"]

log = logging.getLogger(__name__)


class ChatStatus:
    """Degrades quietly: a Redis failure is logged and the chat counts as reachable."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def mark_blocked(self, chat_id: int, reason: str) -> None:
        log.info("chat %s blocked or removed the bot (%s); skipping it", chat_id, reason)
        try:
            await self._redis.set(keys.chat_blocked(chat_id), str(time.time()))
        except RedisError as exc:
            log.warning("cannot record the blocked chat %s: %s", chat_id, exc)

    async def mark_reachable(self, chat_id: int) -> None:
        try:
            await self._redis.delete(keys.chat_blocked(chat_id))
        except RedisError as exc:
            log.warning("cannot clear the blocked mark of chat %s: %s", chat_id, exc)

    async def blocked_since(self, chat_id: int) -> float | None:
        """When (Unix time) the chat blocked or removed the bot; None while it can be written to."""
        try:
            raw = await self._redis.get(keys.chat_blocked(chat_id))
        except RedisError:
            return None
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return 0.0

    async def first_notice(self, chat_id: int, what: str, seconds: int) -> bool:
        """True for the first call about notice ``what`` in this chat in ``seconds`` (a notice
        worth sending); False after, and when Redis is away (better silent than repetitive)."""
        key = (
            keys.not_allowed_notice(chat_id)
            if what == "not-allowed"
            else keys.chat_notice(chat_id, what)
        )
        try:
            return bool(await self._redis.set(key, "1", nx=True, ex=seconds))
        except RedisError:
            return False
