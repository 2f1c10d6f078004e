"""Workers on a bad day, against a real Redis: a restart that serves at once, a stalled worker
that loses its turn and stops it, a turn that kills its worker every time, Redis out of memory,
SIGTERM with Redis away."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.config import load_settings
from bot.core.admission import Admission, AdmissionRules
from bot.domain import Limits, TurnJob
from bot.queue.worker import TurnWorker, WorkerOptions
from bot.storage import keys
from bot.storage.queue_admission import QueueAdmission
from bot.storage.turn_queue import TurnQueue
from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn
from stand_ins.redis import RedisServer
from tests.test_e2e_durability import spawn
from tests.test_e2e_process import bot_env
from tests.test_queue import Producer, wait_until

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def worker(redis: Redis, handler, name: str, *, cap: int = 1, **options: float) -> TurnWorker:
    return TurnWorker(
        TurnQueue(redis, session_cap=cap),
        handler,
        WorkerOptions(name=name, gate_poll=0.02, slot_poll=0.01, **options),
    )


async def seconds_to_answer(redis: Redis, lease_holder: str, lease_ms: int, chat: int) -> float:
    """How long worker "w1" takes to answer a turn while ``lease_holder`` holds the only
    session lease for ``lease_ms``."""
    await redis.set(keys.session_slot(0), lease_holder, px=lease_ms)
    await Producer(redis).enqueue(TurnJob(chat_id=chat, message_id=1))
    answered: list[float] = []
    started = time.perf_counter()

    async def handler(job: TurnJob) -> None:
        answered.append(time.perf_counter() - started)

    stop = asyncio.Event()
    task = asyncio.create_task(worker(redis, handler, "w1").run(stop))
    try:
        await wait_until(lambda: bool(answered), timeout=5)
    finally:
        stop.set()
        await task
    return answered[0]


async def test_a_restarted_worker_frees_its_dead_runs_leases_at_once(redis: Redis) -> None:
    # The dead run of "w1" holds the only session lease for another 10 s.
    answered = await seconds_to_answer(redis, "w1:deadbeef:1-0", 10_000, chat=41)
    assert answered < 2.0  # not the 10 s the dead lease had left


async def test_another_workers_lease_is_left_alone(redis: Redis) -> None:
    answered = await seconds_to_answer(redis, "w2:cafe:1-0", 1_500, chat=42)
    assert answered > 1.0  # it waited for w2's lease to expire


async def test_a_stalled_worker_that_lost_its_turn_stops_it(redis: Redis) -> None:
    await Producer(redis).enqueue(TurnJob(chat_id=43, message_id=1))
    events: list[str] = []

    async def stalled(job: TurnJob) -> None:
        events.append("started")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("stopped")
            raise

    stop = asyncio.Event()
    a = worker(redis, stalled, "a", visibility_timeout=0.6)
    task = asyncio.create_task(a.run(stop))
    try:
        await wait_until(lambda: events == ["started"])
        # Meanwhile "b" took the entry over (after a stall longer than the visibility timeout)
        # and took the chat's lock with its own token.
        pending = await redis.xpending_range(keys.TURNS_STREAM, keys.TURNS_GROUP, "-", "+", 1)
        entry = pending[0]["message_id"]
        await redis.xclaim(keys.TURNS_STREAM, keys.TURNS_GROUP, "b", 0, [entry])
        await redis.set(keys.chat_running(43), "b:feed:" + entry, px=60_000)
        await wait_until(lambda: "stopped" in events, timeout=3)
        await asyncio.sleep(0.5)  # a few more heartbeats: none may take the entry back
        owner = await redis.xpending_range(keys.TURNS_STREAM, keys.TURNS_GROUP, "-", "+", 1)
        assert owner[0]["consumer"] == "b"
        assert await redis.get(keys.chat_running(43)) == "b:feed:" + entry
    finally:
        stop.set()
        await task


async def test_a_turn_that_kills_its_own_worker_is_set_aside(redis: Redis) -> None:
    await redis.xgroup_create(keys.TURNS_STREAM, keys.TURNS_GROUP, id="0", mkstream=True)
    await Producer(redis).enqueue(TurnJob(chat_id=44, message_id=1))
    # Delivered to "host-a" again and again: the worker died mid-turn every time.
    await redis.xreadgroup(keys.TURNS_GROUP, "host-a", {keys.TURNS_STREAM: ">"}, count=1)
    for _ in range(5):
        await redis.xreadgroup(keys.TURNS_GROUP, "host-a", {keys.TURNS_STREAM: "0"}, count=1)
    answered: list[int] = []
    given_up: list[int] = []

    async def handler(job: TurnJob) -> None:
        answered.append(job.chat_id)

    async def give_up(job: TurnJob) -> None:
        given_up.append(job.chat_id)

    stop = asyncio.Event()
    resumed = TurnWorker(
        TurnQueue(redis, session_cap=1), handler,
        WorkerOptions(name="host-a", gate_poll=0.02, max_deliveries=5), on_give_up=give_up,
    )  # fmt: skip
    task = asyncio.create_task(resumed.run(stop))
    try:
        await wait_until(lambda: bool(given_up), timeout=5)
    finally:
        stop.set()
        await task
    assert (answered, given_up) == ([], [44])
    assert await redis.xlen(keys.TURNS_STREAM) == 0


async def test_redis_out_of_memory_is_waited_out(redis: Redis) -> None:
    queue = QueueAdmission(TurnQueue(redis, session_cap=1))  # as bot.app gives it: waits
    admission = Admission(queue, AdmissionRules(limits=Limits()))
    await redis.config_set("maxmemory-policy", "noeviction")
    await redis.config_set("maxmemory", "1")
    try:
        queued = asyncio.create_task(admission.admit(TurnJob(chat_id=45, message_id=1)))
        await asyncio.sleep(0.6)
        assert not queued.done()  # refused with OOM: waiting, not failing
    finally:
        await redis.config_set("maxmemory", "0")
    assert await asyncio.wait_for(queued, 10)
    assert await redis.xlen(keys.TURNS_STREAM) == 1


def test_default_worker_names_differ_by_process_kind() -> None:
    from bot.cli import default_worker_name

    settings = load_settings(_env_file=None)
    assert default_worker_name(settings, "run") != default_worker_name(settings, "worker")
    named = load_settings(_env_file=None, worker_name="mine")
    assert default_worker_name(named, "worker") == "mine"


async def test_sigterm_with_redis_away_exits_within_the_grace_time(
    realtime: RealtimeStandIn, tmp_path: Path
) -> None:
    server = RedisServer()
    server.start()
    try:
        async with BotAPIStandIn() as api:
            env = bot_env(
                realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, REDIS_URL=server.url,
                SHUTDOWN_GRACE="3",
            )  # fmt: skip
            bot = await spawn(env, tmp_path)
            await api.wait_for("deleteWebhook", timeout=30)
            await asyncio.sleep(1.0)  # polling and the worker are running
            server.stop()
            await asyncio.sleep(1.0)
            started = time.perf_counter()
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.communicate(), 20)
            assert time.perf_counter() - started < 3 + 5
    finally:
        server.stop()
