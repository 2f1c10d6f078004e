"""A Redis that may evict keys: the bot reads ``maxmemory-policy`` at start and stops on any
policy but noeviction (unless REDIS_ALLOW_EVICTION), warns when the server will not say, and a
turn whose place in its chat's order gate is gone is never dropped silently as "answered"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.domain import TurnJob
from bot.errors import ConfigError
from bot.queue.worker import TurnWorker, WorkerOptions
from bot.storage import keys
from bot.storage.redis import EmbeddedRedis, check_eviction_policy, redis_client
from bot.storage.turn_queue import TurnQueue
from bot.telegram.runtime import telegram_worker
from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn
from stand_ins.redis import RedisServer, free_port
from tests.bot_harness import receiving_bot
from tests.test_e2e_process import bot_env, stop_bot

EVICTING = ("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
CONFIG_REFUSED = {
    # CONFIG renamed away, as several managed services do
    "renamed": ("--rename-command", "CONFIG", ""),
    # an ACL user without CONFIG: NOPERM
    "no permission": ("--user", "default", "on", "nopass", "~*", "&*", "+@all", "-config"),
}


@contextlib.contextmanager
def redis_server(folder: Path, *args: str) -> Iterator[str]:
    """A real redis-server started with ``args`` (an evicting policy, a refused CONFIG); its
    URL."""
    port = free_port()
    binary = RedisServer(folder).binary
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket_to(port) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
            assert process.poll() is None and time.monotonic() < deadline, "no redis-server"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def socket_to(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=1)


async def start(env: dict[str, str], cwd: Path, *command: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *command, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


# ------------------------------------------------------------------------------- at start


@pytest.mark.parametrize("command", [(), ("worker",)], ids=["bot", "worker"])
async def test_the_bot_will_not_start_on_a_redis_that_may_evict(
    realtime: RealtimeStandIn, tmp_path: Path, command: tuple[str, ...]
) -> None:
    with redis_server(tmp_path, *EVICTING) as url:
        async with BotAPIStandIn() as api:
            env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, REDIS_URL=url)
            process = await start(env, tmp_path, *command)
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), 30)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            assert not api.calls_of("getUpdates") and not api.calls_of("setWebhook")
    (line,) = stderr.decode().strip().splitlines()
    assert process.returncode == 2, line
    assert line.startswith("configuration error: Redis maxmemory-policy is allkeys-lru")
    assert "noeviction" in line and "REDIS_ALLOW_EVICTION" in line


async def test_with_eviction_allowed_it_runs_and_warns(
    realtime: RealtimeStandIn, tmp_path: Path
) -> None:
    with redis_server(tmp_path, *EVICTING) as url:
        async with BotAPIStandIn() as api:
            env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, REDIS_URL=url,
                          REDIS_ALLOW_EVICTION="true")  # fmt: skip
            bot = await start(env, tmp_path)
            try:
                api.push_message("text", chat_id=5, user_id=5, text="/start")
                await api.wait_for("sendMessage", timeout=30)
            finally:
                log = await stop_bot(bot)
    (warning,) = [line for line in log.splitlines() if "maxmemory-policy" in line]
    assert "WARNING" in warning and "allkeys-lru" in warning
    assert "REDIS_ALLOW_EVICTION" in warning


@pytest.mark.parametrize("refusal", list(CONFIG_REFUSED))
async def test_a_redis_that_will_not_tell_its_policy_gets_a_warning_and_the_bot_goes_on(
    realtime: RealtimeStandIn, tmp_path: Path, refusal: str
) -> None:
    with redis_server(tmp_path, *CONFIG_REFUSED[refusal]) as url:
        async with BotAPIStandIn() as api:
            env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, REDIS_URL=url)
            bot = await start(env, tmp_path)
            try:
                api.push_message("text", chat_id=5, user_id=5, text="/start")
                await api.wait_for("sendMessage", timeout=30)
            finally:
                log = await stop_bot(bot)
    (warning,) = [line for line in log.splitlines() if "maxmemory-policy" in line]
    assert "WARNING" in warning and "cannot read maxmemory-policy" in warning


async def test_the_embedded_redis_never_evicts_and_the_check_tells_them_apart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedded = EmbeddedRedis(tmp_path / "data")
    await embedded.start()
    client = redis_client(embedded.url)
    try:
        assert (await client.config_get("maxmemory-policy"))["maxmemory-policy"] == "noeviction"
        with caplog.at_level(logging.WARNING):
            await check_eviction_policy(client, allow_eviction=False)
        assert "maxmemory-policy" not in caplog.text
    finally:
        await client.aclose()
        await embedded.stop()
    with redis_server(tmp_path, "--maxmemory-policy", "volatile-lru") as url:
        client = redis_client(url)
        try:
            with pytest.raises(ConfigError, match="maxmemory-policy is volatile-lru"):
                await check_eviction_policy(client, allow_eviction=False)
        finally:
            await client.aclose()


# ---------------------------------------------------------------- a turn the gate lost


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def admit(queue: TurnQueue, job: TurnJob) -> None:
    result = await queue.admit(
        job, max_backlog=100, rate_window_index=0, rate_limit=0, rate_window=60, budgets=[],
        prices=(0.0, 0.0),
    )  # fmt: skip
    assert result.outcome.value == "queued"


async def test_a_turn_whose_gate_was_evicted_is_told_not_dropped_as_answered(
    redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """What an evicting Redis does under memory pressure: the chat's gate key goes while its
    first turn waits; the next message makes a new gate with only itself. The first turn is
    neither answered out of order nor dropped as "already answered": the log says why (ERROR)
    and its user is told; the second is answered as usual."""
    queue = TurnQueue(redis, session_cap=4)
    waiting, later = TurnJob(chat_id=41, message_id=1), TurnJob(chat_id=41, message_id=2)
    await admit(queue, waiting)
    await redis.delete(keys.chat_order(41))  # evicted
    await admit(queue, later)
    answered: list[int] = []
    told: list[int] = []

    async def answer(job: TurnJob) -> None:
        answered.append(job.message_id)

    async def tell(job: TurnJob) -> None:
        told.append(job.message_id)

    worker = TurnWorker(queue, answer, WorkerOptions(name="w", gate_poll=0.02), on_give_up=tell)
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO):
        task = asyncio.create_task(worker.run(stop))
        async with asyncio.timeout(10):
            while len(answered) + len(told) < 2:
                await asyncio.sleep(0.01)
        stop.set()
        await task
    assert (answered, told) == ([2], [1])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "chat=41 msg=1" in errors[0].getMessage()
    assert "order gate" in errors[0].getMessage()
    assert "already answered" not in caplog.text
    assert await redis.xlen(keys.TURNS_STREAM) == 0  # both entries finished


async def test_a_lone_turn_whose_gate_key_is_gone_is_told_to_its_user(
    realtime: RealtimeStandIn, redis_url: str, redis: Redis
) -> None:
    """End to end: the receiver queues a private chat's question, the gate key is evicted
    before a worker takes it; the user hears that something went wrong (so asks again), and the
    model is never asked."""
    async with BotAPIStandIn() as api, receiving_bot(api, realtime, redis_url) as app:
        question = api.push_message("text", chat_id=77, user_id=77, text="What time is it?")
        async with asyncio.timeout(10):
            while not await redis.xlen(keys.TURNS_STREAM):
                await asyncio.sleep(0.02)
        await redis.delete(keys.chat_order(77))  # evicted
        stop = asyncio.Event()
        worker = asyncio.create_task(telegram_worker(app.services, app.bot).run(stop))
        try:
            (told,) = await api.wait_for("sendMessage", timeout=15)
        finally:
            stop.set()
            await worker
    assert told.params["chat_id"] in (77, "77")
    assert "Something went wrong" in told.params["text"]
    assert str(question["message"]["message_id"]) in str(told.params.get("reply_parameters"))
    assert not api.calls_of("sendVoice")
    assert not realtime.sessions
