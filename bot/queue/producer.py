"""Writing accepted turns to the queue, before Telegram's update is confirmed."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.queue.jobs import TurnJob
from bot.storage import keys

__all__ = ["Enqueued", "Outcome", "TurnProducer"]

log = logging.getLogger(__name__)

QUEUED_MARK_SECONDS = 86_400
RETRY_MAX_DELAY = 5.0


class Outcome(enum.Enum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"  # the same message is already queued (a redelivered update)
    BUSY = "busy"  # the chat's backlog is full
    RATE_LIMITED = "rate_limited"  # the user sent too many turns in the window


@dataclass(frozen=True)
class Enqueued:
    outcome: Outcome
    retry_after: int = 0  # seconds, for RATE_LIMITED


class TurnProducer:
    """Enqueues turns. While Redis is away it waits and retries: the update stays unconfirmed,
    so nothing accepted is lost."""

    def __init__(
        self,
        redis: Redis,
        *,
        max_backlog: int = 5,
        rate_limit: int = 0,
        rate_window: int = 60,
    ) -> None:
        self._redis = redis
        self.max_backlog = max_backlog
        self.rate_limit = rate_limit
        self.rate_window = rate_window

    async def enqueue(self, job: TurnJob) -> Enqueued:
        delay = 0.2
        while True:
            try:
                return await self._enqueue(job)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("Redis unavailable while queueing %s (%s); retrying in %.1f s",
                            job.label, exc, delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)

    async def _enqueue(self, job: TurnJob) -> Enqueued:
        # Two round trips: the checks together, then the writes together.
        order_key = keys.chat_order(job.chat_id)
        rate_key = None
        window = int(time.time()) // self.rate_window
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.turn_queued(job.chat_id, job.message_id))
            pipe.zcard(order_key)
            if self.rate_limit and job.user_id is not None:
                rate_key = keys.user_rate(job.user_id, window)
                pipe.incr(rate_key)
                pipe.expire(rate_key, self.rate_window)  # the key names its window: no drift
            checks = await pipe.execute()
        if checks[0]:
            return Enqueued(Outcome.DUPLICATE)
        if checks[1] >= self.max_backlog:
            return Enqueued(Outcome.BUSY)
        if rate_key is not None and checks[2] > self.rate_limit:
            retry_after = (window + 1) * self.rate_window - int(time.time())
            return Enqueued(Outcome.RATE_LIMITED, max(1, retry_after))
        # The order gate first: a crash before XADD leaves the update unconfirmed, and its
        # redelivery adds the same member again (NX), never a second one.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(order_key, {str(job.message_id): job.message_id}, nx=True)
            pipe.xadd(keys.TURNS_STREAM, {"job": job.dumps()})
            pipe.set(keys.turn_queued(job.chat_id, job.message_id), "1", ex=QUEUED_MARK_SECONDS)
            await pipe.execute()
        return Enqueued(Outcome.QUEUED)
