"""The turn queue in Redis: a stream with a consumer group, each chat's order gate, the chat
lock and the global session leases, each step one atomic script.

Keys (``bot.storage.keys``):

- ``vb:turns``: the stream of queued turns; ``vb:workers`` its consumer group.
- ``vb:{CHAT}:order``: sorted set of the chat's turns by message id (``TurnJob.gate_member``
  and ``gate_score``: a reminder sits right after the message that asked for it). A turn
  waiting or running has its message id as score; a finished one stays with the score moved
  below zero (its done mark, so a redelivered update is never answered twice) until a
  thousand newer ones pass it.
- ``vb:{CHAT}:running``: the chat's lock, held by the queue entry whose turn runs.
- ``vb:session:N`` (N below the cap): realtime session leases, each a key with an expiry, so
  a worker that dies frees its leases when they expire and no clock but Redis's decides.

Three steps matter for speed, each one round trip: ``admit`` (duplicate, backlog, rate limit and
budgets checked, the turn's worst case held against its budgets and the turn queued,
atomically), ``take`` (the chat's turn, its lock and a session lease together), ``finish``
(done mark, lock and lease freed, entry acknowledged).

Budgets are checked and held by the rule of ``bot.storage.usage`` (``BUDGET_LUA``), composed
into the admission script. ``ENQUEUE_LUA`` is the one way a turn enters the queue (its place in
the chat's order gate, then its stream entry), shared by admission and the reminders' clock
(``bot.storage.reminders``); ``RATE_LUA`` the one copy of the rate limit, shared by admission
and a reminder's charge.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.domain import AdmitResult, Admitted, BudgetCheck, TurnJob
from bot.errors import StorageError
from bot.storage import keys
from bot.storage.usage import BUDGET_LUA, budget_argv, hold_id, to_ms

__all__ = [
    "ENQUEUE_LUA",
    "ORDER_TTL_MS",
    "RATE_LUA",
    "Taken",
    "TurnQueue",
]

log = logging.getLogger(__name__)

# Finished turns keep a negative score: below every waiting one, so the gate's head query
# (lowest score from 0 up) never sees them, and ZADD NX refuses their message again.
DONE_OFFSET = 2**51
# How many older messages a chat's done marks reach back (a redelivery comes within seconds).
DONE_KEEP = 1000
ORDER_TTL_MS = 7 * 86_400 * 1000

# The rate limit, one copy (admission's and a reminder's charge): one more turn in the payer's
# counter of the window (``keys.user_rate``); false when that passes ``limit`` (0: no limit).
RATE_LUA = """
local function take_rate_slot(key, limit, window)
  if limit <= 0 or key == '' then return true end
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, window) end
  return n <= limit
end
"""

# The one way a turn enters the queue, shared by admission and the reminders' clock: its place
# in its chat's order gate (``member`` and ``score`` as ``TurnJob.gate_member`` and
# ``gate_score`` give them, passed in by Python), the gate kept ``order_ttl`` ms more, then its
# entry in the stream. False, with nothing written, when the gate has the member already
# (waiting, running, or answered: its done mark).
ENQUEUE_LUA = """
local function enqueue(order, stream, member, score, job, order_ttl)
  if redis.call('ZADD', order, 'NX', score, member) == 0 then return false end
  redis.call('PEXPIRE', order, order_ttl)
  redis.call('XADD', stream, '*', 'job', job)
  return true
end
"""

# KEYS: the chat's order gate, the stream, the payer's rate counter ('' = none), then the
# usage hashes of the budgets to check. ARGV: the gate member and score, the job, the backlog,
# the rate limit and window, the turn's hold id and its worst case in and out (ms), the gate's
# lifetime (ms), then the budgets (``budget_argv``) from ARGV[11].
_ADMIT = (
    BUDGET_LUA
    + RATE_LUA
    + ENQUEUE_LUA
    + """
local order, stream, rate = KEYS[1], KEYS[2], KEYS[3]
local member, score, job = ARGV[1], ARGV[2], ARGV[3]
local backlog, rate_limit, rate_window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local hold, hold_in, hold_out = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local over = over_budget(4, 11, '')
if over >= 0 then return {'over', over} end
if redis.call('ZSCORE', order, member) then return {'duplicate', 0} end
if redis.call('ZCOUNT', order, 0, '+inf') >= backlog then return {'busy', 0} end
if not take_rate_slot(rate, rate_limit, rate_window) then return {'rate_limited', 0} end
hold_budgets(4, 11, hold, hold_in, hold_out)
enqueue(order, stream, member, score, job, ARGV[10])
return {'queued', 0}
"""
)

_TAKE = """
local order, lock = KEYS[1], KEYS[2]
local member, token, worker, incarnation = ARGV[1], ARGV[2], ARGV[3], ARGV[7]
local lock_ms, lease_ms, first = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local head = redis.call('ZRANGEBYSCORE', order, 0, '+inf', 'LIMIT', 0, 1)[1]
if head ~= member then
  local score = redis.call('ZSCORE', order, member)
  -- Not in the gate, yet its entry is queued: a finished turn's entry leaves with its done mark,
  -- so the gate lost it (the whole key evicted or expired: 'lost'; the turn alone: 'gone').
  if not score then
    if redis.call('EXISTS', order) == 0 then return {'lost', ''} end
    return {'gone', ''}
  end
  if tonumber(score) < 0 then return {'done', ''} end
  return {'wait', head or ''}
end
-- A lease: the turn's own slot if free (one command while few sessions run), else any free one.
local lease = KEYS[3 + first]
if not redis.call('SET', lease, token, 'NX', 'PX', lease_ms) then
  lease = nil
  local leases = redis.call('MGET', unpack(KEYS, 3))
  for i = 1, #leases do
    if not leases[i] then
      lease = KEYS[2 + i]
      redis.call('SET', lease, token, 'PX', lease_ms)
      break
    end
  end
  if not lease then return {'no_slot', ''} end
end
if not redis.call('SET', lock, token, 'NX', 'PX', lock_ms) then
  -- Held by this worker's previous incarnation (it died; names are unique per process): ours.
  local holder = redis.call('GET', lock) or ''
  if string.sub(holder, 1, #worker) ~= worker
      or string.sub(holder, 1, #incarnation) == incarnation then
    redis.call('DEL', lease)
    return {'locked', ''}
  end
  redis.call('SET', lock, token, 'PX', lock_ms)
end
return {'go', lease}
"""

_FINISH = """
local order, lock, stream, lease = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member, done_score, keep_above = ARGV[1], ARGV[2], ARGV[3]
local entry, group, token = ARGV[4], ARGV[5], ARGV[6]
redis.call('ZADD', order, 'XX', done_score, member)
redis.call('ZREMRANGEBYSCORE', order, '-inf', '(' .. keep_above)
redis.call('PEXPIRE', order, ARGV[7])
if redis.call('GET', lock) == token then redis.call('DEL', lock) end
if lease ~= '' and redis.call('GET', lease) == token then redis.call('DEL', lease) end
redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
return 1
"""

# Heartbeat. KEYS: the stream, then each held turn's lock and lease ('' when not taken yet).
# ARGV: group, consumer, lock and lease lifetimes, then each turn's entry id and token. A turn
# stays this consumer's (XCLAIM resets its idle time) only while its entry is still pending for
# this consumer and, once taken, its lock still holds its token; the others are returned: lost.
_KEEP_ALIVE = """
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local lock_ms, lease_ms = ARGV[3], ARGV[4]
local mine = {}
for _, pending in ipairs(redis.call('XPENDING', stream, group, '-', '+', 100000, consumer)) do
  mine[pending[1]] = true
end
local keep, lost = {}, {}
for i = 1, (#KEYS - 1) / 2 do
  local lock, lease = KEYS[2 * i], KEYS[2 * i + 1]
  local entry, token = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
  local ours = mine[entry] == true
  if ours and lock ~= '' then
    ours = redis.call('GET', lock) == token
    if ours then
      redis.call('PEXPIRE', lock, lock_ms)
      if redis.call('GET', lease) == token then redis.call('PEXPIRE', lease, lease_ms) end
    end
  end
  if ours then keep[#keep + 1] = entry else lost[#lost + 1] = entry end
end
if #keep > 0 then redis.call('XCLAIM', stream, group, consumer, 0, unpack(keep)) end
return lost
"""
# Leases and locks of a worker's earlier incarnation (value prefixed ARGV[1], not ARGV[2]): it
# died, so they are freed at once instead of filling the session cap until they expire.
_FREE_DEAD = """
local n = 0
for i = 1, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if value and string.sub(value, 1, #ARGV[1]) == ARGV[1]
      and string.sub(value, 1, #ARGV[2]) ~= ARGV[2] then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
"""
# Each key is deleted if it still holds the value ARGV[i].
_RELEASE = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then redis.call('DEL', KEYS[i]) end
end
return 1
"""


@dataclass(frozen=True)
class Taken:
    """What ``take`` found: ``go`` (run it, holding ``lease``), ``wait`` (an earlier turn of the
    chat is unfinished: ``head``), ``locked``, ``no_slot``, ``done`` (answered: its done mark),
    or the gate lost it: ``lost`` (the chat's gate key is gone: evicted or expired) or ``gone``
    (the key is there without this turn). A lost or gone turn is not known to be answered."""

    state: str
    head: str = ""
    lock: str = ""  # the chat's lock key held
    lease: str = ""  # the session lease key held
    token: str = ""  # the value of both: this worker incarnation's, for this take


class TurnQueue:
    """Every Redis command of the turn queue. Fails hard (``release`` excepted: best effort):
    callers wrap calls in ``retrying``."""

    def __init__(self, redis: Redis, *, session_cap: int, lease_seconds: float = 10.0) -> None:
        self._redis = redis
        self.session_cap = session_cap
        self.lease_ms = int(lease_seconds * 1000)
        self._slots = [keys.session_slot(i) for i in range(session_cap)]
        self._admit = redis.register_script(_ADMIT)
        self._take = redis.register_script(_TAKE)
        self._finish = redis.register_script(_FINISH)
        self._keep_alive = redis.register_script(_KEEP_ALIVE)
        self._free_dead = redis.register_script(_FREE_DEAD)
        self._release = redis.register_script(_RELEASE)

    # -- the receiver ----------------------------------------------------------------------

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
        """Queue ``job`` unless it is a duplicate, its chat's backlog is full, its payer
        (``TurnJob.payer``) is over the rate limit, or a budget is used up by what was used and
        what other turns hold; all checked and written in one atomic step, with ``hold`` (the
        most audio seconds in and out the turn may use) placed on every budget checked until
        the turn's end settles it (``UsageLedger.record``). The rate limit counts the payer's
        turns in window number ``rate_window_index``."""
        rate_key = None
        if rate_limit and job.payer is not None:
            rate_key = keys.user_rate(job.payer, rate_window_index)
        script_keys = [keys.chat_order(job.chat_id), keys.TURNS_STREAM, rate_key or ""]
        script_keys += [keys.usage(check.scope, check.ident, check.period) for check in budgets]
        args: list[Any] = [job.gate_member, job.gate_score, job.dumps(), max_backlog]
        args += [rate_limit if rate_key else 0, rate_window]
        args += [hold_id(job), to_ms(hold[0]), to_ms(hold[1]), ORDER_TTL_MS]
        args += budget_argv(budgets, prices)
        outcome, index = await self._admit(script_keys, args)
        return AdmitResult(Admitted(outcome), int(index))

    # -- the worker ------------------------------------------------------------------------

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(
                keys.TURNS_STREAM, keys.TURNS_GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @contextlib.asynccontextmanager
    async def _group_kept(self) -> AsyncIterator[None]:
        """A consumer group gone (the stream deleted, a Redis restored from an older copy) is
        made again, and the command's failure raised as passing (``StorageError``): tried again,
        it finds the group."""
        try:
            yield
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()
            raise StorageError(f"the queue's consumer group was gone (made again): {exc}") from None

    async def read(
        self, consumer: str, count: int, *, own: str | None, block_ms: int
    ) -> list[tuple[str, dict[str, str], int]]:
        """Entries for ``consumer``, each with how many times it was delivered: its own pending
        ones after ``own`` (after a restart), or new ones (``own`` None, waiting up to
        ``block_ms``)."""
        async with self._group_kept():
            return await self._read(consumer, count, own=own, block_ms=block_ms)

    async def _read(
        self, consumer: str, count: int, *, own: str | None, block_ms: int
    ) -> list[tuple[str, dict[str, str], int]]:
        reply = await self._redis.xreadgroup(
            keys.TURNS_GROUP,
            consumer,
            {keys.TURNS_STREAM: own or ">"},
            count=count,
            block=None if own else block_ms,
        )
        if not reply:
            return []
        entries = cast(list[list[Any]], reply)[0][1]
        times: dict[str, int] = {}
        if own and entries:
            pending = await self._redis.xpending_range(
                keys.TURNS_STREAM, keys.TURNS_GROUP, min=entries[0][0], max=entries[-1][0],
                count=len(entries), consumername=consumer,
            )  # fmt: skip
            times = {str(p["message_id"]): int(p["times_delivered"]) for p in pending}
        return [(str(e), dict(f or {}), times.get(str(e), 1)) for e, f in entries]

    async def claim_abandoned(
        self, consumer: str, count: int, min_idle_seconds: float
    ) -> list[tuple[str, dict[str, str], int]]:
        """Entries idle for ``min_idle_seconds`` (their worker died), taken over by ``consumer``,
        each with how many times it was delivered."""
        async with self._group_kept():
            return await self._claim_abandoned(consumer, count, min_idle_seconds)

    async def _claim_abandoned(
        self, consumer: str, count: int, min_idle_seconds: float
    ) -> list[tuple[str, dict[str, str], int]]:
        reply = cast(
            list[Any],
            await self._redis.xautoclaim(
                keys.TURNS_STREAM,
                keys.TURNS_GROUP,
                consumer,
                min_idle_time=int(min_idle_seconds * 1000),
                start_id="0-0",
                count=count,
            ),
        )
        claimed: list[tuple[str, dict[str, str], int]] = []
        for entry_id, fields in reply[1] if len(reply) > 1 else []:
            if not fields:
                continue
            pending = await self._redis.xpending_range(
                keys.TURNS_STREAM, keys.TURNS_GROUP, min=entry_id, max=entry_id, count=1
            )
            times = int(pending[0]["times_delivered"]) if pending else 1
            claimed.append((str(entry_id), dict(fields), times))
        return claimed

    async def take(
        self, job: TurnJob, *, worker: str, incarnation: str, token: str, lock_ms: int
    ) -> Taken:
        """The chat's order gate, its lock and a session lease in one atomic step. ``token``
        (starting with ``incarnation``, which starts with ``worker``: this worker's name and a
        colon) becomes the value of both; a lock held by an earlier incarnation of the same
        worker (it died) is taken over."""
        script_keys = [keys.chat_order(job.chat_id), keys.chat_running(job.chat_id)]
        state, detail = await self._take(
            [*script_keys, *self._slots],
            [
                job.gate_member,
                token,
                worker,
                lock_ms,
                self.lease_ms,
                self._slot_for(job),
                incarnation,
            ],
        )
        if state == "go":
            return Taken("go", lock=script_keys[1], lease=str(detail), token=token)
        return Taken(str(state), head=str(detail))

    async def free_dead_incarnation(self, worker: str, incarnation: str) -> int:
        """Free the session leases an earlier incarnation of ``worker`` (values starting with
        ``worker``, not with ``incarnation``) still holds; how many."""
        return int(await self._free_dead(self._slots, [worker, incarnation]))

    def _slot_for(self, job: TurnJob) -> int:
        """The slot a turn tries first: spread over the cap, so while few sessions run the lease
        is one command."""
        return (job.chat_id + job.message_id) % self.session_cap

    async def finish(self, job: TurnJob, entry_id: str, taken: Taken | None) -> None:
        """Mark the turn done, free its lock and lease, acknowledge and delete its entry."""
        await self._finish(
            [
                keys.chat_order(job.chat_id),
                keys.chat_running(job.chat_id),
                keys.TURNS_STREAM,
                taken.lease if taken else "",
            ],
            [
                job.gate_member,
                job.gate_score - DONE_OFFSET,
                job.message_id - DONE_KEEP - DONE_OFFSET,
                entry_id,
                keys.TURNS_GROUP,
                taken.token if taken else "",
                ORDER_TTL_MS,
            ],
        )

    async def release(self, taken: Taken) -> None:
        """Free a take's lock and lease, leaving its entry queued (a worker stopping mid-turn).
        Best effort: with Redis away they expire by themselves."""
        with contextlib.suppress(RedisError, OSError):
            await self._release([taken.lock, taken.lease], [taken.token, taken.token])

    async def drop(self, entry_id: str) -> None:
        """Acknowledge and delete an entry that cannot be read."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(keys.TURNS_STREAM, keys.TURNS_GROUP, entry_id)
            pipe.xdel(keys.TURNS_STREAM, entry_id)
            await pipe.execute()

    async def drop_from_gate(self, chat_id: int, member: str) -> None:
        """Take an orphaned turn (no entry behind it) off the chat's order gate."""
        await self._redis.zrem(keys.chat_order(chat_id), member)

    async def keep_alive(
        self, consumer: str, held: dict[str, Taken | None], lock_ms: int
    ) -> list[str]:
        """Heartbeat for the entries ``consumer`` holds (entry id → its take, None while it
        waits): they, their locks (for ``lock_ms`` more) and leases stay alive while still this
        consumer's. Returns the entries it lost (taken over by another worker after a stall)."""
        if not held:
            return []
        script_keys: list[str] = [keys.TURNS_STREAM]
        args: list[Any] = [keys.TURNS_GROUP, consumer, lock_ms, self.lease_ms]
        for entry_id, taken in held.items():
            script_keys += [taken.lock, taken.lease] if taken else ["", ""]
            args += [entry_id, taken.token if taken else ""]
        lost = await self._keep_alive(script_keys, args)
        return [str(entry_id) for entry_id in lost]

    async def sessions_in_use(self) -> int:
        values = await self._redis.mget(self._slots)
        return sum(1 for value in values if value is not None)

    async def depth(self) -> int:
        return int(await self._redis.xlen(keys.TURNS_STREAM))

    async def healthy(self) -> tuple[bool, dict[str, Any]]:
        """Redis reachable, and how many turns wait (for /healthz)."""
        try:
            await self._redis.ping()
            depth = await self.depth()
        except (RedisError, OSError) as exc:
            return False, {"redis": f"unreachable: {exc.__class__.__name__}"}
        return True, {"redis": "ok", "queue_depth": depth}
