"""Usage accounting and budgets: per chat, per user and in total, by day and month (UTC).

A turn's counters are written in one script: turns, failures, audio seconds and what the turn
cost for the chat, the user and everyone, by day and month, and the model's token counts in the
totals only (no one reads them per chat). The user scope is ``TurnJob.payer``: the user, or the
chat a message was sent on behalf of. Budgets are checked by the receiver inside the turn
queue's admission step (``budget_checks`` says which hashes and limits), which also holds each
admitted turn's worst case on them; the same script that counts a turn's usage drops its hold
(``record(..., settles=job)``; ``release`` when the turn ended with nothing to count), so turns
sent at once pass a budget by one turn's worst case at most.

A turn's cost (the field ``cost``) is its audio by the minute and its text tokens by the
thousand at the prices of the model that answered it, when it answered (``Prices.turn_cost``,
the ledger's prices being those of the worker's ``REALTIME_MODEL``): stored, never recomputed,
so a change of model or of prices leaves what was counted as it was. A hash counted before
costs were stored has seconds and no ``cost``: it is read (``totals``, the budgets'
``used_cost``) as its seconds at the current audio prices, and the first turn counted in it
again stores that figure before adding its own.

Budgets hold under bursts: a usage hash counts what was used (``in_sec``, ``out_sec``, ``cost``)
and what admitted turns hold until they end (``held_in_ms``, ``held_out_ms``, and per turn a
field ``held:<turn id>`` = ``"<in ms> <out ms>"``, the turn id being ``hold_id``). A turn is
admitted while what was used and what is held are below each budget (in cost: the stored cost
and the held seconds at the audio prices, ``Prices.cost``), and then holds its worst case; its
end (``UsageLedger.record``) counts what it used and drops its hold in one script, found by its
turn id, so a turn run again after its worker died settles the same hold once. ``BUDGET_LUA`` is
the one copy of this rule, composed into admission's script (``bot.storage.turn_queue``), a
reminder's charge (``bot.storage.reminders``) and the settlement here.

Budgets: per user and per chat by day and month, in seconds or cost, and the bot-wide spend cap
(``bot_daily_cost``: everyone's estimated cost a UTC day, used and held, in everyone's day hash).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.domain import (
    DAY_TTL,
    MONTH_TTL,
    Budget,
    BudgetCheck,
    Prices,
    Totals,
    TurnJob,
    TurnUsage,
    day_of,
    month_of,
)
from bot.storage import keys
from bot.storage.retry import storage_errors

__all__ = [
    "BUDGET_LUA",
    "UsageLedger",
    "budget_argv",
    "hold_id",
    "to_ms",
]

log = logging.getLogger(__name__)

TOKEN_FIELDS = ("in_audio_tokens", "in_text_tokens", "out_audio_tokens", "out_text_tokens")

# The budget rule and the holds, one copy for every script that checks or holds budgets:
# admission's, a reminder's charge (``ReminderStore.add``), the check of a due reminder
# (``UsageLedger.used_up``) and a turn's settlement (``UsageLedger.record``). KEYS from
# ``first_key`` to the last are usage hashes; ARGV at ``budgets_at`` holds the audio prices a
# minute in and out, then for each hash its maximum seconds, maximum cost and lifetime
# (``budget_argv``). ``over_budget`` is the index of the first budget used up, or -1: used up
# when what was used and what turns under way hold (but turn ``own``'s own hold, '' = none)
# reach its maximum; in cost, what was used is the stored cost (``used_cost``) and what is held
# its seconds at the audio prices. A turn admitted while there is room holds its worst case, so
# turns at once cannot pass a budget together: the most it can be passed by is one turn's worst
# case (and its text tokens, which no hold knows before the turn ends).
BUDGET_LUA = """
-- What a usage hash's turns cost: its stored ``cost``, or (a hash counted before costs were
-- stored: no field) its seconds at the audio prices a minute.
local function used_cost(cost, in_sec, out_sec, price_in, price_out)
  if cost then return tonumber(cost) or 0 end
  return ((tonumber(in_sec) or 0) * price_in + (tonumber(out_sec) or 0) * price_out) / 60
end

local function over_budget(first_key, budgets_at, own)
  local price_in, price_out = tonumber(ARGV[budgets_at]), tonumber(ARGV[budgets_at + 1])
  for i = first_key, #KEYS do
    local v = redis.call('HMGET', KEYS[i], 'in_sec', 'out_sec', 'held_in_ms', 'held_out_ms',
                         'held:' .. own, 'cost')
    local mine_in, mine_out = string.match(v[5] or '', '^(%d+) (%d+)$')
    local held_in = ((tonumber(v[3]) or 0) - (tonumber(mine_in) or 0)) / 1000
    local held_out = ((tonumber(v[4]) or 0) - (tonumber(mine_out) or 0)) / 1000
    local seconds = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0) + held_in + held_out
    local cost = used_cost(v[6], v[1], v[2], price_in, price_out)
                 + (held_in * price_in + held_out * price_out) / 60
    local at = budgets_at + 2 + 3 * (i - first_key)
    local max_seconds, max_cost = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
    if (max_seconds > 0 and seconds >= max_seconds) or (max_cost > 0 and cost >= max_cost) then
      return i - first_key
    end
  end
  return -1
end

-- Hold add_in and add_out (ms) on every budget hash for turn ``id``, once; a hash the hold
-- creates gets the lifetime its usage would.
local function hold_budgets(first_key, budgets_at, id, add_in, add_out)
  if add_in + add_out <= 0 then return end
  for i = first_key, #KEYS do
    local key = KEYS[i]
    if redis.call('HSETNX', key, 'held:' .. id, add_in .. ' ' .. add_out) == 1 then
      redis.call('HINCRBY', key, 'held_in_ms', add_in)
      redis.call('HINCRBY', key, 'held_out_ms', add_out)
      local ttl = tonumber(ARGV[budgets_at + 4 + 3 * (i - first_key)])
      if ttl > 0 and redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ttl) end
    end
  end
end

-- Drop turn ``id``'s hold on one hash, if it holds one there (settled once, however often).
local function release_hold(key, id)
  local held = redis.call('HGET', key, 'held:' .. id)
  if not held then return 0 end
  local inp, out = string.match(held, '^(%d+) (%d+)$')
  redis.call('HDEL', key, 'held:' .. id)
  inp, out = tonumber(inp) or 0, tonumber(out) or 0
  -- (HINCRBY refuses "-0".)
  if inp > 0 then redis.call('HINCRBY', key, 'held_in_ms', -inp) end
  if out > 0 then redis.call('HINCRBY', key, 'held_out_ms', -out) end
  return 1
end
"""

# KEYS: day and month hashes of the chat, of everyone, then of the user (if any), then the two
# monthly top lists, then the hashes a settled turn may hold budgets on. ARGV: failed (0/1),
# input and output seconds, day and month TTL, chat and user ids, the token counts for
# everyone's hashes, how many hashes count, the settled turn's hold id ('' = none), the turn's
# cost, the current audio prices a minute in and out (a hash counted before costs were stored
# gets its seconds' cost at them first). A TTL is set with the first count.
_RECORD = (
    BUDGET_LUA
    + """
local failed, inp, out = ARGV[1] == '1', ARGV[2], ARGV[3]
local hashes, hold = tonumber(ARGV[12]), ARGV[13]
local cost, price_in, price_out = ARGV[14], tonumber(ARGV[15]), tonumber(ARGV[16])
for i = 1, hashes do
  if redis.call('HEXISTS', KEYS[i], 'cost') == 0 then
    local v = redis.call('HMGET', KEYS[i], 'in_sec', 'out_sec')
    local before = used_cost(false, v[1], v[2], price_in, price_out)
    if before > 0 then redis.call('HINCRBYFLOAT', KEYS[i], 'cost', before) end
  end
  if redis.call('HINCRBY', KEYS[i], 'turns', 1) == 1 then
    redis.call('EXPIRE', KEYS[i], i % 2 == 1 and ARGV[4] or ARGV[5])
  end
  if failed then redis.call('HINCRBY', KEYS[i], 'failures', 1) end
  redis.call('HINCRBYFLOAT', KEYS[i], 'cost', cost)
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


def budget_argv(checks: list[BudgetCheck], prices: tuple[float, float]) -> list[Any]:
    """The ARGV of ``BUDGET_LUA`` for ``checks`` (their hashes are the script's last KEYS):
    the audio prices a minute in and out (what held seconds, and seconds counted before costs
    were stored, cost), then each budget's maximum seconds, cost and lifetime."""
    args: list[Any] = [prices[0], prices[1]]
    for check in checks:
        args += [check.max_seconds, check.max_cost, check.ttl]
    return args


def hold_id(job: TurnJob) -> str:
    """The id a turn's hold on its budgets goes by: its chat and its member of the chat's order
    gate (a message id, or ``r<ID>`` for a reminder; never given twice in a chat)."""
    return f"{job.chat_id}:{job.gate_member}"


def to_ms(seconds: float) -> int:
    """Seconds of audio as the whole milliseconds a hold counts (integers add up exactly)."""
    return max(0, round(seconds * 1000))


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
        """Count one turn (one round trip) and what it cost at this ledger's prices (those of
        the model that answered it); with ``settles``, the same step drops what that turn held
        on its budgets since its admission. Degrades quietly: a failure is logged."""
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
            self.prices.turn_cost(turn),
            self.prices.input_per_minute,
            self.prices.output_per_minute,
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
            records = [keys.usage(check.scope, check.ident, check.period) for check in checks]
            index = int(await self._over(records, args))
        return budgets[index] if index >= 0 else None

    async def totals(self, scope: str, ident: int | str, period: str) -> Totals:
        """What one hash counted; its cost as stored, or (a hash counted before costs were
        stored) its seconds at the current audio prices, as ``used_cost`` reads it."""
        raw = cast(dict[str, str], await self._redis.hgetall(keys.usage(scope, ident, period)))
        input_seconds = float(raw.get("in_sec", 0))
        output_seconds = float(raw.get("out_sec", 0))
        stored = raw.get("cost")
        return Totals(
            turns=int(raw.get("turns", 0)),
            failures=int(raw.get("failures", 0)),
            input_seconds=input_seconds,
            output_seconds=output_seconds,
            tokens={name: int(raw.get(name, 0)) for name in TOKEN_FIELDS},
            cost=(
                float(stored)
                if stored is not None
                else self.prices.cost(input_seconds, output_seconds)
            ),
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
