"""The turn queue's admission step as the receiver's core takes it
(``bot.core.ports.TurnQueueAdmission``): ``TurnQueue.admit``, waiting out a Redis that is away
with the one retry policy (``retrying``), so the core needs to know nothing of Redis's failures.
While it waits the update stays unconfirmed to Telegram: nothing accepted is lost.
"""

from __future__ import annotations

from bot.domain import AdmitResult, BudgetCheck, TurnJob
from bot.storage.retry import retrying
from bot.storage.turn_queue import TurnQueue

__all__ = ["QueueAdmission"]


class QueueAdmission:
    """``queue``'s admission step, tried again for as long as Redis is away."""

    def __init__(self, queue: TurnQueue) -> None:
        self.queue = queue

    async def admit(
        self,
        job: TurnJob,
        *,
        max_backlog: int,
        rate_window_index: int,
        rate_limit: int,
        rate_window: int,
        budgets: list[BudgetCheck],
        prices: tuple[float, float],
        hold: tuple[float, float] = (0.0, 0.0),
    ) -> AdmitResult:
        """``TurnQueue.admit``, waiting out passing failures."""
        return await retrying(
            self.queue.admit,
            job,
            max_backlog=max_backlog,
            rate_window_index=rate_window_index,
            rate_limit=rate_limit,
            rate_window=rate_window,
            budgets=budgets,
            prices=prices,
            hold=hold,
        )
