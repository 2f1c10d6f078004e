"""The turn queue's admission step as the receiver's core takes it
(``bot.core.ports.TurnQueueAdmission``): ``TurnQueue.admit``, waiting out a Redis that is away
with the one retry policy (``retrying``), so the core needs to know nothing of Redis's failures.
While it waits the update stays unconfirmed to Telegram: nothing accepted is lost.
"""

from __future__ import annotations

from typing import Any

from bot.domain import AdmitResult, TurnJob
from bot.storage.retry import retrying
from bot.storage.turn_queue import TurnQueue

__all__ = ["QueueAdmission"]


class QueueAdmission:
    """``queue``'s admission step, tried again for as long as Redis is away."""

    def __init__(self, queue: TurnQueue) -> None:
        self.queue = queue

    async def admit(self, job: TurnJob, **rules: Any) -> AdmitResult:
        """``TurnQueue.admit`` with the same arguments (the port names them), waiting out
        passing failures."""
        return await retrying(self.queue.admit, job, **rules)
