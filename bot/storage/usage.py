"""Usage accounting and budgets: per chat, per user and in total, by day and month (UTC)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.realtime.protocol import Usage
from bot.storage import keys

__all__ = ["Budgets", "Over", "Prices", "Totals", "TurnUsage", "UsageLedger"]

log = logging.getLogger(__name__)

DAY_TTL = 40 * 86_400
MONTH_TTL = 400 * 86_400
TOKEN_FIELDS = ("in_audio_tokens", "in_text_tokens", "out_audio_tokens", "out_text_tokens")


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
class Over:
    """A budget that is used up: whose (``user`` or ``chat``) and when it resets (UTC)."""

    whose: str
    period: str  # "day" or "month"
    resets_at: dt.datetime


def day_of(now: dt.datetime) -> str:
    return now.strftime("%Y%m%d")


def month_of(now: dt.datetime) -> str:
    return now.strftime("%Y%m")


class UsageLedger:
    """Counters in Redis hashes; a failure to count is logged, never fails a turn."""

    def __init__(self, redis: Redis, prices: Prices) -> None:
        self._redis = redis
        self.prices = prices

    def _scopes(self, chat_id: int, user_id: int | None) -> list[tuple[str, int | str]]:
        scopes: list[tuple[str, int | str]] = [("c", chat_id), ("all", "all")]
        if user_id is not None:
            scopes.append(("u", user_id))
        return scopes

    async def record(
        self, chat_id: int, user_id: int | None, turn: TurnUsage, now: dt.datetime | None = None
    ) -> None:
        now = now or dt.datetime.now(dt.UTC)
        tokens = {
            "in_audio_tokens": turn.tokens.input_audio_tokens,
            "in_text_tokens": turn.tokens.input_text_tokens,
            "out_audio_tokens": turn.tokens.output_audio_tokens,
            "out_text_tokens": turn.tokens.output_text_tokens,
        }
        seconds = turn.input_seconds + turn.output_seconds
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for scope, ident in self._scopes(chat_id, user_id):
                    for period, ttl in ((day_of(now), DAY_TTL), (month_of(now), MONTH_TTL)):
                        key = keys.usage(scope, ident, period)
                        pipe.hincrby(key, "turns", 1)
                        if turn.failed:
                            pipe.hincrby(key, "failures", 1)
                        pipe.hincrbyfloat(key, "in_sec", round(turn.input_seconds, 3))
                        pipe.hincrbyfloat(key, "out_sec", round(turn.output_seconds, 3))
                        for name, value in tokens.items():
                            if value:
                                pipe.hincrby(key, name, value)
                        pipe.expire(key, ttl)
                if seconds:
                    pipe.zincrby(keys.usage_top("c", month_of(now)), seconds, str(chat_id))
                    if user_id is not None:
                        pipe.zincrby(keys.usage_top("u", month_of(now)), seconds, str(user_id))
                await pipe.execute()
        except RedisError as exc:
            log.warning("cannot record usage: %s", exc)

    async def totals(self, scope: str, ident: int | str, period: str) -> Totals:
        raw: dict[str, str] = await self._redis.hgetall(keys.usage(scope, ident, period))  # type: ignore[misc]
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
        rows = await self._redis.zrevrange(
            keys.usage_top(scope, period), 0, count - 1, withscores=True
        )
        return [(str(member), float(score)) for member, score in rows]

    async def daily(
        self, scope: str, ident: int | str, days: int = 30, now: dt.datetime | None = None
    ) -> list[tuple[dt.date, Totals]]:
        """The last ``days`` days, oldest first."""
        today = (now or dt.datetime.now(dt.UTC)).date()
        dates = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
        return [(d, await self.totals(scope, ident, d.strftime("%Y%m%d"))) for d in dates]

    async def over_budget(
        self, budgets: Budgets, chat_id: int, user_id: int | None, now: dt.datetime | None = None
    ) -> Over | None:
        """The first budget this user or chat has used up, or None."""
        if not budgets.any:
            return None
        now = now or dt.datetime.now(dt.UTC)
        tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        next_month = dt.datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=dt.UTC)
        checks: list[tuple[str, int | None, str, str, float, float, dt.datetime]] = [
            ("user", user_id, "u", day_of(now), budgets.user_daily_seconds,
             budgets.user_daily_cost, tomorrow),
            ("user", user_id, "u", month_of(now), budgets.user_monthly_seconds,
             budgets.user_monthly_cost, next_month),
            ("chat", chat_id, "c", day_of(now), budgets.chat_daily_seconds,
             budgets.chat_daily_cost, tomorrow),
            ("chat", chat_id, "c", month_of(now), budgets.chat_monthly_seconds,
             budgets.chat_monthly_cost, next_month),
        ]  # fmt: skip
        try:
            for whose, ident, scope, period, max_seconds, max_cost, resets in checks:
                if ident is None or not (max_seconds or max_cost):
                    continue
                used = await self.totals(scope, ident, period)
                if (max_seconds and used.seconds >= max_seconds) or (
                    max_cost and used.cost >= max_cost
                ):
                    return Over(whose, "day" if len(period) == 8 else "month", resets)
        except RedisError as exc:
            log.warning("cannot check budgets: %s", exc)
        return None
