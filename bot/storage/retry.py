"""The one retry policy for Redis: which failures pass, and how long to wait between tries.

A passing failure is one where the same command may succeed a moment later: the connection
dropped or timed out, the server is loading, read-only after a failover, or out of memory.
Each redis-py call already retries a dropped connection once (``bot.storage.redis``); this is
the outer loop for callers that must not give up while Redis is away. A store's
``StorageError`` says the same as a passing failure (stores raise it only for those).

Every loop that tries a Redis step again is ``Attempts`` (``retrying`` is its one-call form),
the generic loop of ``bot.retry`` with this policy:

    async for attempt in Attempts("reading the queue", stop=stop):
        with attempt:
            entries = await queue.read(...)

An attempt that fails with a failure ``when`` accepts (by default a passing one) is logged and
tried again after the backoff; any other error is raised at once.
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
)
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot import retry
from bot.errors import StorageError
from bot.retry import Attempt

__all__ = ["Attempt", "Attempts", "is_failure", "is_passing", "retrying", "storage_errors"]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

FIRST_DELAY = 0.2
MAX_DELAY = 5.0


def is_passing(exc: BaseException) -> bool:
    """True when trying the same command again later may succeed."""
    if isinstance(exc, StorageError):
        return True
    if isinstance(exc, ConnectionError | RedisTimeoutError | BusyLoadingError | OSError):
        return True
    if isinstance(exc, ReadOnlyError | OutOfMemoryError):  # a failover, a full memory: passing
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith(("OOM", "READONLY", "LOADING"))


def is_failure(exc: BaseException) -> bool:
    """True for any failure of a Redis step, passing or not: what a loop that must outlive
    anything Redis says (the worker's reads and heartbeat, the reminder clock) waits out."""
    return isinstance(exc, RedisError | OSError | StorageError)


class Attempts(retry.Attempts):
    """Tries of a Redis step until one succeeds (``bot.retry.Attempts``): after a failed one, a
    warning naming ``doing`` and a wait of ``first`` seconds doubling up to ``most``. Ends
    without success when ``stop`` is set (at once, even mid-wait); past ``within`` seconds the
    last failure is raised. ``quiet`` logs the failures at debug level (a wait for a server to
    start)."""

    def __init__(
        self,
        doing: str,
        *,
        first: float = FIRST_DELAY,
        most: float = MAX_DELAY,
        when: Callable[[BaseException], bool] = is_passing,
        stop: asyncio.Event | None = None,
        within: float | None = None,
        quiet: bool = False,
    ) -> None:
        super().__init__(
            f"{doing}: Redis unavailable",
            when=when,
            first=first,
            most=most,
            stop=stop,
            within=within,
            level=logging.DEBUG if quiet else logging.WARNING,
            logger=log,
        )


async def retrying(call: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``await call(*args, **kwargs)``, waiting out passing failures with backoff (0.2 s doubling
    up to 5 s) for as long as they last; any other error is raised at once."""
    async for attempt in Attempts(getattr(call, "__name__", "command")):
        with attempt:
            return await call(*args, **kwargs)
    raise AssertionError("Attempts without a stop end only in success")


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
