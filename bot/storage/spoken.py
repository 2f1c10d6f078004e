"""The language each person of a chat spoke last: a voice note's language is known only once
it is heard (from its transcript), so the voice of someone's next voice note follows the
language of their last turn. A convenience: reading or keeping it never fails a turn."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from bot.errors import StorageError
from bot.storage import keys
from bot.storage.connection import Connection
from bot.storage.retry import storage_errors

__all__ = ["SpokenLanguages"]

log = logging.getLogger(__name__)


class SpokenLanguages:
    """Per chat, each person's last language (ISO 639-1), kept ``ttl`` seconds after the chat's
    last turn."""

    def __init__(self, redis: Connection, *, ttl: int) -> None:
        self._redis = redis
        self.ttl = ttl

    async def last(self, chat_id: int, who: int) -> str | None:
        """``who``'s last language in the chat; None when unknown or the store is away."""
        try:
            with storage_errors(f"reading the languages spoken in chat {chat_id}"):
                language = await self._redis.hget(keys.chat_spoken(chat_id), str(who))
        except (StorageError, RedisError) as exc:
            log.warning("cannot read the language last spoken: %s", exc)
            return None
        return str(language) if language else None

    async def keep(self, chat_id: int, who: int, language: str) -> None:
        key = keys.chat_spoken(chat_id)
        try:
            with storage_errors(f"keeping the language spoken in chat {chat_id}"):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hset(key, str(who), language)
                    pipe.expire(key, self.ttl)
                    await pipe.execute()
        except (StorageError, RedisError) as exc:
            log.warning("cannot keep the language spoken: %s", exc)

    async def forget(self, chat_id: int) -> None:
        with storage_errors(f"forgetting the languages spoken in chat {chat_id}"):
            await self._redis.delete(keys.chat_spoken(chat_id))
