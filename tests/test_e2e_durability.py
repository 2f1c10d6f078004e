"""Nothing lost: kill -9, SIGTERM, two workers, Redis restarts, many chats at once."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn, Scenario
from stand_ins.redis import RedisServer
from tests.bot_harness import running_bot
from tests.test_e2e_process import bot_env, stop_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants


async def spawn(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def response_requested(realtime: RealtimeStandIn, count: int = 1) -> None:
    async with asyncio.timeout(30):
        while sum("response.create" in s.event_types for s in realtime.sessions) < count:
            await asyncio.sleep(0.02)


@pytest.fixture
async def api() -> AsyncIterator[BotAPIStandIn]:
    async with BotAPIStandIn() as server:
        yield server


def env_for(realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, **extra: str):
    return bot_env(
        realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, REDIS_URL=redis_url,
        SHUTDOWN_GRACE="20", **extra,
    )  # fmt: skip


async def test_kill_9_mid_response_then_restart_answers_exactly_once(
    realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, audio_files, tmp_path: Path
) -> None:
    env = env_for(realtime, api, redis_url, WORKER_NAME="solo")
    realtime.scenario = Scenario(time_to_first_audio=60)  # the model "holds" the response
    bot = await spawn(env, tmp_path)
    api.push_message(
        "voice", chat_id=31, user_id=31, data=audio_files["voice.ogg"].read_bytes(), duration=3
    )
    await response_requested(realtime)
    bot.kill()
    await bot.wait()
    realtime.scenario = Scenario()
    bot = await spawn(env, tmp_path)
    try:
        await api.wait_for("sendVoice", timeout=30)
        await asyncio.sleep(1.5)  # room for a second answer, which must not come
    finally:
        await stop_bot(bot)
    assert len(api.calls_of("sendVoice")) == 1


async def test_sigterm_mid_turn_finishes_the_turn_and_exits_0(
    realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, audio_files, tmp_path: Path
) -> None:
    realtime.scenario = Scenario(time_to_first_audio=1.5)
    bot = await spawn(env_for(realtime, api, redis_url), tmp_path)
    api.push_message(
        "voice", chat_id=32, user_id=32, data=audio_files["voice.ogg"].read_bytes(), duration=3
    )
    await response_requested(realtime)
    bot.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(bot.communicate(), 30)
    assert bot.returncode == 0, stderr.decode()
    assert len(api.calls_of("sendVoice")) == 1


async def test_two_workers_one_chat_five_quick_notes_in_order_none_twice(
    realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, audio_files, tmp_path: Path
) -> None:
    realtime.scenario = Scenario(time_to_first_audio=0.2, reply_seconds=1.0)
    receiver = await spawn(env_for(realtime, api, redis_url, WORKER_NAME="a"), tmp_path)
    worker = await spawn(env_for(realtime, api, redis_url, WORKER_NAME="b"), tmp_path, "worker")
    data = audio_files["voice.ogg"].read_bytes()
    try:
        updates = [
            api.push_message("voice", chat_id=33, user_id=33, data=data, duration=3)
            for _ in range(5)
        ]
        pushed = [update["message"]["message_id"] for update in updates]
        calls = await api.wait_for("sendVoice", count=5, timeout=60)
        await asyncio.sleep(1.0)
    finally:
        await stop_bot(worker)
        await stop_bot(receiver)
    answered = [c.params["reply_parameters"]["message_id"] for c in api.calls_of("sendVoice")]
    assert answered == pushed
    assert len(calls) == 5
    # and the answers did not overlap: each session began after the previous answer was sent
    sessions = sorted(realtime.sessions, key=lambda s: s.t_connected)
    uploads = sorted(c.t_done for c in api.calls_of("sendVoice"))
    for session, previous_upload in zip(sessions[1:], uploads, strict=False):
        assert session.t_connected >= previous_upload - 0.05


async def test_redis_restarted_mid_run_loses_no_turn(
    realtime: RealtimeStandIn, api: BotAPIStandIn, audio_files, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    redis.start()
    bot = await spawn(env_for(realtime, api, redis.url), tmp_path)
    data = audio_files["voice.ogg"].read_bytes()
    try:
        api.push_message("voice", chat_id=34, user_id=34, data=data, duration=3)
        await api.wait_for("sendVoice", timeout=30)
        redis.stop()
        api.push_message("voice", chat_id=34, user_id=34, data=data, duration=3)
        api.push_message("voice", chat_id=35, user_id=35, data=data, duration=3)
        await asyncio.sleep(2.0)  # the bot sees Redis gone and waits
        assert len(api.calls_of("sendVoice")) == 1
        port = redis.port
        redis = RedisServer(tmp_path / "redis")
        redis.port = port
        redis.start()
        await api.wait_for("sendVoice", count=3, timeout=60)
    finally:
        await stop_bot(bot)
        redis.stop()
    assert sorted(int(c.params["chat_id"]) for c in api.calls_of("sendVoice")) == [34, 34, 35]


async def test_fifty_chats_at_once_are_all_answered(
    realtime: RealtimeStandIn, redis_url: str, audio_files
) -> None:
    realtime.scenario = Scenario(time_to_first_audio=0.1, reply_seconds=1.0)
    async with running_bot(realtime, redis_url, max_concurrent_turns=8) as app:
        data = audio_files["voice.ogg"].read_bytes()
        for chat in range(1000, 1050):
            app.api.push_message("voice", chat_id=chat, user_id=chat, data=data, duration=3)
        calls = await app.api.wait_for("sendVoice", count=50, timeout=90)
    assert sorted({int(c.params["chat_id"]) for c in calls}) == list(range(1000, 1050))
    assert all(s.invalid == [] for s in realtime.sessions)
