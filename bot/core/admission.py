"""Admission: the receiver's decision to answer a message or refuse it, and why.

Everything is decided before anything is downloaded: the kind and declared length and size of
the input, then, in one atomic step in Redis, duplicates, the budgets, the chat's backlog and
the payer's rate limit; an admitted turn is queued in the same step, and holds its worst case
(its declared input, the longest reply ``max_reply_seconds``) on its budgets until its end
settles it with what it used. A budget is used up when what was used and what turns under way
hold reach it, so turns sent at once pass it by one turn's worst case at most, not by as many
turns as were sent. A refusal is raised as a ``Refusal`` or ``InputError``, which the adapter
renders for the user; the queue's refusals are counted by reason (``voicebot_refusals_total``).

Rate limits and budgets count against ``TurnJob.payer`` (the user, or the chat a message was
sent on behalf of); the owners (``owners``, by their real user id) are exempt from budgets.
When the bot's daily spend cap (``Budgets.bot_daily_cost``) refuses a turn, the owners are told,
once a day, through ``alerts``. A reminder pays the same way when it is set
(``AdmissionRules.reminder_charge``), not when it comes due.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from bot import metrics
from bot.core.ports import OwnerAlerts, TurnQueueAdmission
from bot.domain import (
    Admitted,
    Budget,
    Budgets,
    Limits,
    Outcome,
    Prices,
    ReminderCharge,
    TurnJob,
    budget_checks,
)
from bot.errors import Busy, NotAudio, RateLimited, Refusal
from bot.i18n import LANGUAGES, Catalogue

__all__ = ["Admission", "AdmissionRules"]

log = logging.getLogger(__name__)

# Telegram gives a note's duration in whole seconds: the hold allows for the part it left out.
DECLARED_ROUNDING = 1.0


@dataclass(frozen=True)
class AdmissionRules:
    limits: Limits
    budgets: Budgets = field(default_factory=Budgets)
    prices: Prices = field(default_factory=Prices)
    owners: frozenset[int] = frozenset()  # exempt from budgets
    max_backlog: int = 5
    rate_limit: int = 0  # turns per payer per window; 0 = none
    rate_window: int = 60
    max_reply_seconds: float = 60.0  # the reply audio a turn holds on its budgets

    def window(self, now: float) -> int:
        """The number of the rate-limit window ``now`` (Unix time) is in."""
        return int(now) // self.rate_window

    def budgets_for(self, job: TurnJob, now: float) -> list[Budget]:
        """The budgets ``job`` counts against at ``now``: its payer's and its chat's and the
        bot's spend cap; none for an owner."""
        if job.user_id in self.owners:
            return []
        when = dt.datetime.fromtimestamp(now, dt.UTC)
        return budget_checks(self.budgets, job.chat_id, job.payer, now=when)

    def worst_case(self, job: TurnJob) -> tuple[float, float]:
        """The most audio seconds in and out ``job``'s turn is counted to use: its declared
        length (else the longest input allowed; a text has no audio in) and the longest reply."""
        if job.file_id is None:
            seconds_in = 0.0
        elif job.seconds is not None:
            seconds_in = min(job.seconds + DECLARED_ROUNDING, self.limits.max_seconds)
        else:
            seconds_in = self.limits.max_seconds
        return seconds_in, self.max_reply_seconds

    def reminder_charge(self, job: TurnJob, now: float | None = None) -> ReminderCharge | None:
        """What a reminder ``job``'s turn sets costs its payer (``ReminderStore.add``): a place
        in the rate limit and, on the budgets, the longest reply held until it is spoken (its
        input is text). None when neither applies."""
        now = time.time() if now is None else now
        budgets = self.budgets_for(job, now)
        if not (self.rate_limit and job.payer is not None) and not budgets:
            return None
        return ReminderCharge(
            payer_id=job.payer,
            at=now,
            rate_limit=self.rate_limit,
            rate_window=self.rate_window,
            rate_window_index=self.window(now),
            budgets=tuple(budgets),
            prices=self.prices,
            reply_seconds=self.max_reply_seconds,
        )


class Admission:
    """``alerts`` (set by whoever can reach the owners) hears when the bot's daily spend cap
    refuses turns; ``catalogue`` words it."""

    def __init__(
        self,
        turn_queue: TurnQueueAdmission,
        rules: AdmissionRules,
        *,
        alerts: OwnerAlerts | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._queue = turn_queue
        self.rules = rules
        self.alerts = alerts
        self.catalogue = catalogue
        self._told_for: dt.datetime | None = None  # the reset of the cap the owners heard of

    async def admit(self, job: TurnJob) -> bool:
        """Queue ``job``: True when queued, False for a duplicate (a redelivered update). Raises
        ``InputError`` or ``Refusal`` when it cannot be answered. While Redis is away it waits
        (``turn_queue`` does): the update stays unconfirmed, so nothing accepted is lost."""
        try:
            self._check_declared(job)
            outcome = await self._queue_turn(job)
        except Refusal as exc:
            log.info("not queued %s: %s", job.label, exc)
            raise
        except Exception as exc:
            metrics.TURNS.labels(outcome=Outcome.REFUSED).inc()
            log.info("refused %s: %s: %s", job.label, exc.__class__.__name__, exc)
            raise
        if outcome is Admitted.DUPLICATE:
            metrics.TURNS.labels(outcome=Outcome.DUPLICATE).inc()
            log.info("not queued %s: a duplicate", job.label)
        return outcome is Admitted.QUEUED

    def _check_declared(self, job: TurnJob) -> None:
        if job.file_id is not None:
            if not job.listenable:
                raise NotAudio(f"{job.media_kind} is not audio")
            self.rules.limits.check_declared(job.seconds, job.size)

    async def _queue_turn(self, job: TurnJob) -> Admitted:
        """Queued or a duplicate; a refusal is counted (by what the queue said) and raised."""
        rules = self.rules
        # The budgets of the periods the job was made in: its end settles its hold there.
        budgets = rules.budgets_for(job, job.enqueued_at)
        window = rules.window(time.time())
        result = await self._queue.admit(
            job,
            max_backlog=rules.max_backlog,
            rate_window_index=window,
            rate_limit=rules.rate_limit,
            rate_window=rules.rate_window,
            budgets=[budget.check for budget in budgets],
            prices=(rules.prices.input_per_minute, rules.prices.output_per_minute),
            hold=rules.worst_case(job) if budgets else (0.0, 0.0),
        )
        refusal: Refusal
        match result.outcome:
            case Admitted.QUEUED | Admitted.DUPLICATE:
                return result.outcome
            case Admitted.BUSY:
                refusal = Busy(rules.max_backlog)
            case Admitted.RATE_LIMITED:
                retry_after = (window + 1) * rules.rate_window - int(time.time())
                refusal = RateLimited(max(1, retry_after))
            case Admitted.OVER_BUDGET:
                budget = budgets[result.budget]
                if budget.whose == "bot":
                    await self._tell_owners(budget)
                refusal = budget.used_up()
        metrics.TURNS.labels(outcome=result.outcome.outcome or Outcome.REFUSED).inc()
        metrics.REFUSALS.labels(reason=refusal.reason).inc()
        raise refusal

    async def _tell_owners(self, cap: Budget) -> None:
        """The bot's spend cap refused a turn: the owners hear of it once a day (``alerts``
        keeps to that across processes; this process asks once per cap period)."""
        if self.alerts is None or self.catalogue is None or self._told_for == cap.resets_at:
            return
        self._told_for = cap.resets_at
        args = {
            "limit": f"{self.rules.budgets.bot_daily_cost:g}",
            "currency": self.rules.prices.currency,
            "resets": cap.resets_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        catalogue = self.catalogue
        text = "\n\n".join(
            catalogue.get(lang, "owner-alert-bot-budget", **args) for lang in LANGUAGES
        )
        log.warning("the bot's daily spend cap (%s %s) is reached; telling the owners",
                    args["limit"], args["currency"])  # fmt: skip
        try:
            await self.alerts.tell_owners("bot-budget", text)
        except Exception as exc:  # the refusal goes out whatever became of the alert
            log.warning("cannot tell the owners of the spend cap: %s", exc.__class__.__name__)
