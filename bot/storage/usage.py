"""Usage accounting and budgets: per chat, per user and in total, by day and month (UTC).

A turn's counters are written in one script: turns, failures and audio seconds for the chat,
the user and everyone, by day and month, and the model's token counts in the totals only (no
one reads them per chat). Budgets are checked by the receiver inside the turn queue's admission
step (``budget_checks`` says which hashes and limits).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.core.models import Usage
from bot.errors import OverBudget
from bot.storage import keys
from bot.storage.retry import storage_errors
from bot.storage.turn_queue import BUDGET_LUA, BudgetCheck

__all__ = ["Budget", "Budgets", "Prices", "Totals", "TurnUsage", "UsageLedger", "budget_checks"]

log = logging.getLogger(__name__)

DAY_TTL = 40 * 86_400
MONTH_TTL = 400 * 86_400
TOKEN_FIELDS = ("in_audio_tokens", "in_text_tokens", "out_audio_tokens", "out_text_tokens")

# KEYS: day and month hashes of the chat, of everyone, then of the user (if any), then the two
# monthly top lists. ARGV: failed (0/1), input and output seconds, day and month TTL, chat and
# user ids, then the token counts for everyone's hashes. A TTL is set with the first count.
_RECORD = """
local failed, inp, out = ARGV[1] == '1', ARGV[2], ARGV[3]
local hashes = #KEYS - 2
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
return 1
"""


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

    @property
    def any(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class Budget:
    """One budget to check: whose (``user`` or ``chat``), its period and when it resets (UTC)."""

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
        self._over = redis.register_script(BUDGET_LUA + "return over_budget(1, 1)")

    def _scopes(self, chat_id: int, user_id: int | None) -> list[tuple[str, int | str]]:
        # Everyone's hashes at positions 3 and 4: the script counts tokens there.
        scopes: list[tuple[str, int | str]] = [("c", chat_id), ("all", "all")]
        if user_id is not None:
            scopes.append(("u", user_id))
        return scopes

    async def record(
        self, chat_id: int, user_id: int | None, turn: TurnUsage, now: dt.datetime | None = None
    ) -> None:
        """Count one turn (one round trip). Degrades quietly: a failure is logged."""
        now = now or dt.datetime.now(dt.UTC)
        day, month = day_of(now), month_of(now)
        hashes = []
        for scope, ident in self._scopes(chat_id, user_id):
            hashes += [keys.usage(scope, ident, day), keys.usage(scope, ident, month)]
        tops = [keys.usage_top("c", month), keys.usage_top("u", month)]
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
        ]
        try:
            await self._record([*hashes, *tops], args)
        except RedisError as exc:
            log.warning("cannot record usage: %s", exc)

    async def used_up(self, budgets: list[Budget]) -> Budget | None:
        """The first of ``budgets`` used up, as admission counts it (one round trip). Redis
        away: ``StorageError``."""
        if not budgets:
            return None
        args: list[float] = [self.prices.input_per_minute, self.prices.output_per_minute]
        for budget in budgets:
            args += [budget.check.max_seconds, budget.check.max_cost]
        with storage_errors("reading budgets"):
            index = int(await self._over([b.check.usage_key for b in budgets], args))
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
    """The budgets that apply to this user and chat now (none when no budget is set)."""
    if not budgets.any:
        return []
    now = now or dt.datetime.now(dt.UTC)
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    next_month = dt.datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=dt.UTC)
    candidates: list[tuple[str, int | None, str, str, float, float, dt.datetime]] = [
        ("user", user_id, "u", day_of(now), budgets.user_daily_seconds,
         budgets.user_daily_cost, tomorrow),
        ("user", user_id, "u", month_of(now), budgets.user_monthly_seconds,
         budgets.user_monthly_cost, next_month),
        ("chat", chat_id, "c", day_of(now), budgets.chat_daily_seconds,
         budgets.chat_daily_cost, tomorrow),
        ("chat", chat_id, "c", month_of(now), budgets.chat_monthly_seconds,
         budgets.chat_monthly_cost, next_month),
    ]  # fmt: skip
    return [
        Budget(
            BudgetCheck(keys.usage(scope, ident, period), max_seconds, max_cost),
            whose,
            "day" if len(period) == 8 else "month",
            resets,
        )
        for whose, ident, scope, period, max_seconds, max_cost, resets in candidates
        if ident is not None and (max_seconds or max_cost)
    ]
