"""Each chat's last answer as delivered, for /again: its text and the id of its voice note, so
it is sent again without the model and without an upload."""

from __future__ import annotations

import logging
from typing import Any, cast

from redis.exceptions import RedisError

from bot.domain import LastAnswer
from bot.errors import StorageError
from bot.storage import keys
from bot.storage.connection import Connection
from bot.storage.retry import storage_errors

__all__ = ["LastAnswerStore"]

log = logging.getLogger(__name__)


class LastAnswerStore:
    """The last answer of each chat, kept ``ttl`` seconds after it was given (as long as the
    conversation memory, by default). A convenience: keeping it never fails a turn."""

    def __init__(self, redis: Connection, *, ttl: int) -> None:
        self._redis = redis
        self.ttl = ttl

    async def keep(self, chat_id: int, answer: LastAnswer) -> None:
        key = keys.chat_last_answer(chat_id)
        fields: dict[Any, Any] = {"text": answer.text, "seconds": f"{answer.voice_seconds:.3f}"}
        if answer.voice_id:
            fields["voice"] = answer.voice_id
        try:
            with storage_errors(f"keeping the last answer of chat {chat_id}"):
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.delete(key)
                    pipe.hset(key, mapping=fields)
                    pipe.expire(key, self.ttl)
                    await pipe.execute()
        except (StorageError, RedisError) as exc:
            log.warning("cannot keep the last answer: %s", exc)

    async def get(self, chat_id: int) -> LastAnswer | None:
        """The chat's last answer; None when there is none (or it expired). Raises
        ``StorageError`` while the store is away."""
        with storage_errors(f"reading the last answer of chat {chat_id}"):
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_last_answer(chat_id)))
        if not raw.get("text"):
            return None
        try:
            seconds = float(raw.get("seconds") or 0)
        except ValueError:
            seconds = 0.0
        return LastAnswer(raw["text"], raw.get("voice") or None, seconds)

    async def forget(self, chat_id: int) -> None:
        with storage_errors(f"forgetting the last answer of chat {chat_id}"):
            await self._redis.delete(keys.chat_last_answer(chat_id))
