"""The baseline: Yandex's ``voice-agent.py`` reference flow made into a Telegram bot the plain way.

For every voice note (or audio file), one after another within the turn:

1. download the file (``bot.download``) into a temporary folder;
2. convert it with an ffmpeg subprocess to a mono 24 kHz PCM16 WAV **file**, and read that;
3. then open the WebSocket (websockets' default settings: per-message deflate offered; only
   ``max_size`` raised to 16 MiB so large events fit) with the ``Api-Key`` header;
4. wait for ``session.created``, send the reference ``session.update`` (server VAD, threshold 0.5,
   200 ms of silence, ``create_response`` false, output PCM at 44100 Hz, voice marina, text and
   audio), the PCM in 15000-byte ``input_audio_buffer.append`` events (base64, the standard
   ``json`` module), then the reference's "500 ms" of silence: five more 15000-byte chunks, which
   at 24 kHz are 1.56 s (its comment takes a chunk for 100 ms);
5. commit, wait for ``input_audio_buffer.committed`` (a ``input_audio_buffer_commit_empty`` error
   counts as committed: the server VAD got there first), send ``response.create``, gather every
   audio and text delta until ``response.done``;
6. then write the reply PCM to a WAV file, encode it with a second ffmpeg subprocess to OGG/Opus
   (libopus, 48 kHz mono, 32 kbit/s, ``-application voip``), read it and send it with
   ``sendVoice`` (duration and caption set), replying to the message.

Environment: ``BOT_TOKEN``, ``TELEGRAM_API_URL`` (default Telegram's), ``REALTIME_URL`` (default
Yandex's endpoint for ``YANDEX_FOLDER_ID``), ``REALTIME_API_KEY``; optional
``DEFAULT_INSTRUCTIONS`` and ``LOG_LEVEL``. It needs no Redis.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import tempfile
import wave
from pathlib import Path
from typing import Any

import websockets
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BufferedInputFile, Message, ReplyParameters

__all__ = ["ask_model", "main", "read_wav", "run_ffmpeg", "write_wav"]

log = logging.getLogger("baseline")

CHUNK_SIZE = 15000  # the reference's chunk: it says ~100 ms; at 24 kHz PCM16 it is 312.5 ms
SILENCE_CHUNKS = 5  # the reference's "5 * 100ms = 500ms" of trailing silence
INPUT_RATE = 24000
OUTPUT_RATE = 44100
VOICE = "marina"
MAX_MESSAGE = 16 * 1024 * 1024
CAPTION_LIMIT = 1024
DEFAULT_URL = (
    "wss://ai.api.cloud.yandex.net/v1/realtime?model=gpt://{folder}/speech-realtime-250923"
)
INSTRUCTIONS = (
    "You are a voice assistant. Answer briefly, in plain sentences that are easy to listen to. "
    "Repeat back order numbers, seats, addresses and other key facts the user gives."
)


async def run_ffmpeg(*args: str) -> None:
    """Run ffmpeg with these arguments; raise when it fails."""
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {stderr.decode(errors='replace')[-500:]}")


def read_wav(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wf:
        if wf.getframerate() != INPUT_RATE:
            raise RuntimeError(f"expected {INPUT_RATE} Hz, got {wf.getframerate()}")
        return wf.readframes(wf.getnframes())


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm)


def session_update(instructions: str) -> dict[str, Any]:
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text", "audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": INPUT_RATE},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "silence_duration_ms": 200,
                        "create_response": False,
                        "interrupt_response": False,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": OUTPUT_RATE}, "voice": VOICE},
            },
            "instructions": instructions,
        },
    }


async def ask_model(url: str, api_key: str, pcm: bytes, instructions: str) -> tuple[str, bytes]:
    """One realtime session, as the reference runs it: the reply's text and PCM16 audio."""
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Api-Key {api_key}"}, max_size=MAX_MESSAGE
    ) as ws:
        created = json.loads(await ws.recv())
        if created.get("type") != "session.created":
            raise RuntimeError(f"expected session.created, got {created.get('type')}")
        await ws.send(json.dumps(session_update(instructions)))
        for i in range(0, len(pcm), CHUNK_SIZE):
            chunk = base64.b64encode(pcm[i : i + CHUNK_SIZE]).decode("ascii")
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        silence = base64.b64encode(b"\x00\x00" * (CHUNK_SIZE // 2)).decode("ascii")
        for _ in range(SILENCE_CHUNKS):
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": silence}))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))

        committed = False
        text: list[str] = []
        audio: list[bytes] = []
        while True:
            data = json.loads(await ws.recv())
            kind = data.get("type")
            error = data.get("error") or {}
            if not committed and (
                kind == "input_audio_buffer.committed"
                or (kind == "error" and error.get("code") == "input_audio_buffer_commit_empty")
            ):
                committed = True
                await ws.send(json.dumps({"type": "response.create"}))
            elif kind == "response.output_audio.delta":
                audio.append(base64.b64decode(data["delta"]))
            elif kind in ("response.output_text.delta", "response.output_audio_transcript.delta"):
                text.append(data["delta"])
            elif kind == "response.done":
                break
            elif kind == "error" and error.get("code") != "input_audio_buffer_commit_empty":
                raise RuntimeError(f"realtime error: {error}")
    return "".join(text).strip(), b"".join(audio)


router = Router()


@router.message(F.voice | F.audio)
async def on_voice(message: Message, bot: Bot) -> None:
    media = message.voice or message.audio
    assert media is not None  # the filter let only these through
    url = os.environ.get("REALTIME_URL") or DEFAULT_URL.format(
        folder=os.environ.get("YANDEX_FOLDER_ID", "")
    )
    api_key = os.environ["REALTIME_API_KEY"]
    instructions = os.environ.get("DEFAULT_INSTRUCTIONS") or INSTRUCTIONS
    try:
        with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
            folder = Path(tmp)
            source, converted = folder / "input.oga", folder / "converted.wav"
            output, answer = folder / "output.wav", folder / "answer.ogg"
            await bot.download(media, destination=source)
            await run_ffmpeg(
                "-y", "-i", str(source), "-ac", "1", "-ar", str(INPUT_RATE),
                "-sample_fmt", "s16", str(converted),
            )  # fmt: skip
            pcm = read_wav(converted)
            text, reply = await ask_model(url, api_key, pcm, instructions)
            if not reply:
                raise RuntimeError("the model sent no audio")
            write_wav(output, reply, OUTPUT_RATE)
            await run_ffmpeg(
                "-y", "-i", str(output), "-ac", "1", "-ar", "48000", "-c:a", "libopus",
                "-b:a", "32k", "-application", "voip", str(answer),
            )  # fmt: skip
            voice = answer.read_bytes()
        await bot.send_voice(
            chat_id=message.chat.id,
            voice=BufferedInputFile(voice, filename="answer.ogg"),
            duration=max(1, round(len(reply) / 2 / OUTPUT_RATE)),
            caption=text[:CAPTION_LIMIT] or None,
            reply_parameters=ReplyParameters(message_id=message.message_id),
        )
    except Exception:
        log.exception("turn failed")
        await message.answer("Sorry, something went wrong. Please try again.")


async def run() -> None:
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(
            os.environ.get("TELEGRAM_API_URL") or "https://api.telegram.org"
        )
    )
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    dp = Dispatcher()
    dp.include_router(router)
    await dp.start_polling(bot)


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper())
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
