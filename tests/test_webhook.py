"""Webhook mode as Telegram meets it: never open, 401 without the secret, 503 (so Telegram sends
the update again) when the turn cannot be queued within a few seconds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path

import aiohttp

from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn
from stand_ins.redis import RedisServer, free_port
from tests.test_e2e_process import bot_env, start_bot, stop_bot


def start_update(update_id: int, chat: int = 9) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1700000000, "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            "chat": {"id": chat, "type": "private", "first_name": "A"},
            "from": {"id": chat, "is_bot": False, "first_name": "A", "language_code": "en"},
        },
    }  # fmt: skip


def text_update(update_id: int, chat: int) -> dict:
    update = start_update(update_id, chat)
    update["message"]["text"] = "What time is it?"
    update["message"].pop("entities")
    return update


async def test_without_a_configured_secret_the_webhook_is_not_open(
    realtime: RealtimeStandIn, tmp_path: Path
) -> None:
    port = free_port()
    async with BotAPIStandIn() as api:
        env = bot_env(
            realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, DATA_DIR=str(tmp_path / "d"),
            BOT_MODE="webhook", WEBHOOK_URL="https://bot.example.com/tg/hook",
            WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=str(port),
        )  # fmt: skip
        derived = hmac.new(api.token.encode(), b"webhook-secret", hashlib.sha256).hexdigest()
        bot = await start_bot(env, tmp_path)
        try:
            (hook,) = await api.wait_for("setWebhook", timeout=30)
            assert hook.params["secret_token"] == derived
            url = f"http://127.0.0.1:{port}/tg/hook"
            async with aiohttp.ClientSession() as http:
                # a forged update from an owner's id: refused, nothing handled
                async with http.post(url, json=start_update(1)) as response:
                    assert response.status == 401
                headers = {"X-Telegram-Bot-Api-Secret-Token": derived}
                async with http.post(url, json=start_update(2), headers=headers) as response:
                    assert response.status == 200
            (reply,) = await api.wait_for("sendMessage", timeout=10)
            assert "voice assistant" in reply.params["text"]
        finally:
            log = await stop_bot(bot)
        assert derived not in log
        assert len(api.calls_of("sendMessage")) == 1


async def test_an_update_that_cannot_be_queued_gets_503_and_is_taken_when_sent_again(
    realtime: RealtimeStandIn, tmp_path: Path
) -> None:
    port = free_port()
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        async with BotAPIStandIn() as api:
            env = bot_env(
                realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, REDIS_URL=server.url,
                BOT_MODE="webhook", WEBHOOK_URL="https://bot.example.com/tg/hook",
                WEBHOOK_SECRET="s3cret-s3cret", WEBHOOK_HOST="127.0.0.1",
                WEBHOOK_PORT=str(port),
            )  # fmt: skip
            bot = await start_bot(env, tmp_path)
            try:
                await api.wait_for("setWebhook", timeout=30)
                url = f"http://127.0.0.1:{port}/tg/hook"
                headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-s3cret"}
                server.stop()
                async with aiohttp.ClientSession() as http:
                    loop = asyncio.get_running_loop()
                    started = loop.time()
                    async with http.post(url, json=text_update(3, 21), headers=headers) as first:
                        assert first.status == 503
                    assert loop.time() - started < 10  # Telegram waits a minute at most
                    server.start()
                    async with http.post(url, json=text_update(3, 21), headers=headers) as again:
                        assert again.status == 200
                await api.wait_for("sendVoice", timeout=30)
            finally:
                await stop_bot(bot)
    finally:
        server.stop()
