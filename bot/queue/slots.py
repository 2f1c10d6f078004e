"""Caps on realtime sessions open at once: per process, or across every worker through Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.storage import keys

__all__ = ["LocalSlots", "RedisSlots", "SessionSlots"]

log = logging.getLogger(__name__)


class SessionSlots(Protocol):
    """Holds one of a limited number of session slots for the duration of a turn."""

    def hold(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class LocalSlots:
    """A cap for one process."""

    def __init__(self, limit: int) -> None:
        self._semaphore = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._semaphore:
            yield


# Atomically drop expired leases and take one if fewer than the limit are held. Redis's own
# clock decides expiry, so workers on machines with skewed clocks agree.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
  return 1
end
return 0
"""
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
"""


class RedisSlots:
    """A cap shared by every worker on one Redis: leases in a sorted set, renewed while held,
    so a worker that dies frees its slots after ``lease_seconds``."""

    def __init__(
        self, redis: Redis, limit: int, *, lease_seconds: float = 30.0, poll: float = 0.05
    ) -> None:
        self._redis = redis
        self.limit = limit
        self._lease_ms = int(lease_seconds * 1000)
        self._poll = poll
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        while True:
            try:
                if await self._acquire([keys.SESSION_SLOTS], [self._lease_ms, self.limit, token]):
                    break
            except RedisError as exc:
                log.warning("session slots unavailable (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            await asyncio.sleep(self._poll)
        renewer = asyncio.create_task(self._keep(token), name="slot-lease")
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            with contextlib.suppress(RedisError):
                await self._redis.zrem(keys.SESSION_SLOTS, token)

    async def _keep(self, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                await self._renew([keys.SESSION_SLOTS], [self._lease_ms, token])
            except RedisError as exc:
                log.warning("cannot renew a session slot: %s", exc)

    async def in_use(self) -> int:
        return int(await self._redis.zcard(keys.SESSION_SLOTS))
