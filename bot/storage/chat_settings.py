"""Per-chat settings: voice, instructions, answering mode. Absent = the configured default."""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis

from bot.domain import ChatSettings, Defaults
from bot.storage import keys
from bot.storage.retry import storage_errors

__all__ = ["TOOL_FIELD", "ChatSettingsStore"]

FIELDS = {"voice", "instructions", "mode", "memory", "transcript", "live", "timezone"}
# A tool's switch is the hash field "tool:NAME".
TOOL_FIELD = "tool:"


class ChatSettingsStore:
    """Reads and writes chat settings in Redis. Fails hard: Redis away becomes StorageError
    (transient), which the receiver waits out and the worker's turn retries."""

    def __init__(self, redis: Redis, defaults: Defaults) -> None:
        self._redis = redis
        self.defaults = defaults

    async def get(self, chat_id: int) -> ChatSettings:
        with storage_errors(f"reading settings of chat {chat_id}"):
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_settings(chat_id)))
        mode = raw.get("mode")
        return ChatSettings(
            voice=raw.get("voice") or self.defaults.voice,
            instructions=raw.get("instructions") or self.defaults.instructions,
            mode=mode if mode in ("replies", "all") else self.defaults.mode,  # type: ignore[arg-type]
            custom=frozenset(raw),
            memory=raw.get("memory", "on") != "off",
            transcript={"on": True, "off": False}.get(raw.get("transcript", "")),
            live={"on": True, "off": False}.get(raw.get("live", "")),
            tools=tuple(
                sorted(
                    (name.removeprefix(TOOL_FIELD), value == "on")
                    for name, value in raw.items()
                    if name.startswith(TOOL_FIELD) and value in ("on", "off")
                )
            ),
            timezone=raw.get("timezone") or None,
        )

    async def set(self, chat_id: int, **fields: str) -> None:
        """Set some of voice, instructions, mode, memory, transcript, live ("on"/"off"),
        timezone and ``tool:NAME`` ("on"/"off")."""
        unknown = {name for name in fields if not name.startswith(TOOL_FIELD)} - FIELDS
        if unknown:
            raise ValueError(f"unknown chat settings: {sorted(unknown)}")
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
