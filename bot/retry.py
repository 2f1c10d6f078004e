"""Trying a step again after it failed: ``Attempts`` is the one loop every retrying caller uses.

::

    async for attempt in Attempts("getUpdates failed", when=passing, first=1.0, most=30.0):
        with attempt:
            updates = await fetch()

An attempt that fails with an error ``when`` accepts is logged (``getUpdates failed (the error);
trying again in 2.0 s``) and tried again after a wait; any other error is raised at once. The
wait is the server's own when it named one (``after``: Telegram's ``retry_after``); else a
backoff of ``first`` seconds after the first failure, doubling (or growing by ``first`` each
time, ``linear``) up to ``most``, and spread by ``jitter`` so that callers refused together do
not come back together. The tries end without success when ``stop`` is set (at once, even
mid-wait); after ``tries`` tries, or when the next one would start past ``within`` seconds, the
last failure is raised.

Which failures pass, and how long to wait for each kind of service, is the caller's policy
(Redis's is ``bot.storage.retry``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from types import TracebackType

__all__ = ["Attempt", "Attempts", "describe"]

log = logging.getLogger(__name__)

# A longer run of doublings would overflow a float; 2 ** 64 times any first delay is past any
# cap a caller gives.
_MOST_DOUBLINGS = 64


def describe(error: BaseException) -> str:
    """``error`` as the logs name it: its kind, and its message when it has one."""
    text = str(error)
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__


class Attempt:
    """One try of a step: ``with attempt:`` keeps a failure ``Attempts`` waits out."""

    def __init__(self, number: int, when: Callable[[BaseException], bool]) -> None:
        self.number = number  # 0 for the first try
        self.error: BaseException | None = None
        self._when = when

    @property
    def again(self) -> bool:
        """A try after a failure (a step whose answer was lost may have been done)."""
        return self.number > 0

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception) or not self._when(exc):
            return False
        self.error = exc
        return True


class Attempts:
    """Tries of a step until one succeeds (see the module's description).

    ``failed`` begins the log line of each failure waited out, naming what is tried again
    ("getUpdates failed", "Telegram error on sendVoice"); the line is written at ``level`` (or
    the level ``level`` gives for the failure) to ``logger``. ``after`` gives the wait a
    server named for a failure (``None``: none), waited as it is: neither capped nor spread.
    ``tries`` counts every try, whatever failed; given as a function it says how many tries in
    all a failure of that kind allows."""

    def __init__(
        self,
        failed: str,
        *,
        when: Callable[[BaseException], bool],
        first: float,
        most: float = math.inf,
        linear: bool = False,
        jitter: float = 0.0,
        after: Callable[[BaseException], float | None] | None = None,
        tries: int | Callable[[BaseException], int] | None = None,
        stop: asyncio.Event | None = None,
        within: float | None = None,
        level: int | Callable[[BaseException], int] = logging.WARNING,
        logger: logging.Logger | None = None,
    ) -> None:
        self.failed = failed
        self._when = when
        self._first = first
        self._most = most
        self._linear = linear
        self._jitter = jitter
        self._after = after
        self._tries = tries
        self._stop = stop
        self._within = within
        self._level = level
        self._log = logger or log
        self._deadline: float | None = None
        self._last: Attempt | None = None

    def __aiter__(self) -> Attempts:
        return self

    async def __anext__(self) -> Attempt:
        last = self._last
        loop = asyncio.get_running_loop()
        if last is None:
            if self._within is not None:
                self._deadline = loop.time() + self._within
            return self._next(0)
        error = last.error
        if error is None:
            raise StopAsyncIteration
        tries = self._tries(error) if callable(self._tries) else self._tries
        if tries is not None and last.number + 1 >= tries:
            raise error
        delay = self.delay(last.number, error)
        if self._deadline is not None and loop.time() + delay > self._deadline:
            raise error
        self._report(error, delay, last.number + 2, tries)
        if self._stop is None:
            await asyncio.sleep(delay)
        else:
            try:
                async with asyncio.timeout(delay):
                    await self._stop.wait()
            except TimeoutError:
                pass
            if self._stop.is_set():
                raise StopAsyncIteration
        return self._next(last.number + 1)

    def delay(self, number: int, error: BaseException) -> float:
        """The wait after try ``number`` (0 for the first) failed with ``error``."""
        named = self._after(error) if self._after is not None else None
        if named is not None:
            return named
        growth = number + 1 if self._linear else 2.0 ** min(number, _MOST_DOUBLINGS)
        delay = min(self._first * growth, self._most)
        if self._jitter:
            delay *= random.uniform(1 - self._jitter, 1 + self._jitter)
        return delay

    def _report(self, error: BaseException, delay: float, coming: int, tries: int | None) -> None:
        level = self._level(error) if callable(self._level) else self._level
        if tries is None:
            self._log.log(level, "%s (%s); trying again in %.1f s",
                          self.failed, describe(error), delay)  # fmt: skip
        else:
            self._log.log(level, "%s (%s); try %d of %d in %.1f s",
                          self.failed, describe(error), coming, tries, delay)  # fmt: skip

    def _next(self, number: int) -> Attempt:
        self._last = Attempt(number, self._when)
        return self._last
