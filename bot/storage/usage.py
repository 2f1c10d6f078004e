"""Usage accounting and budgets: per chat, per user and in total, by day and month (UTC).

A turn's counters are written in one script: turns, failures and audio seconds for the chat,
the user and everyone, by day and month, and the model's token counts in the totals only (no
one reads them per chat). The user scope is ``TurnJob.payer``: the user, or the chat a message
was sent on behalf of. Budgets are checked by the receiver inside the turn queue's admission
step (``budget_checks`` says which hashes and limits), which also holds each admitted turn's
worst case on them; the same script that counts a turn's usage drops its hold
(``record(..., settles=job)``; ``release`` when the turn ended with nothing to count), so turns
sent at once pass a budget by one turn's worst case at most (``bot.storage.turn_queue``).

Budgets: per user and per chat by day and month, in seconds or cost, and the bot-wide spend cap
(``bot_daily_cost``: everyone's estimated cost a UTC day, used and held, in everyone's day hash).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.domain import TurnJob, Usage
from bot.errors import OverBudget
from bot.storage import keys
from bot.storage.retry import storage_errors
from bot.storage.turn_queue import BUDGET_LUA, BudgetCheck, budget_argv, hold_id

__all__ = ["Budget", "Budgets", "Prices", "Totals", "TurnUsage", "UsageLedger", "budget_checks"]

log = logging.getLogger(__name__)

DAY_TTL = 40 * 86_400
MONTH_TTL = 400 * 86_400
TOKEN_FIELDS = ("in_audio_tokens", "in_text_tokens", "out_audio_tokens", "out_text_tokens")

# KEYS: day and month hashes of the chat, of everyone, then of the user (if any), then the two
# monthly top lists, then the hashes a settled turn may hold budgets on. ARGV: failed (0/1),
# input and output seconds, day and month TTL, chat and user ids, the token counts for
# everyone's hashes, how many hashes count, the settled turn's hold id ('' = none). A TTL is
# set with the first count.
_RECORD = (
    BUDGET_LUA
    + """
local failed, inp, out = ARGV[1] == '1', ARGV[2], ARGV[3]
local hashes, hold = tonumber(ARGV[12]), ARGV[13]
for i = 1, hashes do
  if redis.call('HINCRBY', KEYS[i], 'turns', 1) == 1 then
    redis.call('EXPIRE', KEYS[i], i % 2 == 1 and ARGV[4] or ARGV[5])
  end
  if failed then redis.call('HINCRBY', KEYS[i], 'failures', 1) end
  if tonumber(inp) > 0 then redis.call('HINCRBYFLOAT', KEYS[i], 'in_sec', inp) end
  if tonumber(out) > 0 then redis.call('HINCRBYFLOAT', KEYS[i], 'out_sec', out) end
end
local tokens = {'in_audio_tokens', 'in_text_tokens', 'out_audio_tokens', 'out_text_tokens'}
for t = 1, 4 do
  local n = tonumber(ARGV[7 + t])
  if n > 0 then
    redis.call('HINCRBY', KEYS[3], tokens[t], n)
    redis.call('HINCRBY', KEYS[4], tokens[t], n)
  end
end
local seconds = tonumber(inp) + tonumber(out)
if seconds > 0 then
  redis.call('ZINCRBY', KEYS[hashes + 1], seconds, ARGV[6])
  if ARGV[7] ~= '' then redis.call('ZINCRBY', KEYS[hashes + 2], seconds, ARGV[7]) end
end
if hold ~= '' then
  for i = hashes + 3, #KEYS do release_hold(KEYS[i], hold) end
end
return 1
"""
)

# KEYS: the hashes a turn may hold budgets on. ARGV: its hold id. How many holds were dropped.
_RELEASE = (
    BUDGET_LUA
    + """
local n = 0
for i = 1, #KEYS do n = n + release_hold(KEYS[i], ARGV[1]) end
return n
"""
)


@dataclass(frozen=True)
class Prices:
    input_per_minute: float = 0.0
    output_per_minute: float = 0.0
    currency: str = "RUB"

    def cost(self, input_seconds: float, output_seconds: float) -> float:
        return (
            input_seconds * self.input_per_minute + output_seconds * self.output_per_minute
        ) / 60


@dataclass(frozen=True)
class TurnUsage:
    """What one turn used: audio seconds both ways and the model's token counts."""

    input_seconds: float = 0.0
    output_seconds: float = 0.0
    tokens: Usage = field(default_factory=Usage)
    failed: bool = False


@dataclass(frozen=True)
class Totals:
    turns: int = 0
    failures: int = 0
    input_seconds: float = 0.0
    output_seconds: float = 0.0
    tokens: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0

    @property
    def seconds(self) -> float:
        return self.input_seconds + self.output_seconds


@dataclass(frozen=True)
class Budgets:
    """Limits by day and month; 0 = none."""

    user_daily_seconds: float = 0.0
    user_monthly_seconds: float = 0.0
    chat_daily_seconds: float = 0.0
    chat_monthly_seconds: float = 0.0
    user_daily_cost: float = 0.0
    user_monthly_cost: float = 0.0
    chat_daily_cost: float = 0.0
    chat_monthly_cost: float = 0.0
    bot_daily_cost: float = 0.0  # everyone together, a UTC day

    @property
    def any(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class Budget:
    """One budget to check: whose (``user``, ``chat`` or ``bot``: everyone's spend cap), its
    period and when it resets (UTC)."""

    check: BudgetCheck
    whose: str
    period: str  # "day" or "month"
    resets_at: dt.datetime

    def used_up(self) -> OverBudget:
        return OverBudget(self.whose, self.period, self.resets_at)


def day_of(now: dt.datetime) -> str:
    return now.strftime("%Y%m%d")


def month_of(now: dt.datetime) -> str:
    return now.strftime("%Y%m")


class UsageLedger:
    """Counters in Redis hashes; a failure to count is logged, never fails a turn."""

    def __init__(self, redis: Redis, prices: Prices) -> None:
        self._redis = redis
        self.prices = prices
        self._record = redis.register_script(_RECORD)
        self._release = redis.register_script(_RELEASE)
        self._over = redis.register_script(BUDGET_LUA + "return over_budget(1, 2, ARGV[1])")

    def _scopes(self, chat_id: int, user_id: int | None) -> list[tuple[str, int | str]]:
        # Everyone's hashes at positions 3 and 4: the script counts tokens there.
        scopes: list[tuple[str, int | str]] = [("c", chat_id), ("all", "all")]
        if user_id is not None:
            scopes.append(("u", user_id))
        return scopes

    def _hashes(self, chat_id: int, user_id: int | None, when: dt.datetime) -> list[str]:
        """The day and month hashes of the chat, of everyone and of the user, in this order."""
        day, month = day_of(when), month_of(when)
        hashes = []
        for scope, ident in self._scopes(chat_id, user_id):
            hashes += [keys.usage(scope, ident, day), keys.usage(scope, ident, month)]
        return hashes

    def _held_by(self, job: TurnJob) -> list[str]:
        """The hashes ``job`` may hold budgets on: those of its chat, everyone and its payer in
        the periods it was admitted (or, a reminder, set) in (``TurnJob.enqueued_at``)."""
        return self._hashes(
            job.chat_id, job.payer, dt.datetime.fromtimestamp(job.enqueued_at, dt.UTC)
        )

    async def record(
        self,
        chat_id: int,
        user_id: int | None,
        turn: TurnUsage,
        now: dt.datetime | None = None,
        *,
        settles: TurnJob | None = None,
    ) -> None:
        """Count one turn (one round trip); with ``settles``, the same step drops what that
        turn held on its budgets since its admission. Degrades quietly: a failure is logged."""
        now = now or dt.datetime.now(dt.UTC)
        month = month_of(now)
        hashes = self._hashes(chat_id, user_id, now)
        tops = [keys.usage_top("c", month), keys.usage_top("u", month)]
        held = self._held_by(settles) if settles is not None else []
        tokens = turn.tokens
        args = [
            int(turn.failed),
            round(turn.input_seconds, 3),
            round(turn.output_seconds, 3),
            DAY_TTL,
            MONTH_TTL,
            chat_id,
            "" if user_id is None else user_id,
            tokens.input_audio_tokens,
            tokens.input_text_tokens,
            tokens.output_audio_tokens,
            tokens.output_text_tokens,
            len(hashes),
            hold_id(settles) if settles is not None else "",
        ]
        try:
            await self._record([*hashes, *tops, *held], args)
        except RedisError as exc:
            log.warning("cannot record usage: %s", exc)

    async def release(self, job: TurnJob) -> None:
        """Drop what ``job`` held on its budgets: it ended with nothing to count (stopped,
        skipped, given up, a reminder written instead of spoken). Degrades quietly."""
        try:
            await self._release(self._held_by(job), [hold_id(job)])
        except RedisError as exc:
            log.warning("cannot release the budgets held by %s: %s", job.label, exc)

    async def used_up(self, budgets: list[Budget], own: TurnJob | None = None) -> Budget | None:
        """The first of ``budgets`` used up by what was used and what turns under way hold,
        as admission counts them, leaving out ``own``'s own hold (a due reminder, charged when
        it was set, does not count against itself). One round trip. Redis away:
        ``StorageError``."""
        if not budgets:
            return None
        checks = [budget.check for budget in budgets]
        prices = (self.prices.input_per_minute, self.prices.output_per_minute)
        args = [hold_id(own) if own is not None else "", *budget_argv(checks, prices)]
        with storage_errors("reading budgets"):
            index = int(await self._over([check.usage_key for check in checks], args))
        return budgets[index] if index >= 0 else None

    async def totals(self, scope: str, ident: int | str, period: str) -> Totals:
        raw = cast(dict[str, str], await self._redis.hgetall(keys.usage(scope, ident, period)))
        input_seconds = float(raw.get("in_sec", 0))
        output_seconds = float(raw.get("out_sec", 0))
        return Totals(
            turns=int(raw.get("turns", 0)),
            failures=int(raw.get("failures", 0)),
            input_seconds=input_seconds,
            output_seconds=output_seconds,
            tokens={name: int(raw.get(name, 0)) for name in TOKEN_FIELDS},
            cost=self.prices.cost(input_seconds, output_seconds),
        )

    async def top(self, scope: str, period: str, count: int = 5) -> list[tuple[str, float]]:
        rows = cast(
            list[tuple[str, float]],
            await self._redis.zrevrange(
                keys.usage_top(scope, period), 0, count - 1, withscores=True
            ),
        )
        return [(str(member), float(score)) for member, score in rows]

    async def daily(
        self, scope: str, ident: int | str, days: int = 30, now: dt.datetime | None = None
    ) -> list[tuple[dt.date, Totals]]:
        """The last ``days`` days, oldest first."""
        today = (now or dt.datetime.now(dt.UTC)).date()
        dates = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
        return [(d, await self.totals(scope, ident, d.strftime("%Y%m%d"))) for d in dates]


def budget_checks(
    budgets: Budgets, chat_id: int, user_id: int | None, now: dt.datetime | None = None
) -> list[Budget]:
    """The budgets that apply to this payer (``user_id``: ``TurnJob.payer``) and chat now, and
    the bot's daily spend cap (none when no budget is set)."""
    if not budgets.any:
        return []
    now = now or dt.datetime.now(dt.UTC)
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    next_month = dt.datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=dt.UTC)
    candidates: list[tuple[str, int | str | None, str, str, float, float, dt.datetime]] = [
        ("user", user_id, "u", day_of(now), budgets.user_daily_seconds,
         budgets.user_daily_cost, tomorrow),
        ("user", user_id, "u", month_of(now), budgets.user_monthly_seconds,
         budgets.user_monthly_cost, next_month),
        ("chat", chat_id, "c", day_of(now), budgets.chat_daily_seconds,
         budgets.chat_daily_cost, tomorrow),
        ("chat", chat_id, "c", month_of(now), budgets.chat_monthly_seconds,
         budgets.chat_monthly_cost, next_month),
        ("bot", "all", "all", day_of(now), 0.0, budgets.bot_daily_cost, tomorrow),
    ]  # fmt: skip
    return [
        Budget(
            BudgetCheck(
                keys.usage(scope, ident, period),
                max_seconds,
                max_cost,
                DAY_TTL if len(period) == 8 else MONTH_TTL,
            ),
            whose,
            "day" if len(period) == 8 else "month",
            resets,
        )
        for whose, ident, scope, period, max_seconds, max_cost, resets in candidates
        if ident is not None and (max_seconds or max_cost)
    ]
