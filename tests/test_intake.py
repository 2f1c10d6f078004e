"""Intake on a bad day: one chat under Telegram's flood control, with stickers pouring in,
delays no other chat; hints and refusals to one chat are rate-limited."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

FLOODED = 8080
OTHER = 8181


def sticker(app: RunningBot, chat: int) -> None:
    update = app.api.push_message("text", chat_id=chat, user_id=chat, text="x")
    update["message"].pop("text")
    update["message"]["sticker"] = {
        "file_id": "s", "file_unique_id": "s", "type": "regular", "width": 512, "height": 512,
        "is_animated": False, "is_video": False,
    }  # fmt: skip


async def test_a_flooded_chat_never_delays_another(
    realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path]
) -> None:
    async with running_bot(realtime, redis_url) as app:
        app.api.flood(FLOODED, 30)
        for _ in range(5):
            sticker(app, FLOODED)
        # the bot took them and met the flood control (the hint was refused with 429)
        await app.api.wait_for("sendMessage", predicate=lambda c: c.status == 429, timeout=10)
        started = time.perf_counter()
        for _ in range(20):  # and they keep pouring in
            sticker(app, FLOODED)
        app.api.push_message(
            "voice", chat_id=OTHER, user_id=OTHER, data=audio_files["voice.ogg"].read_bytes(),
            duration=3,
        )  # fmt: skip
        await app.api.wait_for(
            "sendVoice", predicate=lambda c: c.int_param("chat_id") == OTHER, timeout=10
        )
        assert time.perf_counter() - started < 5
        await asyncio.sleep(0.5)
        # a chat under flood control is not asked again and again: one 429, then silence
        to_flooded = [c for c in app.api.calls_of("sendMessage")
                      if c.int_param("chat_id") == FLOODED]  # fmt: skip
        assert len(to_flooded) == 1


async def test_hints_to_one_chat_are_rate_limited(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    async with running_bot(realtime, redis_url) as app:
        for _ in range(10):
            sticker(app, OTHER)
        await app.api.wait_for("sendMessage", timeout=10)
        app.api.push_message("text", chat_id=OTHER, user_id=OTHER, text="/settings")
        await app.api.wait_for("sendMessage", count=2, timeout=10)  # all handled by now
        hints = [c for c in app.api.calls_of("sendMessage") if "voice notes" in c.params["text"]]
        assert len(hints) == 1
