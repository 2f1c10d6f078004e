"""Admission: the receiver's decision to answer a message or refuse it, and why.

Everything is decided before anything is downloaded: the kind and declared length and size of
the input, then, in one atomic step in Redis, duplicates, the user's and chat's budgets, the
chat's backlog and the user's rate limit; an admitted turn is queued in the same step. A
refusal is raised as a ``Refusal`` or ``InputError``, which the adapter renders for the user.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from bot import metrics
from bot.core.models import Limits, TurnJob
from bot.errors import Busy, NotAudio, RateLimited, Refusal
from bot.storage.retry import retrying
from bot.storage.turn_queue import Admitted, TurnQueue
from bot.storage.usage import Budgets, Prices, budget_checks

__all__ = ["Admission", "AdmissionRules"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdmissionRules:
    limits: Limits
    budgets: Budgets = field(default_factory=Budgets)
    prices: Prices = field(default_factory=Prices)
    owners: frozenset[int] = frozenset()  # exempt from budgets
    max_backlog: int = 5
    rate_limit: int = 0  # turns per user per window; 0 = none
    rate_window: int = 60


class Admission:
    def __init__(self, turn_queue: TurnQueue, rules: AdmissionRules) -> None:
        self._queue = turn_queue
        self.rules = rules

    async def admit(self, job: TurnJob) -> bool:
        """Queue ``job``: True when queued, False for a duplicate (a redelivered update). Raises
        ``InputError`` or ``Refusal`` when it cannot be answered. While Redis is away it waits:
        the update stays unconfirmed, so nothing accepted is lost."""
        try:
            self._check_declared(job)
            queued = await self._queue_turn(job)
        except Refusal as exc:
            metrics.TURNS.labels(outcome=_outcome(exc)).inc()
            log.info("not queued %s: %s", job.label, exc)
            raise
        except Exception as exc:
            metrics.TURNS.labels(outcome="refused").inc()
            log.info("refused %s: %s: %s", job.label, exc.__class__.__name__, exc)
            raise
        if not queued:
            metrics.TURNS.labels(outcome="duplicate").inc()
            log.info("not queued %s: a duplicate", job.label)
        return queued

    def _check_declared(self, job: TurnJob) -> None:
        if job.file_id is not None:
            if not job.listenable:
                raise NotAudio(f"{job.media_kind} is not audio")
            self.rules.limits.check_declared(job.seconds, job.size)

    async def _queue_turn(self, job: TurnJob) -> bool:
        rules = self.rules
        exempt = job.user_id in rules.owners
        budgets = [] if exempt else budget_checks(rules.budgets, job.chat_id, job.user_id)
        window = int(time.time()) // rules.rate_window
        result = await retrying(
            self._queue.admit,
            job,
            max_backlog=rules.max_backlog,
            rate_window_index=window,
            rate_limit=rules.rate_limit,
            rate_window=rules.rate_window,
            budgets=[budget.check for budget in budgets],
            prices=(rules.prices.input_per_minute, rules.prices.output_per_minute),
        )
        match result.outcome:
            case Admitted.QUEUED:
                return True
            case Admitted.DUPLICATE:
                return False
            case Admitted.BUSY:
                raise Busy(f"chat {job.chat_id} has {rules.max_backlog} turns waiting")
            case Admitted.RATE_LIMITED:
                retry_after = (window + 1) * rules.rate_window - int(time.time())
                raise RateLimited(max(1, retry_after))
            case Admitted.OVER_BUDGET:
                raise budgets[result.budget].used_up()


def _outcome(exc: Refusal) -> str:
    return {"Busy": "busy", "RateLimited": "rate_limited", "OverBudget": "over_budget"}.get(
        exc.__class__.__name__, "refused"
    )
