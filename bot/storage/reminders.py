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
  by the queue's one enqueue rule (``ENQUEUE_LUA``), with the gate member and score its turn's
  ``TurnJob`` gives (right after the message that asked for it).

A reminder is charged when it is set (``ReminderCharge``, given to ``add``): in the script that
adds it, it takes a place in its asker's rate limit and holds the most its turn can cost
(``ReminderCharge.reply_seconds`` of output: its input is text) on each budget, as admission
does for a message (one copy of each rule: ``bot.storage.turn_queue``'s ``RATE_LUA`` and
``bot.storage.usage``'s ``BUDGET_LUA``), or it is refused with a ``LimitReached`` the model
passes on (``ReminderRateLimited``, ``ReminderOverBudget``). Its entry lists the usage hashes
it holds (``held``); its turn is not admitted again when due: the usage its end records settles
the hold (``UsageLedger.record``), and a cancelled reminder drops it.

Every key a script touches is given in its KEYS (``tick`` reads the due members first, then
moves them in one script given their chats' keys), but ``cancel`` and ``clear`` drop the holds
on the usage hashes an entry lists, and ``add``, ``cancel``, ``clear`` and ``tick`` touch a
chat's keys and global ones together, so the store needs one Redis (or a cluster's single slot),
as the turn queue does.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import math
import re
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from bot.domain import Prices, ReminderCharge, TurnJob
from bot.errors import LimitReached, ReminderOverBudget, ReminderRateLimited, ToolFailed
from bot.storage import keys
from bot.storage.retry import storage_errors
from bot.storage.turn_queue import ENQUEUE_LUA, ORDER_TTL_MS, RATE_LUA
from bot.storage.usage import BUDGET_LUA, budget_argv, hold_id, to_ms

__all__ = ["Reminder", "ReminderStore"]

log = logging.getLogger(__name__)

SEQ = "seq"
# A reminder asked for again by the same message, of the same text, due within this many
# seconds of the first, is the first (a turn tried again computes "in 20 minutes" a little later).
SAME_WITHIN = 300.0
MAX_TEXT_CHARS = 1000  # a reminder's text is spoken back: a sentence or two, not a letter
# The job is written before its id is known (the script gives it): the id goes in its place,
# in the job and in its hold id.
_ID_PLACEHOLDER = "#ID#"
_ID = re.compile(r"[#rR]?\s*(\d{1,12})")

# ``template`` with the reminder's id where ``placeholder`` is (the first time).
_WITH_ID = """
local function with_id(template, placeholder, id)
  local s, e = string.find(template, placeholder, 1, true)
  if not s then return template end
  return string.sub(template, 1, s - 1) .. id .. string.sub(template, e + 1)
end
"""

# KEYS: the chat's reminders, the due set, the payer's rate counter ('' = none), then the usage
# hashes of the budgets to charge. ARGV: chat id, due time (as Python wrote it), now, horizon
# seconds, max per chat, the job JSON with the id placeholder, the placeholder, the asking
# message id, the text, SAME_WITHIN, the rate limit and window, the hold in and out (ms), the
# hold id with the placeholder, then the budgets (``budget_argv``) from ARGV[16]. A waiting
# reminder the same message asked for, of the same text and about the same time, is returned as
# it is ({'same', id, its entry}), charged nothing more. In compact JSON an unescaped
# '"reminder_id":"' can only be the field itself (quotes inside strings are escaped).
_ADD = (
    BUDGET_LUA
    + RATE_LUA
    + _WITH_ID
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
local over = over_budget(4, 16, '')
if over >= 0 then return {'over', tostring(over)} end
if not take_rate_slot(rate, rate_limit, rate_window) then return {'rate', ''} end
local id = tostring(redis.call('HINCRBY', reminders, 'seq', 1))
local field = '"reminder_id":"' .. ARGV[7] .. '"'
local s, e = string.find(job, field, 1, true)
if not s then return redis.error_reply('the job has no reminder id placeholder') end
job = string.sub(job, 1, s - 1) .. '"reminder_id":"' .. id .. '"' .. string.sub(job, e + 1)
local held = ''
if #KEYS > 3 and hold_in + hold_out > 0 then
  -- The hold goes by the id its turn settles it with (``hold_id``).
  hold_budgets(4, 16, with_id(ARGV[15], ARGV[7], id), hold_in, hold_out)
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

# Drops hold ``hold`` from the usage hashes KEYS[first] to KEYS[last]: those a reminder's entry
# lists (``held``), given by the caller that read it (its entry never changes).
_DROP_HOLDS = """
local function drop_holds(first, last, hold)
  for i = first, last do release_hold(KEYS[i], hold) end
end
"""

# KEYS: the chat's reminders, the due set, then the usage hashes its entry lists. ARGV: the id,
# its due set member, its hold id. The entry, or nil.
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
drop_holds(3, #KEYS, ARGV[3])
return raw
"""
)

# KEYS: the chat's reminders, the due set, then for each reminder the usage hashes its entry
# lists. ARGV: the chat id, then for each reminder its id, its hold id and how many hashes its
# entry lists. Each one still waiting is cancelled (``seq`` stays); returns how many.
_CLEAR = (
    BUDGET_LUA
    + _DROP_HOLDS
    + """
local reminders, due = KEYS[1], KEYS[2]
local n, k = 0, 3
for a = 2, #ARGV, 3 do
  local id, hold, held = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  if redis.call('HDEL', reminders, id) == 1 then
    redis.call('ZREM', due, ARGV[1] .. ':' .. id)
    drop_holds(k, k + held - 1, hold)
    n = n + 1
  end
  k = k + held
end
return n
"""
)

# KEYS: the due set, the turn stream, then for each due reminder its chat's reminders and order
# gate ('' both: a due set member naming no chat) and the usage hashes its entry lists. ARGV: the
# gate's lifetime (ms), then for each due reminder its due set member, its id, the gate member
# and score of its turn ('' member: its entry is unreadable), its hold id and how many hashes its
# entry lists. Each due reminder this call takes off the due set (so one caller moves it, however
# many look at once) leaves its chat's hash and is queued as ``TurnQueue.admit`` queues a turn
# (``ENQUEUE_LUA``), without its limits: a reminder was charged when it was set. Returns the
# {member, entry} pairs queued, and when the next reminder is due (as text; empty when none
# waits). A reminder the gate refuses (its turn is there already) is not run again: what it
# holds on budgets is dropped.
_FIRE = (
    BUDGET_LUA
    + _DROP_HOLDS
    + ENQUEUE_LUA
    + """
local due, stream, order_ttl = KEYS[1], KEYS[2], ARGV[1]
local fired = {}
local k = 3
for a = 2, #ARGV, 6 do
  local reminders, order = KEYS[k], KEYS[k + 1]
  local member, id, gate, score = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local hold, held = ARGV[a + 4], tonumber(ARGV[a + 5])
  if redis.call('ZREM', due, member) == 1 and reminders ~= '' then
    local raw = redis.call('HGET', reminders, id)
    if raw then
      redis.call('HDEL', reminders, id)
      local ok, entry = pcall(cjson.decode, raw)
      local job = ok and type(entry) == 'table' and entry.job
      if gate ~= '' and type(job) == 'string' then
        if enqueue(order, stream, gate, score, job, order_ttl) then
          fired[#fired + 1] = {member, raw}
        else
          drop_holds(k + 2, k + 1 + held, hold)
        end
      end
    end
  end
  k = k + 2 + held
end
local next_due = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')[2] or ''
return {fired, next_due}
"""
)


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
        self._fire = redis.register_script(_FIRE)

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
                    *(keys.usage(check.scope, check.ident, check.period) for check in checks),
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
                    hold_id(job),
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
        reminders = keys.chat_reminders(chat_id)
        with storage_errors(f"cancelling a reminder of chat {chat_id}"):
            # Read first, so the script is given the usage hashes the entry holds budgets on.
            entry = await self._redis.hget(reminders, rid)
            if entry is None:
                return None
            raw = await self._cancel(
                [reminders, keys.REMINDERS_DUE, *_held(entry)],
                [rid, f"{chat_id}:{rid}", _hold_of(chat_id, rid)],
            )
        if raw is None:
            return None
        return _parse(chat_id, rid, raw)

    async def clear(self, chat_id: int) -> int:
        """Cancel every waiting reminder of the chat; how many."""
        reminders = keys.chat_reminders(chat_id)
        with storage_errors(f"clearing reminders of chat {chat_id}"):
            # Read first, so the script is given the usage hashes the entries hold budgets on.
            entries = cast(dict[str, str], await self._redis.hgetall(reminders))
            script_keys = [reminders, keys.REMINDERS_DUE]
            args: builtins.list[Any] = [chat_id]
            for rid, entry in entries.items():
                if rid == SEQ:
                    continue
                held = _held(entry)
                script_keys += held
                args += [rid, _hold_of(chat_id, rid), len(held)]
            if len(args) == 1:
                return 0
            return int(await self._clear(script_keys, args))

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
        """``fire_due``, and when the next waiting reminder is due: one round trip while none
        is due, three when some are (the due members, their entries, the move)."""
        with storage_errors("firing due reminders"):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrangebyscore(keys.REMINDERS_DUE, "-inf", repr(float(now)), start=0, num=limit)
                pipe.zrange(keys.REMINDERS_DUE, 0, 0, withscores=True)
                members, head = await pipe.execute()
            if not members:
                return [], float(head[0][1]) if head else None
            due = [_due_member(str(member)) for member in members]
            async with self._redis.pipeline(transaction=False) as pipe:
                for _, chat_id, rid in due:
                    if chat_id is not None:
                        pipe.hget(keys.chat_reminders(chat_id), rid)
                entries = iter(await pipe.execute())
            script_keys = [keys.REMINDERS_DUE, keys.TURNS_STREAM]
            args: builtins.list[Any] = [ORDER_TTL_MS]
            for member, chat_id, rid in due:
                if chat_id is None:
                    script_keys += ["", ""]
                    args += [member, rid, "", 0, "", 0]
                    continue
                raw = next(entries)
                reminder = _parse(chat_id, rid, raw) if raw is not None else None
                held = _held(raw) if raw is not None else []
                script_keys += [keys.chat_reminders(chat_id), keys.chat_order(chat_id), *held]
                if reminder is None:
                    args += [member, rid, "", 0, "", len(held)]
                else:
                    job = reminder.job
                    gate = [job.gate_member, job.gate_score, hold_id(job)]
                    args += [member, rid, *gate, len(held)]
            fired, next_due = await self._fire(script_keys, args)
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


def _held(raw: str | bytes) -> builtins.list[str]:
    """The usage hashes a reminder's entry holds budgets on (its ``held``)."""
    try:
        held = orjson.loads(raw).get("held")
    except (orjson.JSONDecodeError, AttributeError):
        return []
    return [str(key) for key in held] if isinstance(held, builtins.list) else []


def _order(reminder_id: str) -> int:
    return int(reminder_id) if reminder_id.isdigit() else 0


def _due_member(member: str) -> tuple[str, int | None, str]:
    """A due set member ``CHAT:ID`` as itself, its chat (None when it names none) and its id."""
    chat, _, rid = member.partition(":")
    try:
        return member, int(chat), rid
    except ValueError:
        return member, None, rid


def _hold_of(chat_id: int, reminder_id: str) -> str:
    """The hold id of reminder ``reminder_id``'s turn (``hold_id`` of its ``TurnJob``)."""
    return hold_id(TurnJob(chat_id=chat_id, message_id=0, kind="reminder", reminder_id=reminder_id))
