"""Reminders: durable scheduled turns. A reminder waits in Redis until it is due; then one
atomic step moves it into the turn queue as a turn of kind "reminder" (so it is answered by
whichever worker takes it, in its chat's order, surviving restarts and crashes like any turn),
and no reminder is ever moved twice, however many workers look at once.

Keys (``bot.storage.keys``):

- ``vb:{CHAT}:reminders``: hash, reminder id → JSON ``{"due_at": <Unix time>, "job": "<the
  TurnJob JSON>"}`` (the job as a string, so the move into the queue writes the very bytes
  ``TurnJob.dumps`` made: Lua's cjson would round large chat ids if it wrote the job again).
  The field ``seq`` holds the last id given: ids are short numbers ("1", "2", …) a user can say,
  never given twice in a chat, since a turn's id stays in the order gate as its done mark.
- ``vb:reminders:due``: sorted set (global) of every waiting reminder as ``CHAT:ID``, scored by
  its due time.
- ``vb:turns`` and ``vb:{CHAT}:order`` (``bot.storage.turn_queue``): where a due reminder goes,
  its gate member ``r<ID>`` scored right after the message that asked for it.

A reminder is charged when it is set (``ReminderCharge``, given to ``add``): in the script that
adds it, it takes a place in its asker's rate limit and holds the most its turn can cost
(``ReminderCharge.reply_seconds`` of output: its input is text) on each budget, as admission
does for a message (one copy of each rule: ``bot.storage.turn_queue``'s ``RATE_LUA`` and
``BUDGET_LUA``), or it is refused with a ``LimitReached`` the model passes on
(``ReminderRateLimited``, ``ReminderOverBudget``). Its entry lists the usage hashes it holds
(``held``); its turn is not admitted again when due: the usage its end records settles the hold
(``UsageLedger.record``), and a cancelled reminder drops it.

Redis Cluster: ``fire_due`` builds the chat keys from the due set's members inside its script,
``cancel`` and ``clear`` drop the holds on the usage hashes an entry lists, and ``add``,
``cancel`` and ``clear`` touch a chat's hash and the global set together, so the store needs
one Redis (or a cluster's single slot), as the turn queue does.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from bot.domain import TurnJob
from bot.errors import LimitReached, ReminderOverBudget, ReminderRateLimited, ToolFailed
from bot.storage import keys
from bot.storage.retry import storage_errors
from bot.storage.turn_queue import BUDGET_LUA, ORDER_TTL_MS, RATE_LUA, budget_argv, to_ms
from bot.storage.usage import Budget, Prices

__all__ = ["Reminder", "ReminderCharge", "ReminderStore"]

log = logging.getLogger(__name__)

SEQ = "seq"
# A reminder asked for again by the same message, of the same text, due within this many
# seconds of the first, is the first (a turn tried again computes "in 20 minutes" a little later).
SAME_WITHIN = 300.0
MAX_TEXT_CHARS = 1000  # a reminder's text is spoken back: a sentence or two, not a letter
# The job is written before its id is known (the script gives it): the id goes in its place.
_ID_PLACEHOLDER = "#ID#"
_ID = re.compile(r"[#rR]?\s*(\d{1,12})")

# KEYS: the chat's reminders, the due set, the payer's rate counter ('' = none), then the usage
# hashes of the budgets to charge. ARGV: chat id, due time (as Python wrote it), now, horizon
# seconds, max per chat, the job JSON with the id placeholder, the placeholder, the asking
# message id, the text, SAME_WITHIN, the rate limit and window, the hold in and out (ms), then
# the budgets (``budget_argv``) from ARGV[15]. A waiting reminder the same message asked for, of
# the same text and about the same time, is returned as it is ({'same', id, its entry}), charged
# nothing more. In compact JSON an unescaped '"reminder_id":"' can only be the field itself
# (quotes inside strings are escaped).
_ADD = (
    BUDGET_LUA
    + RATE_LUA
    + """
local reminders, due, rate = KEYS[1], KEYS[2], KEYS[3]
local chat, due_text = ARGV[1], ARGV[2]
local due_at, now, horizon = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local max_count, job = tonumber(ARGV[5]), ARGV[6]
local message_id, text, near = tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
local rate_limit, rate_window = tonumber(ARGV[11]), tonumber(ARGV[12])
local hold_in, hold_out = tonumber(ARGV[13]), tonumber(ARGV[14])
if due_at - now > horizon then return {'horizon', ''} end
local fields = redis.call('HGETALL', reminders)
local count = 0
for i = 1, #fields, 2 do
  if fields[i] ~= 'seq' then
    count = count + 1
    local ok, entry = pcall(cjson.decode, fields[i + 1])
    local okj, asked = pcall(cjson.decode, ok and type(entry) == 'table' and entry.job or '')
    if okj and type(asked) == 'table' and tonumber(asked.message_id) == message_id
        and asked.text == text and math.abs((tonumber(entry.due_at) or 0) - due_at) <= near then
      return {'same', fields[i], fields[i + 1]}
    end
  end
end
if count >= max_count then return {'count', tostring(count)} end
local over = over_budget(4, 15, '')
if over >= 0 then return {'over', tostring(over)} end
if not take_rate_slot(rate, rate_limit, rate_window) then return {'rate', ''} end
local id = tostring(redis.call('HINCRBY', reminders, 'seq', 1))
local field = '"reminder_id":"' .. ARGV[7] .. '"'
local s, e = string.find(job, field, 1, true)
if not s then return redis.error_reply('the job has no reminder id placeholder') end
job = string.sub(job, 1, s - 1) .. '"reminder_id":"' .. id .. '"' .. string.sub(job, e + 1)
local held = ''
if #KEYS > 3 and hold_in + hold_out > 0 then
  -- The hold goes by the id its turn settles it with (``hold_id``: chat and gate member).
  hold_budgets(4, 15, chat .. ':r' .. id, hold_in, hold_out)
  local hashes = {}
  for i = 4, #KEYS do hashes[#hashes + 1] = KEYS[i] end
  held = ',"held":' .. cjson.encode(hashes)
end
redis.call('HSET', reminders, id,
  '{"due_at":' .. due_text .. ',"job":' .. cjson.encode(job) .. held .. '}')
redis.call('ZADD', due, due_text, chat .. ':' .. id)
return {'ok', id}
"""
)

# Drops the holds a reminder's entry lists (``held``); the hold id is CHAT:rID, as ``hold_id``.
_DROP_HOLDS = """
local function drop_holds(raw, hold)
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' and type(entry.held) == 'table' then
    for _, key in ipairs(entry.held) do release_hold(key, hold) end
  end
end
"""

# KEYS: the chat's reminders, the due set. ARGV: the id, its due set member, its hold id. The
# entry, or nil.
_CANCEL = (
    BUDGET_LUA
    + _DROP_HOLDS
    + """
local reminders, due, id = KEYS[1], KEYS[2], ARGV[1]
if id == 'seq' then return false end
local raw = redis.call('HGET', reminders, id)
if not raw then return false end
redis.call('HDEL', reminders, id)
redis.call('ZREM', due, ARGV[2])
drop_holds(raw, ARGV[3])
return raw
"""
)

# KEYS: the chat's reminders, the due set. ARGV: the chat id. Keeps ``seq``; returns how many.
_CLEAR = (
    BUDGET_LUA
    + _DROP_HOLDS
    + """
local reminders, due = KEYS[1], KEYS[2]
local fields = redis.call('HGETALL', reminders)
local n = 0
for i = 1, #fields, 2 do
  if fields[i] ~= 'seq' then
    redis.call('HDEL', reminders, fields[i])
    redis.call('ZREM', due, ARGV[1] .. ':' .. fields[i])
    drop_holds(fields[i + 1], ARGV[1] .. ':r' .. fields[i])
    n = n + 1
  end
end
return n
"""
)

# KEYS: the due set, the turn stream. ARGV: now, limit, the chat reminders key and the chat
# order key each as the text before and after the chat's hash tag, the order key's lifetime.
# Each due member leaves the due set and its chat's hash, enters the chat's order gate (as
# TurnJob.gate_member and gate_score say: "r" .. id, message id + 0.5) and, if the gate took
# it, the stream: what TurnQueue.admit does, without its limits (a reminder was charged when it
# was set). Returns the {member, entry} pairs, and when the next reminder is due (as text; empty
# when none waits). A reminder the gate refuses (its turn is there already) is not run again:
# what it holds on budgets is dropped.
_FIRE_DUE = (
    BUDGET_LUA
    + _DROP_HOLDS
    + """
local due, stream = KEYS[1], KEYS[2]
local now, limit = ARGV[1], tonumber(ARGV[2])
local fired = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', due, member)
  local sep = string.find(member, ':', 1, true)
  if sep then
    local chat, id = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
    local reminders = ARGV[3] .. '{' .. chat .. '}' .. ARGV[4]
    local raw = redis.call('HGET', reminders, id)
    if raw then
      redis.call('HDEL', reminders, id)
      local ok, entry = pcall(cjson.decode, raw)
      local job = ok and type(entry) == 'table' and entry.job
      local okj, fields = pcall(cjson.decode, job or '')
      local message_id = okj and type(fields) == 'table' and tonumber(fields.message_id)
      if message_id then
        local order = ARGV[5] .. '{' .. chat .. '}' .. ARGV[6]
        local score = string.format('%.1f', message_id + 0.5)
        if redis.call('ZADD', order, 'NX', score, 'r' .. id) == 1 then
          redis.call('PEXPIRE', order, ARGV[7])
          redis.call('XADD', stream, '*', 'job', job)
          fired[#fired + 1] = {member, raw}
        else
          drop_holds(raw, chat .. ':r' .. id)
        end
      end
    end
  end
end
local next_due = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')[2] or ''
return {fired, next_due}
"""
)


@dataclass(frozen=True)
class ReminderCharge:
    """What setting a reminder costs the one who asks, taken by ``ReminderStore.add`` in the
    script that adds it (or the reminder is refused): a place in ``payer_id``'s rate limit
    (``rate_limit`` turns in window number ``rate_window_index`` of ``rate_window`` seconds, as
    admission counts them), and on each of ``budgets`` (as ``budget_checks`` gives them for the
    payer and the chat at ``at``; none for the owners) a hold of ``reply_seconds`` of output,
    the most a reminder's turn is counted to cost (its input is text), priced at ``prices``.
    The hold stays until the reminder's turn ends (its recorded usage settles it) or the
    reminder is cancelled."""

    payer_id: int | None  # ``TurnJob.payer``: whose rate limit (None: none taken)
    at: float  # Unix time the charge is for: its rate window and its budgets' periods
    rate_limit: int = 0  # turns per window; 0 = none
    rate_window: int = 60
    rate_window_index: int = 0  # int(at) // rate_window
    budgets: tuple[Budget, ...] = ()
    prices: Prices = dataclass_field(default_factory=Prices)
    reply_seconds: float = 0.0

    def retry_after(self) -> int:
        """Seconds until the payer's rate window ends."""
        return max(1, (self.rate_window_index + 1) * self.rate_window - int(self.at))


@dataclass(frozen=True)
class Reminder:
    id: str
    chat_id: int
    text: str
    due_at: float  # Unix time
    job: TurnJob  # the turn that speaks it: kind "reminder", replying to the asking message


class ReminderStore:
    """Fails hard: Redis away becomes ``StorageError`` (transient)."""

    def __init__(
        self, redis: Redis, *, max_per_chat: int = 20, horizon_seconds: float = 366 * 86400
    ) -> None:
        self._redis = redis
        self.max_per_chat = max_per_chat
        self.horizon_seconds = horizon_seconds
        self._add = redis.register_script(_ADD)
        self._cancel = redis.register_script(_CANCEL)
        self._clear = redis.register_script(_CLEAR)
        self._fire_due = redis.register_script(_FIRE_DUE)
        self._reminders_key = _around_tag(keys.chat_reminders)
        self._order_key = _around_tag(keys.chat_order)

    async def add(
        self,
        asking: TurnJob,
        text: str,
        due_at: float,
        *,
        now: float,
        charge: ReminderCharge | None = None,
    ) -> Reminder:
        """Schedule ``text`` at ``due_at`` for the chat of ``asking`` (the turn that asked; the
        reminder replies to its message, and counts against its payer); one the same message
        asked for, of the same text and within ``SAME_WITHIN`` seconds, is returned as it is
        (charged nothing more). With ``charge``, setting it takes a place in the payer's rate
        limit and holds its cost on the budgets, in the same atomic step. Raises
        ``LimitReached`` when the chat has ``max_per_chat`` waiting or ``due_at`` is more than
        ``horizon_seconds`` after ``now``, ``ReminderOverBudget`` when its cost does not fit a
        budget, ``ReminderRateLimited`` when the payer has no place left in the rate limit, and
        ``ToolFailed`` when ``due_at`` is not after ``now``."""
        text = text.strip()
        if not text:
            raise ToolFailed("the reminder has no text: say what to remind of")
        if len(text) > MAX_TEXT_CHARS:
            raise LimitReached(f"a reminder may have at most {MAX_TEXT_CHARS} characters")
        due_at = float(due_at)
        if not math.isfinite(due_at) or due_at <= now:
            raise ToolFailed("the reminder's time has already passed; choose a later time")
        job = TurnJob(
            chat_id=asking.chat_id,
            message_id=asking.message_id,
            user_id=asking.user_id,
            chat_type=asking.chat_type,
            lang=asking.lang,
            thread_id=asking.thread_id,
            text=text,
            kind="reminder",
            reminder_id=_ID_PLACEHOLDER,
            payer_id=asking.payer_id,
            # Charged: the periods its hold is in (its turn's usage settles it from there).
            enqueued_at=charge.at if charge is not None else now,
        )
        chat_id = asking.chat_id
        rate_key, rate_limit, rate_window, hold = "", 0, 60, 0
        checks = []
        if charge is not None:
            if charge.rate_limit and charge.payer_id is not None:
                rate_key = keys.user_rate(charge.payer_id, charge.rate_window_index)
                rate_limit, rate_window = charge.rate_limit, charge.rate_window
            checks = [budget.check for budget in charge.budgets]
            hold = to_ms(charge.reply_seconds)
        prices = charge.prices if charge is not None else Prices()
        with storage_errors(f"adding a reminder to chat {chat_id}"):
            outcome, detail, *rest = await self._add(
                [
                    keys.chat_reminders(chat_id),
                    keys.REMINDERS_DUE,
                    rate_key,
                    *(check.usage_key for check in checks),
                ],
                [
                    chat_id,
                    repr(due_at),
                    repr(float(now)),
                    self.horizon_seconds,
                    self.max_per_chat,
                    job.dumps(),
                    _ID_PLACEHOLDER,
                    asking.message_id,
                    text,
                    SAME_WITHIN,
                    rate_limit,
                    rate_window,
                    0,  # a reminder's turn speaks a text: no audio in
                    hold,
                    *budget_argv(checks, (prices.input_per_minute, prices.output_per_minute)),
                ],
            )
        if outcome == "same":
            # Asked twice (or a turn tried again after its tool ran): one reminder.
            same = _parse(chat_id, str(detail), rest[0])
            if same is not None:
                return same
        if outcome == "horizon":
            days = self.horizon_seconds / 86400
            raise LimitReached(f"a reminder may be set at most {days:g} days ahead")
        if outcome == "count":
            raise LimitReached(
                f"the chat has {detail} reminders waiting, the most it may have; cancel some first"
            )
        if outcome == "over" and charge is not None:
            budget = charge.budgets[int(detail)]
            raise ReminderOverBudget(budget.whose, budget.period, budget.resets_at)
        if outcome == "rate" and charge is not None:
            raise ReminderRateLimited(charge.retry_after())
        reminder_id = str(detail)
        job = dataclasses.replace(job, reminder_id=reminder_id)
        return Reminder(id=reminder_id, chat_id=chat_id, text=text, due_at=due_at, job=job)

    async def list(self, chat_id: int) -> builtins.list[Reminder]:
        """The chat's waiting reminders, soonest first."""
        with storage_errors(f"reading reminders of chat {chat_id}"):
            raw = cast(dict[str, str], await self._redis.hgetall(keys.chat_reminders(chat_id)))
        found = []
        for field, value in raw.items():
            if field == SEQ:
                continue
            reminder = _parse(chat_id, field, value)
            if reminder is not None:
                found.append(reminder)
        found.sort(key=lambda r: (r.due_at, _order(r.id)))
        return found

    async def cancel(self, chat_id: int, reminder_id: str) -> Reminder | None:
        """Cancel one of the chat's reminders (only its own chat's); None when there is no such
        reminder waiting (already due, cancelled, or another chat's)."""
        matched = _ID.fullmatch(str(reminder_id).strip())
        if matched is None:
            return None
        rid = str(int(matched.group(1)))
        with storage_errors(f"cancelling a reminder of chat {chat_id}"):
            raw = await self._cancel(
                [keys.chat_reminders(chat_id), keys.REMINDERS_DUE],
                [rid, f"{chat_id}:{rid}", f"{chat_id}:r{rid}"],
            )
        if raw is None:
            return None
        return _parse(chat_id, rid, raw)

    async def clear(self, chat_id: int) -> int:
        """Cancel every waiting reminder of the chat; how many."""
        with storage_errors(f"clearing reminders of chat {chat_id}"):
            return int(
                await self._clear([keys.chat_reminders(chat_id), keys.REMINDERS_DUE], [chat_id])
            )

    async def migrate(self, old_chat_id: int, new_chat_id: int, *, now: float) -> int:
        """Move a group's waiting reminders to the supergroup it became (each gets a new id
        there; the message that asked stays in the old chat, so the reminder is sent without
        replying). How many moved."""
        moved = 0
        for reminder in await self.list(old_chat_id):
            if await self.cancel(old_chat_id, reminder.id) is None:
                continue  # came due meanwhile: it goes to the old chat's id, which forwards
            asking = dataclasses.replace(reminder.job, chat_id=new_chat_id)
            await self.add(asking, reminder.text, max(reminder.due_at, now + 1), now=now)
            moved += 1
        return moved

    async def fire_due(self, now: float, limit: int = 100) -> builtins.list[Reminder]:
        """Move the reminders due at ``now`` (at most ``limit``) into the turn queue, each in one
        atomic step with its chat's order gate: exactly once, whoever calls at the same time."""
        fired, _ = await self.tick(now, limit)
        return fired

    async def tick(
        self, now: float, limit: int = 100
    ) -> tuple[builtins.list[Reminder], float | None]:
        """``fire_due``, and when the next waiting reminder is due, in the same round trip."""
        with storage_errors("firing due reminders"):
            fired, next_due = await self._fire_due(
                [keys.REMINDERS_DUE, keys.TURNS_STREAM],
                [repr(float(now)), limit, *self._reminders_key, *self._order_key, ORDER_TTL_MS],
            )
        return self._moved(fired), float(next_due) if next_due else None

    def _moved(self, fired: builtins.list[Any]) -> builtins.list[Reminder]:
        moved = []
        for member, raw in fired:
            chat, _, rid = str(member).partition(":")
            reminder = _parse(int(chat), rid, raw)
            if reminder is not None:
                log.info("reminder due: chat=%s reminder=%s", chat, rid)
                moved.append(reminder)
        return moved

    async def next_due(self) -> float | None:
        """When the soonest waiting reminder is due."""
        with storage_errors("reading the next reminder"):
            head = await self._redis.zrange(keys.REMINDERS_DUE, 0, 0, withscores=True)
        return float(head[0][1]) if head else None


def _parse(chat_id: int, reminder_id: str, raw: str | bytes) -> Reminder | None:
    try:
        data: dict[str, Any] = orjson.loads(raw)
        job = TurnJob.loads(data["job"])
        return Reminder(
            id=reminder_id,
            chat_id=chat_id,
            text=job.text or "",
            due_at=float(data["due_at"]),
            job=job,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("skipping an unreadable reminder chat=%s reminder=%s", chat_id, reminder_id)
        return None


def _order(reminder_id: str) -> int:
    return int(reminder_id) if reminder_id.isdigit() else 0


def _around_tag(build: Callable[[int], str]) -> tuple[str, str]:
    """A chat key's text before and after its ``{CHAT}`` hash tag, for a script that builds
    the keys of chats it finds (``keys`` stays the one place key names are made)."""
    head, tag, tail = build(0).partition("{0}")
    if not tag:
        raise ValueError(f"{build.__name__} has no {{chat}} hash tag")
    return head, tail
