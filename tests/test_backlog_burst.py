"""More voice notes than a chat's backlog, end to end: every note is answered or its sender is
told, on that very note, that it was not taken; nothing goes unanswered in silence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot.i18n import Catalogue
from stand_ins.bot_api import Call
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.bot_harness import RunningBot, about, running_bot

USER = 1701
NOTES = 8
BACKLOG = 5  # the default MAX_CHAT_BACKLOG


def refused_so_far() -> float:
    return REGISTRY.get_sample_value("voicebot_refusals_total", {"reason": "backlog"}) or 0.0


def answer_to(app: RunningBot, update: dict) -> list[Call]:
    return [c for c in about(app.api.calls_of("sendVoice"), update) if c.ok]


def refusal_of(app: RunningBot, update: dict) -> list[Call]:
    """A text reply to the note, or a mark (a reaction) on it."""
    told = about(app.api.calls_of("sendMessage"), update)
    marked = [
        c for c in about(app.api.calls_of("setMessageReaction"), update) if c.params.get("reaction")
    ]
    return [c for c in told + marked if c.ok]


@pytest.mark.yandex_variants
async def test_a_burst_past_the_backlog_is_answered_or_refused_note_by_note(
    realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path]
) -> None:
    # The model takes a moment, so the first note is still being answered when the last arrives.
    realtime.scenario = Scenario(reply_text="Answered.", time_to_first_audio=1.0)
    ogg = audio_files["voice.ogg"].read_bytes()
    before = refused_so_far()
    async with running_bot(realtime, redis_url) as app:
        assert app.settings.max_chat_backlog == BACKLOG
        notes = [
            app.api.push_message("voice", chat_id=USER, user_id=USER, data=ogg, duration=3)
            for _ in range(NOTES)
        ]
        await app.api.wait_for("sendVoice", count=BACKLOG, timeout=60)
        await asyncio.sleep(1.0)  # anything still to come about the burst
        answered = [note for note in notes if answer_to(app, note)]
        refused = [note for note in notes if refusal_of(app, note)]
        unanswered = [
            note["message"]["message_id"] for note in notes if note not in answered + refused
        ]
        assert unanswered == [], f"notes neither answered nor refused: {unanswered}"
        assert len(answered) == BACKLOG and len(refused) == NOTES - BACKLOG
        assert not any(note in refused for note in answered)
        # The first refusal says why, with the limit, and what the marks on the others mean.
        first = refusal_of(app, refused[0])
        (told,) = [c for c in first if c.method.lower() == "sendmessage"]
        text = str(told.params["text"])
        assert f"{BACKLOG} messages" in text and "again" in text
        marks = [c for note in refused[1:] for c in refusal_of(app, note)]
        assert all(c.method.lower() == "setmessagereaction" for c in marks)
        emoji = {c.params["reaction"][0]["emoji"] for c in marks}
        assert len(emoji) == 1 and emoji.pop() in text
        # No more than one text for the burst: the others are marked, not spammed.
        assert len([c for c in app.api.calls_of("sendMessage") if c.ok]) == 1
    assert refused_so_far() - before == NOTES - BACKLOG


@pytest.mark.parametrize(
    ("limit", "words"),
    [(1, "1 сообщение"), (3, "3 сообщения"), (5, "5 сообщений"), (21, "21 сообщение"),
     (12, "12 сообщений")],
)  # fmt: skip
def test_the_backlog_refusal_counts_in_russian(limit: int, words: str) -> None:
    text = Catalogue().get("ru", "busy", limit=limit)
    assert f"уже {words} " in text


def test_the_backlog_refusal_names_the_limit_in_english() -> None:
    catalogue = Catalogue()
    assert "5 messages" in catalogue.get("en", "busy", limit=5)
    assert "a message" in catalogue.get("en", "busy", limit=1)
