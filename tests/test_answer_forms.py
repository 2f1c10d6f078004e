"""Answer forms per chat (/answer voice_text|voice|text) and the last answer again (/again),
end to end: the real dispatcher and worker against the Bot API and Realtime stand-ins and a real
Redis. A typed question in a text-for-text chat asks the model for text only and gets text only;
the voice form sends the voice note without the answer's words; /again sends the voice note
already sent by its file id (no upload) or the text, and never opens a model session."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat_options import ANSWER, settings_from
from bot.domain import Defaults
from bot.realtime.protocol import SessionConfig, TurnProtocol
from bot.storage import keys
from stand_ins.bot_api import Call
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.bot_harness import RunningBot, running_bot

USER = 4004
GROUP = -100_444
ADMIN = 11
MEMBER = 22
REFUSED = "Only the chat's admins"
REPLY = "Two and two make four."


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    realtime.scenario = Scenario(reply_text=REPLY, reply_seconds=1.0)
    async with running_bot(realtime, redis_url) as running:
        running.api.chat_admins[GROUP] = [
            {"status": "creator", "user": {"id": ADMIN, "is_bot": False, "first_name": "Ann"}}
        ]
        yield running


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


def sent(app: RunningBot, method: str) -> list[Call]:
    return [c for c in app.api.calls_of(method) if c.ok]


async def say(app: RunningBot, text: str, user: int = USER, chat: int = USER) -> str:
    """Send ``text`` (a command); the text of the bot's next message."""
    before = len(sent(app, "sendMessage"))
    group = {"chat_type": "supergroup", "chat_title": "Team"} if chat < 0 else {}
    app.api.push_message("text", chat_id=chat, user_id=user, text=text, **group)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return str(calls[before].params["text"])


async def voice_note(app: RunningBot, ogg: bytes) -> Call:
    before = len(sent(app, "sendVoice"))
    app.api.push_message("voice", chat_id=USER, user_id=USER, data=ogg, duration=3)
    calls = await app.api.wait_for("sendVoice", count=before + 1, timeout=20)
    return calls[before]


async def kept(app: RunningBot, chat: int = USER) -> dict[str, str]:
    """The chat's last answer in Redis, once the turn has kept it (right after delivery)."""
    raw: dict[str, str] = {}
    for _ in range(250):
        raw = await app.redis.hgetall(keys.chat_last_answer(chat))
        if raw:
            return raw
        await asyncio.sleep(0.02)
    raise AssertionError("no last answer kept")


async def counted(app: RunningBot, turns: int) -> dict[str, str]:
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    raw: dict[str, str] = {}
    for _ in range(250):
        raw = await app.redis.hgetall(keys.usage("u", USER, today))
        if raw.get("turns") == str(turns):
            return raw
        await asyncio.sleep(0.02)
    raise AssertionError(f"usage not counted: {raw}")


def events(app: RunningBot, kind: str, session: int = -1) -> list[dict[str, Any]]:
    return [e for e in app.realtime.sessions[session].client_events if e["type"] == kind]


async def text_for_text_turn(app: RunningBot) -> Call:
    """In a text-for-text chat, a typed question: answered in text only, the model asked for
    text only."""
    assert "text to typed questions" in await say(app, "/answer text")
    assert await app.redis.hget(keys.chat_settings(USER), "answer") == "text_for_text"
    before = len(sent(app, "sendMessage"))
    app.api.push_message("text", chat_id=USER, user_id=USER, text="What is 2+2?")
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=20, predicate=lambda c: c.ok
    )
    answer = calls[before]
    assert answer.params["text"] == REPLY
    (session,) = app.realtime.sessions
    (update,) = events(app, "session.update")
    assert update["session"]["output_modalities"] == ["text"]
    creates = events(app, "response.create")
    assert creates and all(e["response"]["output_modalities"] == ["text"] for e in creates), creates
    assert session.invalid == []
    # Usage: the turn counted, no output audio (none made, none billed), its tokens kept.
    raw = await counted(app, 1)
    assert float(raw.get("out_sec", 0)) == 0.0
    totals = await app.redis.hgetall(f"vb:{{allall}}:usage:{dt.datetime.now(dt.UTC):%Y%m}")
    assert int(totals.get("out_text_tokens", 0)) > 0
    assert int(totals.get("out_audio_tokens", 0)) == 0
    assert not app.api.calls_of("sendVoice")  # no empty voice note
    return answer


@pytest.mark.yandex_variants
async def test_default_form_is_a_voice_note_with_its_text(app: RunningBot, ogg: bytes) -> None:
    call = await voice_note(app, ogg)
    assert call.params["caption"] == REPLY
    assert call.files["voice"]
    creates = events(app, "response.create")
    assert all("response" not in e for e in creates)  # the session's modalities, as before
    last = await kept(app)
    assert last["text"] == REPLY and last["voice"] == call.result["voice"]["file_id"]
    # A typed question, too: a voice note with its text.
    app.api.push_message("text", chat_id=USER, user_id=USER, text="And 3+3?")
    (_, typed) = await app.api.wait_for("sendVoice", count=2, timeout=20)
    assert typed.params["caption"] == REPLY


@pytest.mark.yandex_variants
async def test_text_for_text_answers_a_typed_question_in_text_and_a_voice_note_in_voice(
    app: RunningBot, ogg: bytes
) -> None:
    await text_for_text_turn(app)
    last = await kept(app)
    assert last["text"] == REPLY and "voice" not in last
    # A voice note still gets a voice note, the model asked as before.
    call = await voice_note(app, ogg)
    assert call.params["caption"] == REPLY
    assert all("response" not in e for e in events(app, "response.create"))
    assert app.realtime.sessions[-1].session["output_modalities"] != ["text"]


@pytest.mark.realtime_profile("openai")
async def test_text_for_text_on_openai(app: RunningBot) -> None:
    await text_for_text_turn(app)


@pytest.mark.yandex_variants
async def test_voice_form_sends_the_voice_note_without_the_answers_words(
    app: RunningBot, ogg: bytes
) -> None:
    assert "a voice note only" in await say(app, "/answer voice")
    messages = len(sent(app, "sendMessage"))
    call = await voice_note(app, ogg)
    assert not call.params.get("caption")  # no transcript shown in a private chat, no tools
    assert call.files["voice"]
    await kept(app)
    assert len(sent(app, "sendMessage")) == messages  # and no text after it
    # A typed question: the voice note alone too.
    app.api.push_message("text", chat_id=USER, user_id=USER, text="And 3+3?")
    (_, typed) = await app.api.wait_for("sendVoice", count=2, timeout=20)
    assert not typed.params.get("caption")
    # /again text still has the words.
    assert await say(app, "/again text") == REPLY


@pytest.mark.yandex_variants
async def test_again_sends_the_voice_note_by_its_file_id_and_asks_no_model(
    app: RunningBot, ogg: bytes
) -> None:
    first = await voice_note(app, ogg)
    file_id = first.result["voice"]["file_id"]
    await kept(app)
    sessions = len(app.realtime.sessions)

    app.api.push_message("text", chat_id=USER, user_id=USER, text="/again voice")
    (_, again) = await app.api.wait_for("sendVoice", count=2, timeout=10)
    assert again.ok and again.params["voice"] == file_id and not again.files
    assert again.result["voice"]["file_id"] == file_id
    assert not again.params.get("caption")

    assert await say(app, "/again text") == REPLY

    # The chat's form (voice and text): the voice note again, its text as the caption.
    app.api.push_message("text", chat_id=USER, user_id=USER, text="/again")
    (*_, both) = await app.api.wait_for("sendVoice", count=3, timeout=10)
    assert both.params["voice"] == file_id and not both.files
    assert both.params["caption"] == REPLY

    assert len(app.realtime.sessions) == sessions  # no model asked
    assert len(sent(app, "sendVoice")) == 3


@pytest.mark.yandex_variants
async def test_again_voice_of_a_text_answer_says_it_has_none(app: RunningBot) -> None:
    await text_for_text_turn(app)
    await kept(app)
    sessions = len(app.realtime.sessions)
    assert "no voice note" in await say(app, "/again voice")
    assert await say(app, "/again") == REPLY  # typed, in a text-for-text chat: the text
    assert await say(app, "/again text") == REPLY
    assert not app.api.calls_of("sendVoice")
    assert len(app.realtime.sessions) == sessions


@pytest.mark.yandex_variants
async def test_a_new_conversation_leaves_nothing_for_again(app: RunningBot) -> None:
    await text_for_text_turn(app)
    await kept(app)
    await say(app, "/forget")
    assert "no answer to repeat" in await say(app, "/again")
    assert await say(app, "And 3+3?") == REPLY  # typed: answered in text
    await kept(app)
    await say(app, "/reset")
    assert "no answer to repeat" in await say(app, "/again")


async def test_again_with_nothing_to_repeat_and_its_usage(app: RunningBot) -> None:
    assert "no answer to repeat" in await say(app, "/again")
    assert "Usage: /again" in await say(app, "/again louder")
    assert not app.realtime.sessions


async def test_only_admins_set_the_form_and_anyone_may_ask_again(app: RunningBot) -> None:
    assert REFUSED in await say(app, "/answer voice", user=MEMBER, chat=GROUP)
    assert await app.redis.hget(keys.chat_settings(GROUP), "answer") is None
    assert "a voice note with its text" in await say(app, "/answer", user=MEMBER, chat=GROUP)
    assert "a voice note only" in await say(app, "/answer voice", user=ADMIN, chat=GROUP)
    assert await app.redis.hget(keys.chat_settings(GROUP), "answer") == "voice"
    assert "Usage" not in await say(app, "/answer", user=MEMBER, chat=GROUP)
    # /answer with a word it does not take: how to use it, nothing changed.
    assert "/answer voice_text" in await say(app, "/answer loud", user=ADMIN, chat=GROUP)
    assert await app.redis.hget(keys.chat_settings(GROUP), "answer") == "voice"
    assert "no answer to repeat" in await say(app, "/again", user=MEMBER, chat=GROUP)


async def test_the_form_is_a_settings_row_with_a_menu_button(app: RunningBot) -> None:
    before = len(sent(app, "sendMessage"))
    app.api.push_message("text", chat_id=USER, user_id=USER, text="/settings")
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    shown = calls[before].result
    assert "Answers: a voice note with its text" in shown["text"]
    menu = {
        b["text"]: b["callback_data"]
        for row in shown["reply_markup"]["inline_keyboard"]
        for b in row
    }
    assert menu["💬 Answers: voice and text"] == "set:answer:voice"
    app.api.push_callback(chat_id=USER, user_id=USER, data="set:answer:voice", message=shown)
    await app.api.wait_for("editMessageText", timeout=10, predicate=lambda c: c.ok)
    assert await app.redis.hget(keys.chat_settings(USER), "answer") == "voice"
    (edit,) = [c for c in app.api.calls_of("editMessageText") if c.ok]
    assert "Answers: a voice note only" in edit.params["text"]


def test_the_row_reads_stores_and_defaults() -> None:
    defaults = Defaults(voice="marina", instructions="Be brief.")
    assert settings_from({}, defaults).answer == "voice_text"
    assert settings_from({"answer": "text_for_text"}, defaults).answer == "text_for_text"
    assert settings_from({"answer": "loud"}, defaults).answer == "voice_text"
    assert not ANSWER.accepts("text") and ANSWER.accepts("voice")


def test_a_text_only_turn_asks_each_response_for_text_and_takes_an_answer_without_audio() -> None:
    config = SessionConfig(voice="marina", instructions="", output_modalities=("text",))
    protocol = TurnProtocol(config)
    (update,) = protocol.receive({"type": "session.created", "session": {}})
    assert update["session"]["output_modalities"] == ["text"]
    protocol.add_text("What is 2+2?")
    (create,) = protocol.end_input()
    assert create["type"] == "response.create"
    assert create["response"] == {"output_modalities": ["text"]}
    # Yandex's live service echoes both modalities and generates text only (stand_ins/README.md).
    response = {"id": "r1", "output_modalities": ["text", "audio"]}
    protocol.receive({"type": "response.created", "response": response})
    protocol.receive({"type": "response.output_text.delta", "response_id": "r1", "delta": "Four"})
    # Cut short (max_output_tokens): text is still an answer worth delivering.
    done = {**response, "status": "incomplete", "status_details": {"reason": "max_output_tokens"}}
    assert protocol.receive({"type": "response.done", "response": done}) == []
    assert protocol.done and protocol.reply_text == "Four" and not protocol.audio_bytes_received
