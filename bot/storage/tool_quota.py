"""Per-person daily counts of what the tools did, bounded: e.g. the reminders one person sets a
day, whichever chats they set them in.

Keys: ``vb:{u<PERSON>}:tools:<WHAT>:<YYYYMMDD>`` (``daily_key``), a counter of the UTC day,
expiring two days after it was first counted. The person is ``TurnJob.payer``: the user, or the
chat a message was sent on behalf of.

A slot is taken and checked in one script (two turns at once cannot pass the limit) before the
tool acts, and given back when the tool was refused.
"""

from __future__ import annotations

import datetime as dt

from redis.asyncio import Redis

from bot.storage import keys
from bot.storage.retry import storage_errors

__all__ = ["ToolQuota", "daily_key"]

KEEP_SECONDS = 2 * 86400  # past the day's end in every time zone

# KEYS: the counter. ARGV: the limit, its lifetime. The count after taking one, or -(the count
# there was) when it had reached the limit (nothing taken).
_TAKE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return -n end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""

# KEYS: the counter. One less, never below zero.
_GIVE_BACK = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
"""


daily_key = keys.tool_daily


class ToolQuota:
    """Fails hard: Redis away becomes ``StorageError`` (transient)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._give_back = redis.register_script(_GIVE_BACK)

    async def take(self, person: int, what: str, limit: int, *, now: float) -> int | None:
        """One more ``what`` for ``person`` today (UTC): the count after it, or None (nothing
        taken) when they have done ``limit`` already."""
        key = daily_key(person, what, _day(now))
        with storage_errors(f"counting {what} of {person}"):
            count = int(await self._take([key], [limit, KEEP_SECONDS]))
        return count if count > 0 else None

    async def give_back(self, person: int, what: str, *, now: float) -> None:
        """Undo one ``take`` of today (the tool was refused after all)."""
        key = daily_key(person, what, _day(now))
        with storage_errors(f"counting {what} of {person}"):
            await self._give_back([key], [])


def _day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%d")
