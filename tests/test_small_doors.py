"""Small doors a stranger could push: the webhook's secret header in any form, the metrics and
health endpoints' address, and Ogg files that hide more audio than they declare."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.audio.codec import decode_chunks, ogg_logical_streams
from bot.errors import CorruptAudio
from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn
from stand_ins.redis import free_port
from tests.bot_harness import running_bot
from tests.test_e2e_process import bot_env, start_bot, stop_bot

SECRET = "s3cret-s3cret"


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def tone(path: Path, seconds: int, hz: int, *, bitrate: str = "16k") -> bytes:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={hz}:sample_rate=48000:duration={seconds}",
           "-ac", "1", "-c:a", "libopus", "-b:a", bitrate, str(path))  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def oggs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A 3 s voice note; the same followed by a 600 s one (two Ogg files end to end, a chained
    stream: what it declares is the first one's 3 s); two streams side by side in one file."""
    folder = tmp_path_factory.mktemp("ogg")
    short = tone(folder / "short.ogg", 3, 440, bitrate="32k")
    long = tone(folder / "long.ogg", 600, 660, bitrate="8k")
    side_by_side = folder / "multiplexed.ogg"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3",
           "-f", "lavfi", "-i", "sine=frequency=660:duration=600",
           "-map", "0", "-map", "1", "-ac", "1", "-c:a", "libopus", "-b:a", "8k",
           str(side_by_side))  # fmt: skip
    return {
        "short": short,
        "chained": short + long,
        "multiplexed": side_by_side.read_bytes(),
    }


# --------------------------------------------------------------------------- the secret header


async def raw_post(port: int, secret: bytes) -> tuple[int, bytes]:
    """POST an update with ``secret`` as the header's raw bytes (aiohttp's client would refuse
    to send some of them); the status and the first bytes of the answer."""
    body = b'{"update_id": 5, "message": {"message_id": 5, "date": 1700000000, ' \
           b'"text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}], ' \
           b'"chat": {"id": 9, "type": "private", "first_name": "A"}, ' \
           b'"from": {"id": 9, "is_bot": false, "first_name": "A"}}}'  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /tg/hook HTTP/1.1\r\nHost: bot.example.com\r\nContent-Type: application/json\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: " + secret + b"\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return int(answer.split(b" ", 2)[1]), answer[:200]


async def test_a_secret_header_of_any_form_is_a_plain_401_without_a_traceback(
    realtime: RealtimeStandIn, tmp_path: Path
) -> None:
    port = free_port()
    async with BotAPIStandIn() as api:
        env = bot_env(
            realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url, DATA_DIR=str(tmp_path / "d"),
            BOT_MODE="webhook", WEBHOOK_URL="https://bot.example.com/tg/hook",
            WEBHOOK_SECRET=SECRET, WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=str(port),
        )  # fmt: skip
        bot = await start_bot(env, tmp_path)
        try:
            await api.wait_for("setWebhook", timeout=30)
            wrong = {
                "non-ASCII (UTF-8)": "сикрет-s3cret".encode(),
                "non-ASCII (Latin-1)": b"s3cr\xe9t-s3cret",
                "bytes that are no text": b"\xff\xfe\xfd",
                "over Telegram's 256 characters": b"a" * 300,
                "long and non-ASCII": "я".encode() * 2000,
                "the secret and more": SECRET.encode() + "é".encode(),
            }
            for name, header in wrong.items():
                status, answer = await raw_post(port, header)
                assert status == 401, (name, answer)
            # Past aiohttp's 8 KiB header limit the HTTP parser refuses the request before any
            # handler runs: a 400, logged in one line.
            status, _ = await raw_post(port, b"a" * 9000)
            assert status == 400
            assert not api.calls_of("sendMessage")  # none of them was handled
            status, _ = await raw_post(port, SECRET.encode())
            assert status == 200
            await api.wait_for("sendMessage", timeout=10)
        finally:
            log = await stop_bot(bot)  # exit 0, no traceback
    assert "ERROR" not in log and " 500 " not in log
    assert log.count("refused a malformed HTTP request") == 1


# ---------------------------------------------------------------- metrics on this machine only


async def reachable(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except OSError:
        return False
    writer.close()
    return True


async def healthz(host: str, port: int, bot: asyncio.subprocess.Process) -> int:
    """/healthz's status once the bot serves it (it starts the server after connecting)."""
    async with asyncio.timeout(30), aiohttp.ClientSession() as http:
        while True:
            assert bot.returncode is None, "the bot stopped"
            try:
                async with http.get(f"http://{host}:{port}/healthz") as response:
                    return response.status
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)


async def test_metrics_and_health_listen_on_this_machine_only_by_default(
    realtime: RealtimeStandIn, tmp_path: Path, redis_url: str
) -> None:
    """The webhook listens on every interface (WEBHOOK_HOST 0.0.0.0, the default); /metrics and
    /healthz, which have no auth, on 127.0.0.1 (METRICS_HOST) unless told otherwise. Every
    127.x address is this machine, so one the server did not bind stands for another host."""
    port = free_port()
    assert await reachable("127.0.0.2", free_port()) is False  # nothing there: the probe works
    async with BotAPIStandIn() as api:
        env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url,
                      REDIS_URL=redis_url, METRICS_PORT=str(port))  # fmt: skip
        bot = await start_bot(env, tmp_path)
        try:
            assert await healthz("127.0.0.1", port, bot) == 200
            assert await reachable("127.0.0.2", port) is False
        finally:
            log = await stop_bot(bot)
    assert f"metrics on http://127.0.0.1:{port}/metrics" in log


async def test_metrics_host_is_a_setting(
    realtime: RealtimeStandIn, tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    async with BotAPIStandIn() as api:
        env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url,
                      REDIS_URL=redis_url, METRICS_PORT=str(port),
                      METRICS_HOST="127.0.0.2", WEBHOOK_HOST="127.0.0.1")  # fmt: skip
        bot = await start_bot(env, tmp_path)
        try:
            assert await healthz("127.0.0.2", port, bot) == 200
            assert await reachable("127.0.0.1", port) is False
        finally:
            await stop_bot(bot)


# ------------------------------------------------------------------- chained and multiplexed Ogg


def counting() -> tuple[list[int], Callable[[bytes], None]]:
    sizes: list[int] = []
    return sizes, lambda chunk: sizes.append(len(chunk))


@pytest.mark.parametrize("kind", ["chained", "multiplexed"])
def test_an_ogg_of_several_streams_is_refused_before_any_audio_goes_out(
    oggs: dict[str, bytes], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    chunks, on_chunk = counting()
    with pytest.raises(CorruptAudio):
        decode_chunks(oggs[kind], on_chunk, max_seconds=120)
    assert chunks == []  # not one second of it reached the model
    assert "more than one logical stream" in caplog.text
    assert ogg_logical_streams(oggs[kind]) == (2, 2)
    # while a plain voice note is one stream, and decodes whole
    assert ogg_logical_streams(oggs["short"]) == (1, 1)
    decode_chunks(oggs["short"], on_chunk, max_seconds=120)
    assert sum(chunks) == 3 * 24_000 * 2


async def test_a_chained_voice_note_costs_no_model_audio(
    realtime: RealtimeStandIn, redis_url: str, oggs: dict[str, bytes]
) -> None:
    """The issue's case end to end: declared 3 s, 603 s inside. The user is told the file cannot
    be read; the model hears nothing (before, it heard 120 s before the length limit)."""
    async with running_bot(realtime, redis_url) as app:
        app.api.push_message("voice", chat_id=31, user_id=31, data=oggs["chained"], duration=3)
        (told,) = await app.api.wait_for("sendMessage", timeout=30, predicate=lambda c: c.ok)
        assert "could not read this file" in told.params["text"]
        assert not app.api.calls_of("sendVoice")
        assert sum(len(session.input_pcm) for session in realtime.sessions) == 0
        # the same note alone is answered as usual
        app.api.push_message("voice", chat_id=31, user_id=31, data=oggs["short"], duration=3)
        await app.api.wait_for("sendVoice", timeout=30)
    heard = [len(session.input_pcm) for session in realtime.sessions if session.input_pcm]
    assert len(heard) == 1 and heard[0] < 4 * 24_000 * 2  # the plain note's 3 s, no more
