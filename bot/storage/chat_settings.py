"""Per-chat settings: voice, instructions, answering mode. Absent = the configured default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import StorageError
from bot.storage import keys
from bot.storage.retry import is_passing

__all__ = ["TOOL_FIELD", "ChatSettings", "ChatSettingsStore", "Defaults"]

Mode = Literal["replies", "all"]
FIELDS = {"voice", "instructions", "mode", "memory", "transcript", "live", "timezone"}
# A tool's switch is the hash field "tool:NAME".
TOOL_FIELD = "tool:"


@dataclass(frozen=True)
class Defaults:
    voice: str
    instructions: str
    mode: Mode = "replies"

    def settings(self) -> ChatSettings:
        """The settings of a chat that chose nothing."""
        return ChatSettings(voice=self.voice, instructions=self.instructions, mode=self.mode)


@dataclass(frozen=True)
class ChatSettings:
    """What a chat chose, with defaults filled in; ``custom`` names the fields it set itself."""

    voice: str
    instructions: str
    mode: Mode
    custom: frozenset[str] = frozenset()
    memory: bool = True  # earlier turns given to the model as context
    transcript: bool | None = None  # show what was heard; None = the chat type's default
    live: bool | None = None  # answers shown as they are made; None = the bot's default
    tools: tuple[tuple[str, bool], ...] = ()  # tools the chat switched on or off itself
    timezone: str | None = None  # the chat's IANA time zone; None = the bot's default

    def tool_on(self, name: str, default: bool) -> bool:
        """Whether the chat has tool ``name`` on (``default`` when it chose nothing)."""
        return dict(self.tools).get(name, default)

    def shows_transcript(self, chat_type: str) -> bool:
        """Off by default in private chats, on in groups (so everyone sees what was asked)."""
        return self.transcript if self.transcript is not None else chat_type != "private"


class ChatSettingsStore:
    """Reads and writes chat settings in Redis. Fails hard: Redis away becomes StorageError
    (transient), which the receiver waits out and the worker's turn retries."""

    def __init__(self, redis: Redis, defaults: Defaults) -> None:
        self._redis = redis
        self.defaults = defaults

    async def get(self, chat_id: int) -> ChatSettings:
        try:
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_settings(chat_id)))
        except RedisError as exc:
            if not is_passing(exc):
                raise
            raise StorageError(f"reading settings of chat {chat_id}: {exc}") from None
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
        try:
            mapping = cast(dict[Any, Any], fields)  # redis-py's Mapping is invariant in its keys
            await self._redis.hset(keys.chat_settings(chat_id), mapping=mapping)
        except RedisError as exc:
            if not is_passing(exc):
                raise
            raise StorageError(f"writing settings of chat {chat_id}: {exc}") from None

    async def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """Carry a group's settings over to the supergroup it became (the new chat wins)."""
        try:
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_settings(old_chat_id)))
            if raw:
                new_key = keys.chat_settings(new_chat_id)
                for name, value in raw.items():
                    await self._redis.hsetnx(new_key, name, value)
                await self._redis.delete(keys.chat_settings(old_chat_id))
        except RedisError as exc:
            if not is_passing(exc):
                raise
            raise StorageError(f"moving settings of chat {old_chat_id}: {exc}") from None

    async def reset(self, chat_id: int) -> None:
        try:
            await self._redis.delete(keys.chat_settings(chat_id))
        except RedisError as exc:
            if not is_passing(exc):
                raise
            raise StorageError(f"resetting settings of chat {chat_id}: {exc}") from None
