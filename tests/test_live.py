"""Live answers end to end: the text streamed into a draft while the model speaks, the stop
button (the model sees response.cancel; nothing after it is billed), a draft refused with 429,
the group's reaction, and the switches."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from pathlib import Path

import pytest

from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.bot_harness import RunningBot, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

USER = 6060
GROUP = -100_606
REPLY = "One two three four five six seven eight nine ten eleven twelve."


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


def voice(app: RunningBot, ogg: bytes, chat: int = USER, **kw: object) -> dict:
    return app.api.push_message("voice", chat_id=chat, user_id=USER, data=ogg, duration=3, **kw)


def drafts(app: RunningBot) -> list:
    return app.api.calls_of("sendMessageDraft")


async def test_the_text_streams_into_a_draft_and_the_voice_note_follows(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(reply_text=REPLY, reply_seconds=3.0, realtime_factor=2.0)
    async with running_bot(realtime, redis_url) as app:
        pushed = voice(app, ogg)
        (sent,) = await app.api.wait_for("sendVoice", timeout=20)
        calls = drafts(app)
        assert calls[0].params.get("text", "") == ""  # "Thinking…" first
        texts = [c.params.get("text", "") for c in calls[1:]]
        assert texts, "no text was streamed"
        assert all(REPLY.startswith(t.strip()) for t in texts)
        assert len(set(texts)) == len(texts) and texts == sorted(texts, key=len)
        assert {c.int_param("draft_id") for c in calls} == {calls[0].int_param("draft_id")}
        assert all(c.params.get("can_stop") in (True, "true") for c in calls)
        # a pace Telegram accepts: a few updates a second at most
        gaps = [b.t - a.t for a, b in itertools.pairwise(calls[1:])]
        assert all(gap > 0.2 for gap in gaps)
        assert sent.params["caption"] == REPLY
        assert sent.params["reply_parameters"]["message_id"] == pushed["message"]["message_id"]


async def test_stop_cancels_the_answer_and_only_what_was_said_counts(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(reply_text=REPLY, reply_seconds=10.0, realtime_factor=1.0)
    async with running_bot(realtime, redis_url) as app:
        voice(app, ogg)
        (first,) = await app.api.wait_for(
            "sendMessageDraft", predicate=lambda c: bool(c.params.get("text")), timeout=20
        )
        stopped_at = asyncio.get_running_loop().time()
        app.api.push_stop(USER, first.int_param("draft_id"))
        session = realtime.sessions[-1]
        async with asyncio.timeout(5):
            while "response.cancel" not in session.event_types:
                await asyncio.sleep(0.01)
        assert asyncio.get_running_loop().time() - stopped_at < 1.0
        (kept,) = await app.api.wait_for("sendMessage", timeout=10)
        kept_text = kept.params["text"]
        assert kept_text.endswith(" (stopped)")  # the answer says that it was stopped
        shown = kept_text.removesuffix(" (stopped)").strip()
        assert REPLY.startswith(shown) and shown != REPLY
        await asyncio.sleep(1.0)
        assert not app.api.calls_of("sendVoice")  # no voice note of a stopped answer
        today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
        usage = await app.redis.hgetall(f"vb:{{u{USER}}}:usage:{today}")
        assert 0 < float(usage["out_sec"]) < 5  # only the audio produced before the stop


async def test_a_draft_refused_with_429_slows_the_drafts_not_the_answer(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(reply_text=REPLY, reply_seconds=2.0, realtime_factor=4.0)
    async with running_bot(realtime, redis_url) as app:
        app.api.fail_next("sendMessageDraft", error_code=429,
                          description="Too Many Requests: retry after 30", retry_after=30,
                          times=10)  # fmt: skip
        started = asyncio.get_running_loop().time()
        voice(app, ogg)
        await app.api.wait_for("sendVoice", timeout=15)
        assert asyncio.get_running_loop().time() - started < 5


async def test_groups_get_a_reaction_until_the_answer(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url) as app:
        await app.services.settings_store.set(GROUP, mode="all")
        pushed = voice(app, ogg, chat=GROUP, chat_type="supergroup", chat_title="G")
        await app.api.wait_for("sendVoice", timeout=20)
        reactions = await app.api.wait_for("setMessageReaction", count=2, timeout=5)
        assert [r.int_param("message_id") for r in reactions] == [
            pushed["message"]["message_id"]
        ] * 2
        assert reactions[0].params["reaction"] == [{"type": "emoji", "emoji": "👀"}]
        assert reactions[1].params["reaction"] == []
        assert reactions[1].t >= app.api.calls_of("sendVoice")[0].t
        assert not drafts(app)  # groups get no drafts


async def test_switched_off_no_drafts_and_no_reactions(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url, group_reactions=False) as app:
        app.api.push_message("text", chat_id=USER, user_id=USER, text="/live off")
        (reply,) = await app.api.wait_for("sendMessage", timeout=10)
        assert "off" in reply.params["text"]
        voice(app, ogg)
        await app.api.wait_for("sendVoice", timeout=20)
        await app.services.settings_store.set(GROUP, mode="all")
        voice(app, ogg, chat=GROUP, chat_type="supergroup", chat_title="G")
        await app.api.wait_for("sendVoice", count=2, timeout=20)
        assert not drafts(app)
        assert not app.api.calls_of("setMessageReaction")
        app.api.push_message("text", chat_id=USER, user_id=USER, text="/settings")
        (shown,) = await app.api.wait_for(
            "sendMessage",
            predicate=lambda c: "Live answers:" in c.params.get("text", ""),
            timeout=10,
        )
        assert "Live answers: off" in shown.params["text"]
