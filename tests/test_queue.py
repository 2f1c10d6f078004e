"""The turn queue against a real Redis: order per chat across workers, at-least-once with an
idempotency mark, takeover from a dead worker, backlog bound, rate limit, session cap."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.queue.jobs import TurnJob
from bot.queue.producer import Outcome, TurnProducer
from bot.queue.slots import RedisSlots
from bot.queue.worker import TurnWorker, WorkerOptions
from bot.storage import keys


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@contextlib.asynccontextmanager
async def workers(redis: Redis, handler, *names: str, **options: float) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            TurnWorker(redis, handler, WorkerOptions(name=n, gate_poll=0.02, **options)).run(stop)
        )
        for n in names
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def wait_until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_turns_of_one_chat_run_in_order_across_workers_others_concurrently(
    redis: Redis,
) -> None:
    producer = TurnProducer(redis, max_backlog=100)
    log: list[tuple[str, int, int]] = []
    running: dict[int, int] = {}
    overlap = []

    async def handler(job: TurnJob) -> None:
        running[job.chat_id] = running.get(job.chat_id, 0) + 1
        if running[job.chat_id] > 1:
            overlap.append(job.chat_id)
        log.append(("start", job.chat_id, job.message_id))
        await asyncio.sleep(random.uniform(0.01, 0.05))
        running[job.chat_id] -= 1
        log.append(("end", job.chat_id, job.message_id))

    for message_id in range(1, 9):
        for chat in (1, 2, 3):
            await producer.enqueue(TurnJob(chat_id=chat, message_id=message_id))
    async with workers(redis, handler, "w1", "w2", "w3"):
        await wait_until(lambda: len([x for x in log if x[0] == "end"]) == 24)
    assert not overlap
    for chat in (1, 2, 3):
        starts = [m for kind, c, m in log if kind == "start" and c == chat]
        assert starts == list(range(1, 9))
    # chats ran side by side: some chat started before another chat's first turn ended
    first_end = next(i for i, x in enumerate(log) if x[0] == "end")
    assert len({c for kind, c, _ in log[:first_end] if kind == "start"}) > 1
    assert await redis.xlen(keys.TURNS_STREAM) == 0


async def test_duplicates_and_answered_turns_are_not_answered_twice(redis: Redis) -> None:
    producer = TurnProducer(redis)
    job = TurnJob(chat_id=7, message_id=70)
    assert (await producer.enqueue(job)).outcome is Outcome.QUEUED
    assert (await producer.enqueue(job)).outcome is Outcome.DUPLICATE
    # a redelivered entry (say the producer crashed after XADD and Telegram resent the update)
    await redis.xadd(keys.TURNS_STREAM, {"job": job.dumps()})
    seen: list[int] = []

    async def handler(j: TurnJob) -> None:
        seen.append(j.message_id)

    async with workers(redis, handler, "w1"):
        await wait_until(lambda: bool(seen))
        await asyncio.sleep(0.3)
    assert seen == [70]
    assert await redis.exists(keys.turn_done(7, 70))
    assert await redis.xlen(keys.TURNS_STREAM) == 0


async def test_a_dead_workers_turn_is_taken_over_after_the_visibility_timeout(
    redis: Redis,
) -> None:
    producer = TurnProducer(redis)
    await redis.xgroup_create(keys.TURNS_STREAM, keys.TURNS_GROUP, id="0", mkstream=True)
    await producer.enqueue(TurnJob(chat_id=9, message_id=1))
    # "dead" takes the entry and never finishes it
    taken = await redis.xreadgroup(keys.TURNS_GROUP, "dead", {keys.TURNS_STREAM: ">"}, count=1)
    assert taken
    await producer.enqueue(TurnJob(chat_id=9, message_id=2))
    seen: list[int] = []

    async def handler(job: TurnJob) -> None:
        seen.append(job.message_id)

    async with workers(redis, handler, "alive", visibility_timeout=1.0):
        await wait_until(lambda: len(seen) == 2, timeout=15)
    assert seen == [1, 2]  # the taken-over turn first: the chat's order holds


async def test_a_restarted_worker_resumes_its_own_turns_at_once(redis: Redis) -> None:
    producer = TurnProducer(redis)
    await redis.xgroup_create(keys.TURNS_STREAM, keys.TURNS_GROUP, id="0", mkstream=True)
    await producer.enqueue(TurnJob(chat_id=4, message_id=1))
    await redis.xreadgroup(keys.TURNS_GROUP, "host-a", {keys.TURNS_STREAM: ">"}, count=1)
    seen: list[int] = []

    async def handler(job: TurnJob) -> None:
        seen.append(job.message_id)

    async with workers(redis, handler, "host-a", visibility_timeout=600):
        await wait_until(lambda: seen == [1], timeout=5)


async def test_backlog_bound_and_rate_limit(redis: Redis) -> None:
    producer = TurnProducer(redis, max_backlog=2, rate_limit=3, rate_window=60)
    outcomes = [
        (await producer.enqueue(TurnJob(chat_id=5, message_id=i, user_id=50))).outcome
        for i in range(3)
    ]
    assert outcomes == [Outcome.QUEUED, Outcome.QUEUED, Outcome.BUSY]
    await producer.enqueue(TurnJob(chat_id=6, message_id=1, user_id=50))
    limited = await producer.enqueue(TurnJob(chat_id=8, message_id=1, user_id=50))
    assert limited.outcome is Outcome.RATE_LIMITED
    assert 1 <= limited.retry_after <= 60


async def test_session_slots_are_capped_across_holders(redis: Redis) -> None:
    slots_a = RedisSlots(redis, 2, poll=0.01)
    slots_b = RedisSlots(redis, 2, poll=0.01)
    held = 0
    peak = 0

    async def turn(slots: RedisSlots) -> None:
        nonlocal held, peak
        async with slots.hold():
            held += 1
            peak = max(peak, held)
            await asyncio.sleep(0.05)
            held -= 1

    await asyncio.gather(*(turn(slots_a if i % 2 else slots_b) for i in range(8)))
    assert peak == 2
    assert await slots_a.in_use() == 0


async def test_a_dead_holders_slot_expires(redis: Redis) -> None:
    slots = RedisSlots(redis, 1, lease_seconds=0.5, poll=0.01)
    await redis.zadd(keys.SESSION_SLOTS, {"dead": 0})  # expired long ago
    async with asyncio.timeout(2):
        async with slots.hold():
            pass
