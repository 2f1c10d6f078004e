"""The bot as people run it, continued: a stop pressed at one process stops the answer another
process makes, and the OpenAI profile through ``python -m bot``."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.audio_props import decode, dominant_hz, probe
from tests.bot_harness import RunningBot, about, receiving_bot
from tests.conftest import API_KEY
from tests.test_e2e_process import bot_env, start_bot, stop_bot

USER = 7070
REPLY = "One two three four five six seven eight nine ten eleven twelve."


async def counted(app: RunningBot, user: int) -> dict:
    """The user's usage today, once a turn of theirs is counted."""
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    raw: dict = {}
    for _ in range(250):
        raw = await app.redis.hgetall(f"vb:{{u{user}}}:usage:{today}")
        if raw.get("turns") == "1":
            return raw
        await asyncio.sleep(0.02)
    raise AssertionError(f"usage of {user} not counted: {raw}")


async def start_worker(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_a_stop_received_by_one_process_stops_the_answer_another_makes(
    realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path], tmp_path: Path
) -> None:
    # A slow model: ten seconds of answer spoken in real time, so the stop comes mid-answer.
    realtime.scenario = Scenario(reply_text=REPLY, reply_seconds=10.0, realtime_factor=1.0)
    async with BotAPIStandIn() as api:
        # Which process answers is fixed: the turn is received by this test process, which runs
        # the bot's dispatcher and polling and no worker (there is no receive-only mode to
        # start), and answered by `python -m bot worker`, the only worker on this Redis. A stop
        # that only reached the turns of the process receiving it would stop nothing here.
        env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url,
                      REDIS_URL=redis_url, WORKER_NAME="far-worker")  # fmt: skip
        worker = await start_worker(env, tmp_path)
        try:
            async with receiving_bot(api, realtime, redis_url) as receiver:
                asked = api.push_message(
                    "voice", chat_id=USER, user_id=USER,
                    data=audio_files["voice.ogg"].read_bytes(), duration=3,
                )  # fmt: skip
                (shown,) = await api.wait_for(
                    "sendMessageDraft", predicate=lambda c: bool(c.params.get("text")),
                    timeout=30,
                )  # fmt: skip
                draft_id = shown.int_param("draft_id")
                assert draft_id is not None
                loop = asyncio.get_running_loop()
                stopped_at = loop.time()
                api.push_stop(USER, draft_id)
                (session,) = realtime.sessions
                async with asyncio.timeout(5):
                    while "response.cancel" not in session.event_types:
                        await asyncio.sleep(0.01)
                assert loop.time() - stopped_at < 1.0  # cancelled at the model at once
                (kept,) = await api.wait_for("sendMessage", timeout=5)
                assert loop.time() - stopped_at < 2.0
                # what was shown stays as a message, the rest is never said
                assert REPLY.startswith(kept.params["text"].removesuffix(" (stopped)").strip())
                assert kept.params["text"] != REPLY
                assert about([kept], asked)
                # The turn's usage is written after all of its replies were sent: once it is
                # there, a voice note of the stopped answer would have been sent too.
                usage = await counted(receiver, USER)
                assert not api.calls_of("sendVoice")
                assert not api.calls_of("sendAudio")
                assert 0 < float(usage["out_sec"]) < 5  # only what was said before the stop
        finally:
            log = await stop_bot(worker)
    # the stop was carried out by the worker process, the one showing the draft
    assert f"chat {USER} stopped draft {draft_id}" in log


async def test_the_openai_provider_through_python_m_bot(
    redis_url: str, audio_files: dict[str, Path], tmp_path: Path
) -> None:
    scenario = Scenario(reply_hz=660, reply_seconds=1.5, reply_text="Hello from OpenAI.")
    voice_note = audio_files["voice.ogg"].read_bytes()
    async with (
        RealtimeStandIn(api_key=API_KEY, profile="openai", scenario=scenario) as realtime,
        BotAPIStandIn() as api,
    ):
        # Configured as the README says for OpenAI: the provider and a key; everything else
        # (model, voice, rates, transcription) is the provider's default.
        env = bot_env(realtime, BOT_TOKEN=api.token, TELEGRAM_API_URL=api.url,
                      REDIS_URL=redis_url, REALTIME_PROVIDER="openai",
                      REALTIME_URL=realtime.url + "/v1/realtime?model=gpt-realtime")  # fmt: skip
        del env["YANDEX_FOLDER_ID"]
        bot = await start_bot(env, tmp_path)
        try:
            asked = api.push_message(
                "voice", chat_id=USER, user_id=USER, data=voice_note, duration=3
            )
            (sent,) = await api.wait_for("sendVoice", timeout=30)
        finally:
            await stop_bot(bot)
    realtime.assert_valid_client_events()
    (session,) = realtime.sessions
    assert session.headers["authorization"] == f"Bearer {API_KEY}"
    config = session.session
    assert config["audio"]["output"]["voice"] == "marin"
    assert config["audio"]["output"]["format"]["rate"] == 24_000
    assert config["audio"]["input"]["transcription"]["model"] == "gpt-4o-mini-transcribe"
    # the user's audio reached the model whole, at the rate the session declared
    heard = len(session.input_pcm) / 2 / config["audio"]["input"]["format"]["rate"]
    assert abs(heard - probe(voice_note).duration) < 0.1
    assert about([sent], asked)
    assert sent.params["caption"] == "Hello from OpenAI."
    voice = sent.files["voice"]
    info = probe(voice)
    assert (info.codec, info.channels) == ("opus", 1)
    assert abs(info.duration - scenario.reply_seconds) < 0.05
    # 24 kHz in, 48 kHz Opus out: a wrong rate anywhere would shift the tone
    assert abs(dominant_hz(decode(voice), 48_000) - 660) < 2
