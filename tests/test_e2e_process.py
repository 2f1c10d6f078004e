"""The bot as people run it: ``python -m bot`` and ``python -m bot ask`` as subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.audio_props import decode, dominant_hz, probe
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[1]


def bot_env(realtime: RealtimeStandIn, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "REALTIME_PROVIDER": "yandex",
        "REALTIME_API_KEY": API_KEY,
        "YANDEX_FOLDER_ID": "folder",
        "REALTIME_URL": realtime.url + "?model=gpt://folder/speech-realtime-250923",
        "LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


async def start_bot(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def stop_bot(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    return log


async def test_settings_survive_a_restart_with_the_embedded_redis(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], tmp_path: Path
) -> None:
    async with BotAPIStandIn() as api:
        env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url,
                      DATA_DIR=str(tmp_path / "data"))  # fmt: skip
        bot = await start_bot(env, tmp_path)
        try:
            # queued before the bot polls: delivered by its first getUpdates
            api.push_message("text", chat_id=5, user_id=5, text="/voice jane")
            (reply,) = await api.wait_for("sendMessage", timeout=30)
            assert "jane" in reply.params["text"]
        finally:
            log = await stop_bot(bot)
        assert "BOT_TOKEN" not in log
        assert api.token.split(":")[1] not in log  # the secret part never reaches the log
        assert (tmp_path / "data" / "appendonlydir").exists() or any(
            p.name.startswith("appendonly") for p in (tmp_path / "data").iterdir()
        )
        bot = await start_bot(env, tmp_path)
        try:
            api.push_message(
                "voice", chat_id=5, user_id=5, data=audio_files["voice.ogg"].read_bytes(),
                duration=3,
            )  # fmt: skip
            await api.wait_for("sendVoice", timeout=30)
        finally:
            await stop_bot(bot)
    assert realtime.sessions[-1].session["audio"]["output"]["voice"] == "jane"
    # the commands menu was registered for each scope, in both languages
    scopes = {
        (c.params.get("scope", {}).get("type"), c.params.get("language_code"))
        for c in api.calls_of("setMyCommands")
    }
    assert ("all_chat_administrators", "ru") in scopes
    assert ("all_private_chats", None) in scopes


async def test_ask_writes_a_voice_note_and_prints_the_text(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], tmp_path: Path
) -> None:
    realtime.scenario = Scenario(reply_hz=880, reply_seconds=2.0, reply_text="Tone received.")
    out = tmp_path / "reply.ogg"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", str(audio_files["voice.ogg"]), "-o", str(out),
        env=bot_env(realtime), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "Tone received."
    voice = out.read_bytes()
    info = probe(voice)
    assert (info.codec, info.channels) == ("opus", 1)
    assert abs(info.duration - 2.0) < 0.05
    assert abs(dominant_hz(decode(voice), 48_000) - 880) < 2


async def test_ask_with_text_needs_no_file(realtime: RealtimeStandIn, tmp_path: Path) -> None:
    realtime.scenario = Scenario(reply_seconds=1.0, reply_text="Hello there.")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", "--text", "hi", "-o", str(tmp_path / "r.ogg"),
        env=bot_env(realtime), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "Hello there."
    assert abs(probe((tmp_path / "r.ogg").read_bytes()).duration - 1.0) < 0.05
    # Neither a file nor --text: said in one line.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", env=bot_env(realtime), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert stderr.decode().strip() == "error: give an audio file, or --text"


async def test_ask_reports_bad_input_in_one_line(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ask", str(audio_files["silent.ogg"]),
        env=bot_env(realtime), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "SilentAudio" in stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_webhook_mode_checks_the_secret(realtime: RealtimeStandIn, tmp_path: Path) -> None:
    import aiohttp

    from stand_ins.redis import free_port

    port = free_port()
    async with BotAPIStandIn() as api:
        env = bot_env(
            realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, DATA_DIR=str(tmp_path / "d"),
            BOT_MODE="webhook", WEBHOOK_URL="https://bot.example.com/tg/hook",
            WEBHOOK_SECRET="s3cret", WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=str(port),
        )  # fmt: skip
        bot = await start_bot(env, tmp_path)
        try:
            (hook,) = await api.wait_for("setWebhook", timeout=30)
            assert hook.params["url"] == "https://bot.example.com/tg/hook"
            assert hook.params["secret_token"] == "s3cret"
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1, "date": 1700000000, "text": "/start",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                    "chat": {"id": 9, "type": "private", "first_name": "A"},
                    "from": {"id": 9, "is_bot": False, "first_name": "A", "language_code": "en"},
                },
            }  # fmt: skip
            url = f"http://127.0.0.1:{port}/tg/hook"
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
                ) as response:
                    assert response.status == 401
                async with http.post(url, json=update) as response:
                    assert response.status == 401
                async with http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
                ) as response:
                    assert response.status == 200
            (reply,) = await api.wait_for("sendMessage", timeout=10)
            assert "voice assistant" in reply.params["text"]
        finally:
            log = await stop_bot(bot)
        assert "s3cret" not in log


async def test_metrics_and_health_endpoints(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], tmp_path: Path, redis_url: str
) -> None:
    import aiohttp

    from stand_ins.redis import free_port

    port = free_port()
    async with BotAPIStandIn() as api:
        env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url,
                      REDIS_URL=redis_url, METRICS_PORT=str(port),
                      WEBHOOK_HOST="127.0.0.1")  # fmt: skip
        bot = await start_bot(env, tmp_path)
        try:
            api.push_message(
                "voice", chat_id=6, user_id=6, data=audio_files["voice.ogg"].read_bytes(),
                duration=3,
            )  # fmt: skip
            await api.wait_for("sendVoice", timeout=30)
            async with aiohttp.ClientSession() as http:
                for _ in range(50):  # the entry leaves the stream just after the upload
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert response.status == 200
                        health = await response.json()
                    if health["queue_depth"] == 0:
                        break
                    await asyncio.sleep(0.1)
                async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                    text = await response.text()
        finally:
            await stop_bot(bot)
    assert health["ok"] is True
    assert health["queue_depth"] == 0
    assert 'voicebot_turns_total{outcome="answered"} 1.0' in text
    assert 'voicebot_turn_stage_seconds_count{stage="model"} 1.0' in text
