"""The reminder clock: every worker process looks for due reminders about once a second and
moves them into the turn queue (``ReminderStore.fire_due``: one atomic step per reminder, so
however many processes look at once, each reminder is queued once). From there a reminder is a
turn like any other: taken by one worker, in its chat's order, resumed after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from bot import metrics
from bot.storage.reminders import Reminder, ReminderStore
from bot.storage.retry import Attempts, is_failure

__all__ = ["ReminderClock"]

log = logging.getLogger(__name__)


class ReminderClock:
    """Looks every ``poll`` seconds, and right when the soonest reminder it knows of is due
    (so a reminder is late by milliseconds, not by up to ``poll``)."""

    def __init__(
        self,
        reminders: ReminderStore,
        *,
        poll: float = 1.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.reminders = reminders
        self.poll = poll
        self.now = now

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set. Redis away is waited out (a reminder comes late, never lost)."""
        while not stop.is_set():
            fired: list[Reminder] = []
            next_due: float | None = None
            async for attempt in Attempts(
                "reminders: looking for due ones",
                first=self.poll,
                most=self.poll,
                when=is_failure,
                stop=stop,
            ):
                with attempt:
                    fired, next_due = await self.reminders.tick(self.now())
            for reminder in fired:
                metrics.REMINDERS_FIRED.inc()
                log.info("reminder %s of chat %s is due: queued", reminder.id, reminder.chat_id)
            wait = self.poll
            if next_due is not None:
                wait = min(wait, max(0.0, next_due - self.now()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
