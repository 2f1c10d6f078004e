"""Long polling stops cleanly: a getUpdates in flight is cancelled and waited for, and a
cancellation of the polling task itself is never swallowed while it waits."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Dispatcher

from bot.telegram.polling import poll


class SlowToStop:
    """A bot whose getUpdates waits for updates that never come and, cancelled, takes a while
    to end (as a request may)."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.calls = 0

    async def __call__(self, request: object, request_timeout: float | None = None) -> list:
        self.calls += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await self.released.wait()
            raise
        return []


async def test_a_stop_waits_for_the_request_in_flight() -> None:
    bot = SlowToStop()
    stop = asyncio.Event()
    task = asyncio.create_task(poll(Dispatcher(), bot, stop, allowed_updates=[]))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.sleep(0.05)
    assert not task.done()  # the request is still ending
    bot.released.set()
    await asyncio.wait_for(task, 1)
    assert bot.calls == 1


async def test_the_callers_cancellation_is_not_swallowed_while_the_request_ends() -> None:
    bot = SlowToStop()
    stop = asyncio.Event()
    task = asyncio.create_task(poll(Dispatcher(), bot, stop, allowed_updates=[]))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.sleep(0.05)  # polling waits for the cancelled request to end
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)
    assert task.cancelled()
    bot.released.set()
