"""The turn queue against a real Redis: order per chat across workers, at-least-once with a
done mark, takeover from a dead worker, backlog bound, rate limit, session cap."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.core.admission import Admission, AdmissionRules
from bot.domain import Admitted, Limits, TurnJob
from bot.errors import Busy, RateLimited
from bot.queue.worker import TurnWorker, WorkerOptions
from bot.storage import keys
from bot.storage.turn_queue import TurnQueue


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


class Producer:
    """Queues jobs the way the receiver does (``TurnQueue.admit``), with no limits in the way."""

    def __init__(self, redis: Redis, **rules: int) -> None:
        self.queue = TurnQueue(redis, session_cap=8)
        self.rules = {
            "max_backlog": 100,
            "rate_window_index": 0,
            "rate_limit": 0,
            "rate_window": 60,
        }
        self.rules.update(rules)

    async def enqueue(self, job: TurnJob) -> Admitted:
        result = await self.queue.admit(job, budgets=[], prices=(0.0, 0.0), **self.rules)
        return result.outcome


@contextlib.asynccontextmanager
async def workers(
    redis: Redis, handler, *names: str, session_cap: int = 8, **options: float
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            TurnWorker(
                TurnQueue(redis, session_cap=session_cap),
                handler,
                WorkerOptions(name=n, gate_poll=0.02, **options),
            ).run(stop)
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
    producer = Producer(redis)
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
    producer = Producer(redis)
    job = TurnJob(chat_id=7, message_id=70)
    assert await producer.enqueue(job) is Admitted.QUEUED
    assert await producer.enqueue(job) is Admitted.DUPLICATE
    # a second entry of the same turn (say a Redis restored from an older copy)
    await redis.xadd(keys.TURNS_STREAM, {"job": job.dumps()})
    seen: list[int] = []

    async def handler(j: TurnJob) -> None:
        seen.append(j.message_id)

    async with workers(redis, handler, "w1"):
        await wait_until(lambda: bool(seen))
        await asyncio.sleep(0.3)
    assert seen == [70]
    assert await redis.zscore(keys.chat_order(7), "70") < 0  # its done mark
    assert await redis.xlen(keys.TURNS_STREAM) == 0
    # and a redelivered update of the answered message is not queued again
    assert await producer.enqueue(job) is Admitted.DUPLICATE


async def test_a_dead_workers_turn_is_taken_over_after_the_visibility_timeout(
    redis: Redis,
) -> None:
    producer = Producer(redis)
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
    producer = Producer(redis)
    await redis.xgroup_create(keys.TURNS_STREAM, keys.TURNS_GROUP, id="0", mkstream=True)
    await producer.enqueue(TurnJob(chat_id=4, message_id=1))
    await redis.xreadgroup(keys.TURNS_GROUP, "host-a", {keys.TURNS_STREAM: ">"}, count=1)
    seen: list[int] = []

    async def handler(job: TurnJob) -> None:
        seen.append(job.message_id)

    async with workers(redis, handler, "host-a", visibility_timeout=600):
        await wait_until(lambda: seen == [1], timeout=5)


async def test_backlog_bound_and_rate_limit(redis: Redis) -> None:
    rules = AdmissionRules(limits=Limits(), max_backlog=2, rate_limit=3, rate_window=60)
    admission = Admission(TurnQueue(redis, session_cap=8), rules)
    assert await admission.admit(TurnJob(chat_id=5, message_id=0, user_id=50))
    assert await admission.admit(TurnJob(chat_id=5, message_id=1, user_id=50))
    with pytest.raises(Busy):
        await admission.admit(TurnJob(chat_id=5, message_id=2, user_id=50))
    # a refused turn leaves nothing behind: not in the chat's gate, not in the stream
    assert await redis.zscore(keys.chat_order(5), "2") is None
    assert await redis.xlen(keys.TURNS_STREAM) == 2
    await admission.admit(TurnJob(chat_id=6, message_id=1, user_id=50))
    with pytest.raises(RateLimited) as refused:
        await admission.admit(TurnJob(chat_id=8, message_id=1, user_id=50))
    assert 1 <= refused.value.retry_after <= 60


async def test_session_leases_cap_turns_across_workers(redis: Redis) -> None:
    producer = Producer(redis)
    held = 0
    peak = 0
    done: list[int] = []

    async def handler(job: TurnJob) -> None:
        nonlocal held, peak
        held += 1
        peak = max(peak, held)
        await asyncio.sleep(0.05)
        held -= 1
        done.append(job.chat_id)

    for chat in range(10):
        await producer.enqueue(TurnJob(chat_id=100 + chat, message_id=1))
    async with workers(redis, handler, "w1", "w2", session_cap=2, slot_poll=0.01):
        await wait_until(lambda: len(done) == 10)
    assert peak == 2
    assert await TurnQueue(redis, session_cap=2).sessions_in_use() == 0


async def test_a_dead_holders_lease_expires(redis: Redis) -> None:
    await redis.set(keys.session_slot(0), "dead", px=500)
    producer = Producer(redis)
    await producer.enqueue(TurnJob(chat_id=11, message_id=1))
    seen: list[int] = []

    async def handler(job: TurnJob) -> None:
        seen.append(job.chat_id)

    async with workers(redis, handler, "w1", session_cap=1, slot_poll=0.01):
        await wait_until(lambda: seen == [11], timeout=3)
