"""Per-chat settings, one hash per chat: a field per setting ``bot.chat_options`` declares (a
tool's switch is ``tool:NAME``). Absent, or holding a value the setting does not take = the
default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis

from bot.chat_options import OPTIONS, TOOL_FIELD, ChatOption, check_fields, settings_from
from bot.domain import ChatSettings, Defaults
from bot.storage import keys
from bot.storage.retry import storage_errors

__all__ = ["TOOL_FIELD", "ChatSettingsStore"]


class ChatSettingsStore:
    """Reads and writes chat settings in Redis, as ``options`` declare them. Fails hard: Redis
    away becomes StorageError (transient), which the receiver waits out and the worker's turn
    retries."""

    def __init__(
        self, redis: Redis, defaults: Defaults, options: Sequence[ChatOption[Any]] = OPTIONS
    ) -> None:
        self._redis = redis
        self.defaults = defaults
        self.options = tuple(options)

    async def get(self, chat_id: int) -> ChatSettings:
        with storage_errors(f"reading settings of chat {chat_id}"):
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_settings(chat_id)))
        return settings_from(raw, self.defaults, self.options)

    async def set(self, chat_id: int, **fields: str) -> None:
        """Set some of the declared settings (``voice="jane"``, ``live="off"``,
        ``**{"tool:clock": "off"}``), each a string its declaration takes, or the empty string
        (the default again). ValueError for a field no declaration holds or a value it does not
        take; nothing is written then."""
        check_fields(fields, self.options)
        with storage_errors(f"writing settings of chat {chat_id}"):
            mapping = cast(dict[Any, Any], fields)  # redis-py's Mapping is invariant in its keys
            await self._redis.hset(keys.chat_settings(chat_id), mapping=mapping)

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Carry a group's settings over to the supergroup it became (the new chat wins)."""
        with storage_errors(f"moving settings of chat {old_chat_id}"):
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_settings(old_chat_id)))
            if raw:
                new_key = keys.chat_settings(new_chat_id)
                for name, value in raw.items():
                    await self._redis.hsetnx(new_key, name, value)
                await self._redis.delete(keys.chat_settings(old_chat_id))

    async def reset(self, chat_id: int) -> None:
        with storage_errors(f"resetting settings of chat {chat_id}"):
            await self._redis.delete(keys.chat_settings(chat_id))
