"""A turn's delivery on a bad day: a hung model (one slow notice, edited to the outcome, the
deadline kept, the note downloaded once), and a reply whose follow-up text fails (sent again
alone: one voice note, one model call)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.bot_harness import running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

USER = 7070


async def test_a_hung_model_is_told_once_and_the_deadline_holds(
    realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path]
) -> None:
    realtime.scenario = Scenario(failure="hang_after_create")
    async with running_bot(
        realtime, redis_url, event_timeout=1.0, turn_retries=10, turn_deadline=8.0
    ) as app:
        started = time.perf_counter()
        app.api.push_message(
            "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(),
            duration=3,
        )  # fmt: skip
        (slow,) = await app.api.wait_for("sendMessage", timeout=10)
        assert "slow" in slow.params["text"]
        assert slow.t - started < 1 + 3 + 1.5  # EVENT_TIMEOUT plus a few seconds
        (outcome,) = await app.api.wait_for("editMessageText", timeout=10)
        assert time.perf_counter() - started < 8 + 2  # the deadline, not 10 tries of 1 s
        assert "took too long" in outcome.params["text"]
        assert outcome.int_param("message_id") == slow.result["message_id"]
        assert len(app.api.calls_of("sendMessage")) == 1  # one message, edited
        assert len(realtime.sessions) >= 2  # it was tried again...
        assert len(app.api.calls_of("getFile")) == 1  # ...with the note downloaded once


async def test_a_failed_follow_up_text_is_sent_again_alone(
    realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path]
) -> None:
    long_text = " ".join(["This answer is long enough to need a message of its own."] * 30)
    realtime.scenario = Scenario(reply_text=long_text)
    async with running_bot(realtime, redis_url) as app:
        # Every try of the request fails: the delivery fails, and is tried again.
        app.api.fail_next("sendMessage", error_code=500, description="Internal Server Error",
                          times=4)  # fmt: skip
        app.api.push_message(
            "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(),
            duration=3,
        )  # fmt: skip
        await app.api.wait_for("sendMessage", predicate=lambda c: c.ok, timeout=30)
        assert len(app.api.calls_of("sendVoice")) == 1
        assert len(realtime.sessions) == 1  # the model was asked once
        delivered = [c for c in app.api.calls_of("sendMessage") if c.ok]
        assert " ".join(c.params["text"] for c in delivered) == long_text


async def test_flood_control_on_a_call_to_no_chat_is_waited_out(
    realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path]
) -> None:
    # getFile names no chat, so no chat's flood mark holds it back: the wait Telegram names is
    # kept before the call is tried again, never a second call at once.
    async with running_bot(realtime, redis_url) as app:
        app.api.fail_next("getFile", error_code=429, description="Too Many Requests: retry after 1",
                          retry_after=1)  # fmt: skip
        app.api.push_message(
            "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(),
            duration=3,
        )  # fmt: skip
        await app.api.wait_for("sendVoice", timeout=20)
        first, second = app.api.calls_of("getFile")
        assert not first.ok and second.ok
        assert second.t - first.t >= 1.0
