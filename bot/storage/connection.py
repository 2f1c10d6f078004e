"""The connection every store of a process shares, as the layers above storage hold it.

``open_redis`` (``bot.storage.redis``) gives it; the run modes and the composition root pass it
on to the stores they build and do nothing else with it, so only this package knows it is
Redis.
"""

from __future__ import annotations

from typing import TypeAlias

from redis.asyncio import Redis

__all__ = ["Connection"]

Connection: TypeAlias = Redis
