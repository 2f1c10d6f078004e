"""Conversation memory: a chat's last turns, given to the model as context for the next one."""

from __future__ import annotations

import logging
from typing import cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.domain import HistoryItem
from bot.errors import StorageError
from bot.storage import keys

__all__ = ["ConversationMemory"]

log = logging.getLogger(__name__)


class ConversationMemory:
    """Keeps the last ``turns`` question/answer pairs per chat for ``ttl`` seconds of inactivity.
    Memory is a convenience: a Redis failure is logged and the turn goes on without it."""

    def __init__(self, redis: Redis, *, turns: int, ttl: int) -> None:
        self._redis = redis
        self.turns = turns
        self.ttl = ttl

    async def history(self, chat_id: int) -> tuple[HistoryItem, ...]:
        if self.turns <= 0:
            return ()
        try:
            raw = cast(list[str], await self._redis.lrange(keys.chat_memory(chat_id), 0, -1))
        except RedisError as exc:
            log.warning("memory unavailable: %s", exc)
            return ()
        items = []
        for entry in raw:
            try:
                data = orjson.loads(entry)
                items.append(HistoryItem(role=data["role"], text=str(data["text"])))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
        return tuple(items)

    async def remember(self, chat_id: int, question: str, answer: str) -> None:
        if self.turns <= 0 or not (question or answer):
            return
        key = keys.chat_memory(chat_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.rpush(
                    key,
                    orjson.dumps({"role": "user", "text": question}),
                    orjson.dumps({"role": "assistant", "text": answer}),
                )
                pipe.ltrim(key, -2 * self.turns, -1)
                pipe.expire(key, self.ttl)
                await pipe.execute()
        except RedisError as exc:
            log.warning("cannot remember the turn: %s", exc)

    async def forget(self, chat_id: int) -> None:
        """Fails hard (StorageError): the user was promised the conversation is gone."""
        try:
            await self._redis.delete(keys.chat_memory(chat_id))
        except RedisError as exc:
            raise StorageError(f"forgetting chat {chat_id}: {exc}") from None
