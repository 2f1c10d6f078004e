"""``python -m bot check`` as the operator runs it, against the Bot API and Realtime stand-ins and
a real redis-server: one line per check, every problem at once, no secret in any line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.redis import redis_client
from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn
from stand_ins.redis import free_port
from tests.test_e2e_process import bot_env

BOT_ID = 7012345678
TOKEN = f"{BOT_ID}:AAH-checkTokenTail_0123456789abcdefXY"
KEY = "AQVN-check-realtime-key-0123456789"
# Never in the output, whole or in part.
SECRETS = (TOKEN, TOKEN.partition(":")[2], KEY)
MODEL_QUERY = "?model=gpt://folder/speech-realtime-250923"


async def run_check(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, "check", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode() + err.decode()
    assert "Traceback" not in text, text
    assert not [secret for secret in SECRETS if secret in text], text
    assert process.returncode is not None
    return process.returncode, text.splitlines()


def line_of(lines: list[str], start: str) -> str:
    (line,) = [line for line in lines if line.startswith(start)]
    return line


@pytest.fixture
async def realtime() -> AsyncIterator[RealtimeStandIn]:
    async with RealtimeStandIn(api_key=KEY, profile="yandex") as server:
        yield server


@pytest.fixture
async def api() -> AsyncIterator[BotAPIStandIn]:
    async with BotAPIStandIn(token=TOKEN, bot_id=BOT_ID) as server:
        yield server


def env_for(
    realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, tmp_path: Path, **extra: str
) -> dict[str, str]:
    values = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.url,
        "REALTIME_API_KEY": KEY,
        "REALTIME_URL": realtime.url + MODEL_QUERY,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path / "data"),
    }
    return bot_env(realtime, **(values | extra))


async def test_a_good_set_up_passes_every_check_without_billing_a_second(
    realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, tmp_path: Path
) -> None:
    env = env_for(realtime, api, redis_url, tmp_path, REALTIME_API_KEY=f"Api-Key {KEY}")
    code, lines = await run_check(env, tmp_path)
    assert code == 0, lines
    assert lines[-1] == "every check passed"
    checks = lines[:-1]
    assert all(line.startswith("✓ ") for line in checks), lines
    assert "provider yandex" in line_of(checks, "✓ settings: read")
    # The pasted scheme is dropped, and said so, without the key.
    assert "REALTIME_API_KEY began with 'Api-Key'" in line_of(checks, "✓ settings: note:")
    assert f"@test_voice_bot (id {BOT_ID})" in line_of(checks, "✓ Telegram:")
    assert "voice marina" in line_of(checks, "✓ model:")
    assert "priced as" not in line_of(checks, "✓ model:")  # a model its profile lists
    assert "maxmemory-policy noeviction" in line_of(checks, "✓ Redis:")
    assert "not used" in line_of(checks, "✓ webhook:")
    assert [call.method for call in api.calls] == ["getMe"]
    (session,) = realtime.sessions
    assert session.event_types == ["session.update"]  # the bot's own, and no audio
    assert session.session["audio"]["output"]["voice"] == "marina"
    assert session.headers["authorization"] == f"Api-Key {KEY}"
    # Passed once with these settings: `--once` (scripts/run) does not ask again.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check", "--once", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0 and not out and not err
    assert len(realtime.sessions) == 1 and len(api.calls) == 1
    # Other settings: checked again.
    code, lines = await run_check(env | {"DEFAULT_VOICE": "jane"}, tmp_path)
    assert code == 0 and len(realtime.sessions) == 2
    # A model the profile does not list works, and is said to be priced as the default one.
    code, lines = await run_check(env | {"REALTIME_MODEL": "speech-realtime-270101"}, tmp_path)
    assert code == 0, lines
    assert "priced as speech-realtime-250923" in line_of(lines, "✓ model:")


async def test_malformed_settings_each_get_a_line_and_their_checks_wait(
    realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, tmp_path: Path
) -> None:
    scheme_less = api.url.removeprefix("http://")
    env = env_for(
        realtime, api, redis_url, tmp_path,
        REALTIME_URL="http://" + realtime.url.removeprefix("ws://") + MODEL_QUERY,
        TELEGRAM_API_URL=scheme_less, DEFAULT_VOICE="alice", LOG_LEVEL="loud",
        BOT_MODE="webhook", WEBHOOK_URL="https://bot.example.com:8080/tg/hook",
    )  # fmt: skip
    code, lines = await run_check(env, tmp_path)
    assert code == 1, lines
    assert "no scheme" in line_of(lines, "✗ settings: TELEGRAM_API_URL: must be")
    assert "http:// address" in line_of(lines, "✗ settings: REALTIME_URL: must be")
    assert "'alice' is not a voice of yandex" in line_of(lines, "✗ settings: DEFAULT_VOICE:")
    assert line_of(lines, "✗ settings: LOG_LEVEL:")
    assert "port 8080" in line_of(lines, "✗ webhook: WEBHOOK_URL:")
    assert "TELEGRAM_API_URL" in line_of(lines, "✗ Telegram: not checked")
    assert "REALTIME_URL" in line_of(lines, "✗ model: not checked")
    assert line_of(lines, "✓ Redis:")
    assert lines[-1] == "5 to fix; then run python -m bot check again"
    assert not api.calls and not realtime.sessions


async def test_refusals_each_get_a_line_all_at_once(
    realtime: RealtimeStandIn, api: BotAPIStandIn, redis_url: str, tmp_path: Path
) -> None:
    other_token = f"{BOT_ID}:AAH-wrongTokenTail_0123456789abcdefXY"
    other_key = "AQVN-wrong-realtime-key-0123456789"
    env = env_for(
        realtime, api, redis_url, tmp_path, BOT_TOKEN=other_token, REALTIME_API_KEY=other_key,
        BOT_MODE="webhook", WEBHOOK_URL="https://bot.example.com:8080/tg/hook",
    )  # fmt: skip
    redis = redis_client(redis_url)
    await redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        code, lines = await run_check(env, tmp_path)
    finally:
        await redis.config_set("maxmemory-policy", "noeviction")
        await redis.aclose()
    assert code == 1, lines
    assert other_token not in "\n".join(lines) and other_key not in "\n".join(lines)
    assert line_of(lines, "✓ settings: read")
    assert "BOT_TOKEN was refused" in line_of(lines, "✗ Telegram:")
    model = line_of(lines, "✗ model:")
    assert "refused the key" in model and "HTTP 401" in model and "REALTIME_API_KEY" in model
    redis_line = line_of(lines, "✗ Redis:")
    assert "allkeys-lru" in redis_line and "noeviction" in redis_line
    assert "REDIS_ALLOW_EVICTION" in redis_line
    assert "port 8080" in line_of(lines, "✗ webhook:")
    assert lines[-1] == "4 to fix; then run python -m bot check again"


async def test_nothing_reachable_is_said_per_part(tmp_path: Path) -> None:
    gone = f"127.0.0.1:{free_port()}"
    env = {
        "PATH": "/usr/bin:/bin",
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": f"http://{gone}",
        "REALTIME_API_KEY": KEY,
        "REALTIME_URL": f"ws://{gone}/v1/realtime{MODEL_QUERY}",
        "REDIS_URL": f"redis://:{KEY}@{gone}/0",
        "DATA_DIR": str(tmp_path / "data"),
    }
    code, lines = await run_check(env, tmp_path)
    assert code == 1, lines
    assert "cannot be reached" in line_of(lines, "✗ Telegram:")
    assert "cannot be reached" in line_of(lines, "✗ model:")
    assert f"redis://127.0.0.1:{gone.partition(':')[2]}/0" in line_of(lines, "✗ Redis:")
