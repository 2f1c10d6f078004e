"""The one retry policy for Redis: which failures pass, and how long to wait between tries.

A passing failure is one where the same command may succeed a moment later: the connection
dropped or timed out, the server is loading, read-only after a failover, or out of memory.
Each redis-py call already retries a dropped connection once (``bot.storage.redis``); this is
the outer loop for callers that must not give up while Redis is away. A store's
``StorageError`` says the same as a passing failure (stores raise it only for those).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
)

from bot.errors import StorageError

__all__ = ["is_passing", "retrying", "storage_errors"]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

FIRST_DELAY = 0.2
MAX_DELAY = 5.0


def is_passing(exc: BaseException) -> bool:
    """True when trying the same command again later may succeed."""
    if isinstance(exc, StorageError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | BusyLoadingError | OSError):
        return True
    if isinstance(exc, ReadOnlyError | OutOfMemoryError):  # a failover, a full memory: passing
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith(("OOM", "READONLY", "LOADING"))


async def retrying(call: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``await call(*args, **kwargs)``, waiting out passing failures with backoff (0.2 s doubling
    up to 5 s) for as long as they last; any other error is raised at once."""
    delay = FIRST_DELAY
    while True:
        try:
            return await call(*args, **kwargs)
        except (RedisError, OSError, StorageError) as exc:
            if not is_passing(exc):
                raise
            name = getattr(call, "__name__", "command")
            log.warning("Redis unavailable for %s (%s); retrying in %.1f s", name, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)


@contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Passing Redis failures become ``StorageError`` (``doing`` says what failed); others (a
    script bug) stay as they are."""
    try:
        yield
    except RedisError as exc:
        if not is_passing(exc):
            raise
        raise StorageError(f"{doing}: {exc}") from None
