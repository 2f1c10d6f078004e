"""The voice studio end to end: the real dispatcher and worker against the Bot API and Realtime
stand-ins (each as strict as its provider: a role the voice lacks, a speed on Yandex, a role on
OpenAI are refused there) and a real Redis.

The session carries the voice, role, speed and input language as the chat chose them and as the
provider takes them; the picker groups the voices by language with a sample each, and a voice's
screen offers only its roles; a sample is made once by the model and then sent by its file_id
(no model session, no upload); a chat that keeps voices for several languages answers each
language in its voice."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat_options import settings_from
from bot.config import load_settings
from bot.domain import Defaults
from bot.i18n import Catalogue, Texts
from bot.provider_profiles import PROFILES
from bot.realtime.providers import place_voice_options
from bot.storage import keys
from bot.telegram.handlers.language import language_view
from bot.telegram.handlers.voice import voice_view, voices_view
from stand_ins.bot_api import Call
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.audio_props import probe
from tests.bot_harness import RunningBot, running_bot

USER = 5005
OTHER = 5006
GROUP = -100_555
ADMIN = 31
MEMBER = 32
REPLY = "Here is the answer."
REPLY_SECONDS = 3.0


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    realtime.scenario = Scenario(reply_text=REPLY, reply_seconds=REPLY_SECONDS)
    async with running_bot(realtime, redis_url) as running:
        running.api.chat_admins[GROUP] = [
            {"status": "creator", "user": {"id": ADMIN, "is_bot": False, "first_name": "Ann"}}
        ]
        yield running


def sent(app: RunningBot, method: str) -> list[Call]:
    return [c for c in app.api.calls_of(method) if c.ok]


async def say(app: RunningBot, text: str, user: int = USER, chat: int = USER) -> Call:
    """Send ``text``; the bot's next message."""
    before = len(sent(app, "sendMessage"))
    group = {"chat_type": "supergroup", "chat_title": "Team"} if chat < 0 else {}
    app.api.push_message("text", chat_id=chat, user_id=user, text=text, **group)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return calls[before]


async def ask(app: RunningBot, text: str, chat: int = USER) -> Call:
    """A typed question; the voice note that answers it."""
    before = len(sent(app, "sendVoice"))
    app.api.push_message("text", chat_id=chat, user_id=USER, text=text)
    calls = await app.api.wait_for(
        "sendVoice", count=before + 1, timeout=20, predicate=lambda c: c.ok
    )
    return calls[before]


async def tap(
    app: RunningBot, data: str, message: dict[str, Any], user: int = USER, chat: int = USER
) -> Call:
    """Press a button; the callback's answer."""
    before = len(app.api.calls_of("answerCallbackQuery"))
    group = {"chat_type": "supergroup"} if chat < 0 else {}
    app.api.push_callback(chat_id=chat, user_id=user, data=data, message=message, **group)
    calls = await app.api.wait_for("answerCallbackQuery", count=before + 1, timeout=20)
    return calls[before]


async def edited(app: RunningBot, count: int) -> Call:
    calls = await app.api.wait_for("editMessageText", count=count, timeout=10)
    return calls[count - 1]


def keyboard(call: Call) -> dict[str, str]:
    """Button text -> callback data."""
    markup = call.params["reply_markup"]
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


def session_of(app: RunningBot, index: int = -1) -> dict[str, Any]:
    return app.realtime.sessions[index].session


def sent_session(app: RunningBot) -> dict[str, Any]:
    """The ``session`` of the last session's session.update, as the bot sent it."""
    events = app.realtime.sessions[-1].client_events
    return dict(next(e for e in events if e["type"] == "session.update")["session"])


async def store(app: RunningBot, chat: int = USER, **fields: str) -> None:
    await app.services.settings_store.set(chat, **fields)


# -- what the session carries ------------------------------------------------------------


def test_options_are_placed_as_each_provider_takes_them() -> None:
    yandex, openai = PROFILES["yandex"], PROFILES["openai"]
    chosen = {"role": "good", "speed": 1.25, "language": "kk-KZ"}
    assert place_voice_options(yandex, "alena", chosen) == {
        "audio.output.role": "good",
        "audio.input.languages": ["kk-KZ"],
    }  # no speed: the bot makes it
    assert place_voice_options(yandex, "marina", chosen) == {"audio.input.languages": ["kk-KZ"]}
    assert place_voice_options(yandex, "filipp", {"role": "neutral"}) == {}
    assert place_voice_options(openai, "marin", chosen) == {
        "audio.output.speed": 1.25,
        "audio.input.transcription.language": "kk",
    }  # no role on OpenAI
    assert place_voice_options(openai, "marin", {"speed": 1.0, "language": "auto"}) == {}


@pytest.mark.yandex_variants
async def test_yandex_gets_the_role_and_languages_and_the_bot_makes_the_speed(
    app: RunningBot,
) -> None:
    await store(app, voice="alena", role="good", speed="1.5", language="kk-KZ")
    note = await ask(app, "Hello there")
    session = session_of(app)
    assert session["audio"]["output"]["voice"] == "alena"
    assert session["audio"]["output"]["role"] == "good"
    assert session["audio"]["input"]["languages"] == ["kk-KZ"]
    update = next(
        e for e in app.realtime.sessions[-1].client_events if e["type"] == "session.update"
    )
    assert "speed" not in update["session"]["audio"]["output"]
    # The model's 3 s, at 1.5×: a note of 2 s, its pitch kept (the tempo tests measure it).
    heard = probe(note.files["voice"])
    assert heard.codec == "opus"
    assert heard.duration == pytest.approx(REPLY_SECONDS / 1.5, rel=0.06)
    # Billed as the model made it: 3 s out.
    for _ in range(100):
        usage = await app.services.ledger.totals("c", USER, _month())
        if usage.output_seconds:
            break
        await asyncio.sleep(0.05)
    assert usage.output_seconds == pytest.approx(REPLY_SECONDS, rel=0.02)


@pytest.mark.yandex_variants
async def test_a_role_the_voice_lacks_is_never_sent(app: RunningBot) -> None:
    # Written by other means (or kept from an older voice): marina has no "evil".
    await app.redis.hset(keys.chat_settings(USER), mapping={"voice": "marina", "role": "evil"})
    await ask(app, "Hello")
    assert "role" not in sent_session(app)["audio"]["output"]
    await app.redis.hset(keys.chat_settings(USER), mapping={"voice": "filipp", "role": "neutral"})
    await ask(app, "Hello again")
    assert "role" not in sent_session(app)["audio"]["output"]  # filipp has no roles at all


@pytest.mark.realtime_profile("openai")
async def test_openai_gets_the_speed_and_transcription_language_and_no_role(
    app: RunningBot,
) -> None:
    await store(app, voice="coral", role="good", speed="1.25", language="de-DE")
    note = await ask(app, "Hello there")
    session = session_of(app)
    assert session["audio"]["output"]["voice"] == "coral"
    assert session["audio"]["output"]["speed"] == 1.25
    assert "role" not in session["audio"]["output"]
    assert session["audio"]["input"]["transcription"]["language"] == "de"
    # OpenAI speaks faster itself: the bot leaves the tempo as it comes.
    assert probe(note.files["voice"]).duration == pytest.approx(REPLY_SECONDS, rel=0.06)


def _month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m")


# -- the picker --------------------------------------------------------------------------


async def test_the_picker_groups_voices_with_samples_and_a_voice_offers_its_roles(
    app: RunningBot,
) -> None:
    picker = await say(app, "/voice")
    assert picker.params["text"].startswith("Choose a voice (now: marina)")
    buttons = keyboard(picker)
    assert buttons["✓ marina 🇷🇺 ♀"] == "voice:marina"
    rows = picker.params["reply_markup"]["inline_keyboard"]
    samples = {b["callback_data"] for row in rows for b in row if b["text"] == "▶"}
    assert samples == {f"vs:h:{name}:" for name in PROFILES["yandex"].voices}  # one each
    voices = PROFILES["yandex"].voices
    languages = [
        {
            voices[b["callback_data"].removeprefix("voice:")].language
            for b in row
            if b["text"] != "▶"
        }
        for row in rows
    ]
    assert all(len(row) == 1 for row in languages)  # a row is one language

    await tap(app, "voice:alena", picker.result)
    screen = await edited(app, 1)
    assert "Voice: alena" in screen.params["text"] and "Manner: neutral" in screen.params["text"]
    buttons = keyboard(screen)
    assert buttons["✓ neutral"] == "vs:r:neutral" and buttons["cheerful"] == "vs:r:good"
    assert buttons["▶ cheerful"] == "vs:h:alena:good"
    assert not any(data == "vs:r:whisper" for data in buttons.values())  # marina's, not alena's
    assert buttons["✓ 1×"] == "vs:s:1"

    answer = await tap(app, "vs:r:good", screen.result)
    assert "cheerful" in answer.params["text"]
    await tap(app, "vs:s:1.25", (await edited(app, 2)).result)
    screen = await edited(app, 3)
    assert "✓ cheerful" in keyboard(screen) and "✓ 1.25×" in keyboard(screen)
    chat = await app.services.settings_store.get(USER)
    assert (chat.voice, chat.value("role"), chat.value("speed")) == ("alena", "good", 1.25)

    # jane has "good" too: the role stays; filipp has none: it goes.
    await tap(app, "voice:jane", screen.result)
    assert (await app.services.settings_store.get(USER)).value("role") == "good"
    await tap(app, "voice:filipp", screen.result)
    chat = await app.services.settings_store.get(USER)
    assert chat.voice == "filipp" and chat.value("role") is None
    screen = await edited(app, 5)
    assert not any(data.startswith("vs:r:") for data in keyboard(screen).values())

    settings = (await say(app, "/settings")).params["text"]
    assert "Speed: 1.25×" in settings and "Voice: filipp" in settings


async def test_a_members_role_or_speed_is_refused_in_a_group(app: RunningBot) -> None:
    picker = await say(app, "/voice", user=ADMIN, chat=GROUP)
    for data in ("vs:r:good", "vs:s:1.5", "voice:alena"):
        refused = await tap(app, data, picker.result, user=MEMBER, chat=GROUP)
        assert "Only the chat's admins" in refused.params["text"]
    assert await app.redis.hgetall(keys.chat_settings(GROUP)) == {}
    # A role the voice does not have, even from an admin, changes nothing.
    await tap(app, "voice:alena", picker.result, user=ADMIN, chat=GROUP)
    await tap(app, "vs:r:whisper", picker.result, user=ADMIN, chat=GROUP)  # marina's, not alena's
    assert not (await app.redis.hgetall(keys.chat_settings(GROUP))).get("role")


async def test_voices_lists_them_by_language_with_the_chats_marked(app: RunningBot) -> None:
    await store(app, voice="jane")
    text = (await say(app, "/voices")).params["text"]
    assert "<b>✓ jane</b>" in text
    lines = text.splitlines()
    russian = next(line for line in lines if line.startswith("🇷🇺"))
    kazakh = next(line for line in lines if line.startswith("🇰🇿"))
    assert "alena" in russian and "amira" in kazakh and " amira" not in russian
    assert "Russian" in russian and "Kazakh" in kazakh


# -- samples -----------------------------------------------------------------------------


async def test_a_sample_is_made_once_then_sent_by_its_file_id_from_any_chat(
    app: RunningBot,
) -> None:
    picker = await say(app, "/voice")
    sessions = len(app.realtime.sessions)
    await tap(app, "vs:h:alena:good", picker.result)
    (first,) = await app.api.wait_for("sendVoice", timeout=20)
    assert "voice" in first.files  # uploaded, once
    assert len(app.realtime.sessions) == sessions + 1
    made = app.realtime.sessions[-1]
    assert made.session["audio"]["output"]["voice"] == "alena"
    assert made.session["audio"]["output"]["role"] == "good"
    file_id = first.response["result"]["voice"]["file_id"]
    assert await app.redis.get(keys.voice_sample("yandex", app.settings.realtime_model,
                                                 "alena", "good")) == file_id  # fmt: skip

    # Again, and from another chat: no model session, no upload, the same file.
    other = await say(app, "/voice", user=OTHER, chat=OTHER)
    for message, chat in ((picker.result, USER), (other.result, OTHER)):
        before = len(sent(app, "sendVoice"))
        await tap(app, "vs:h:alena:good", message, user=chat, chat=chat)
        calls = await app.api.wait_for(
            "sendVoice", count=before + 1, timeout=10, predicate=lambda c: c.ok
        )
        again = calls[before]
        assert again.params["voice"] == file_id and not again.files
        assert int(again.params["chat_id"]) == chat
    assert len(app.realtime.sessions) == sessions + 1
    # Another role is another sample.
    await tap(app, "vs:h:alena:", picker.result)
    await app.api.wait_for("sendVoice", count=4, timeout=20, predicate=lambda c: c.ok)
    assert len(app.realtime.sessions) == sessions + 2
    assert "role" not in app.realtime.sessions[-1].session["audio"]["output"]
    # The default role's own ▶ is that same sample (alena's default is neutral).
    await tap(app, "vs:h:alena:neutral", picker.result)
    (*_, last) = await app.api.wait_for("sendVoice", count=5, timeout=20, predicate=lambda c: c.ok)
    assert not last.files and last.params["caption"] == "alena · neutral"
    assert len(app.realtime.sessions) == sessions + 2


async def test_a_members_press_plays_a_sample_and_a_forged_one_is_stale(app: RunningBot) -> None:
    picker = await say(app, "/voice", user=ADMIN, chat=GROUP)
    await tap(app, "vs:h:john:", picker.result, user=MEMBER, chat=GROUP)
    (note,) = await app.api.wait_for("sendVoice", timeout=20)
    assert int(note.params["chat_id"]) == GROUP
    for forged in ("vs:h:nobody:", "vs:h:alena:whisper", "vs:h:john:neutral"):
        answer = await tap(app, forged, picker.result, user=MEMBER, chat=GROUP)
        assert "out of date" in answer.params["text"]
    await asyncio.sleep(0.3)
    assert len(sent(app, "sendVoice")) == 1


# -- the language it listens for ---------------------------------------------------------


async def test_language_is_set_by_command_and_keyboard_and_shown(app: RunningBot) -> None:
    shown = await say(app, "/language")
    buttons = keyboard(shown)
    assert buttons["✓ any language (auto)"] == "lang:auto" and buttons["Kazakh"] == "lang:kk-KZ"
    await tap(app, "lang:kk-KZ", shown.result)
    assert (await app.services.settings_store.get(USER)).value("language") == "kk-KZ"
    assert "I listen for: Kazakh" in (await say(app, "/settings")).params["text"]
    assert "I now listen for: German" in (await say(app, "/language de-de")).params["text"]
    assert "don't know" in (await say(app, "/language xx-YY")).params["text"]
    await say(app, "/language auto")
    assert (await app.services.settings_store.get(USER)).value("language") == "auto"


# -- a voice that follows the language ---------------------------------------------------


@pytest.mark.yandex_variants
async def test_each_language_is_answered_in_the_voice_the_chat_keeps_for_it(
    app: RunningBot,
) -> None:
    picker = await say(app, "/voice")
    for voice in ("john", "amira", "alena"):  # alena last: the chat's own voice
        await tap(app, f"voice:{voice}", picker.result)
    chat = await app.services.settings_store.get(USER)
    assert chat.voice == "alena"
    assert dict(chat.value("voices")) == {"en": "john", "kk": "amira", "ru": "alena"}
    for text, voice in (
        ("Привет, как дела сегодня?", "alena"),
        ("What is the weather like today?", "john"),
        ("Сәлеметсіз бе, бүгін ауа райы қандай?", "amira"),
    ):
        await ask(app, text)
        assert session_of(app)["audio"]["output"]["voice"] == voice, text
    # One voice for every language again.
    screen = await edited(app, 3)
    await tap(app, "vs:one", screen.result)
    await ask(app, "What is the weather like today?")
    assert session_of(app)["audio"]["output"]["voice"] == "alena"


@pytest.mark.yandex_variants
async def test_a_voice_note_follows_the_language_its_sender_spoke_last(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    """A voice note's language is known once heard: the next one of the same person follows
    it (the first in a new language keeps the old voice, as README says)."""
    await store(app, voice="alena", **{"voice_for:en": "john", "voice_for:ru": "alena"})
    ogg = audio_files["voice.ogg"].read_bytes()
    app.realtime.scenario = Scenario(
        reply_text=REPLY,
        reply_seconds=1.0,
        transcript="What is the weather like in London today?",
    )
    voices = []
    for _ in range(2):
        before = len(sent(app, "sendVoice"))
        app.api.push_message("voice", chat_id=USER, user_id=USER, data=ogg, duration=3)
        await app.api.wait_for("sendVoice", count=before + 1, timeout=20, predicate=lambda c: c.ok)
        voices.append(session_of(app)["audio"]["output"]["voice"])
    assert voices == ["alena", "john"]
    assert await spoken_last(app) == "en"
    # A typed text in Russian answers in Russian's voice, and is what the person spoke last.
    await ask(app, "Какая погода будет завтра утром?")
    assert session_of(app)["audio"]["output"]["voice"] == "alena"
    assert await spoken_last(app, "ru") == "ru"


async def spoken_last(app: RunningBot, expected: str = "en") -> str | None:
    """The language kept for USER, once the turn has kept it (after its delivery)."""
    found = None
    for _ in range(100):
        found = await app.redis.hget(keys.chat_spoken(USER), str(USER))
        if found == expected:
            break
        await asyncio.sleep(0.02)
    return found


async def test_a_sample_the_model_cannot_make_is_told_and_made_next_time(
    app: RunningBot,
) -> None:
    picker = await say(app, "/voice")
    app.realtime.scenario = Scenario(failure="error_on_create")
    before = len(sent(app, "sendMessage"))
    await tap(app, "vs:h:jane:evil", picker.result)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=30, predicate=lambda c: c.ok
    )
    assert "could not play that sample" in calls[before].params["text"]
    assert not sent(app, "sendVoice")
    assert await app.redis.get(keys.voice_sample("yandex", app.settings.realtime_model,
                                                 "jane", "evil")) is None  # fmt: skip
    # Nothing is left claimed: the next press makes it.
    app.realtime.scenario = Scenario(reply_text=REPLY, reply_seconds=1.0)
    await tap(app, "vs:h:jane:evil", picker.result)
    await app.api.wait_for("sendVoice", timeout=20, predicate=lambda c: c.ok)


async def test_speed_by_command(app: RunningBot) -> None:
    assert "Speed set: 1.25×" in (await say(app, "/speed 1,25")).params["text"]
    assert (await app.services.settings_store.get(USER)).value("speed") == 1.25
    assert "Speed set: 1×" in (await say(app, "/speed 1.0")).params["text"]
    how = (await say(app, "/speed 3")).params["text"]
    assert "I speak at 1×" in how and "0.8, 1, 1.25, 1.5" in how
    refused = (await say(app, "/speed 1.5", user=MEMBER, chat=GROUP)).params["text"]
    assert "admins" in refused
    assert "speed" not in await app.redis.hgetall(keys.chat_settings(GROUP))


async def test_voice_and_role_by_command(app: RunningBot) -> None:
    assert "Voice set: jane · evil" in (await say(app, "/voice jane evil")).params["text"]
    chat = await app.services.settings_store.get(USER)
    assert (chat.voice, chat.value("role")) == ("jane", "evil")
    refused = (await say(app, "/voice marina evil")).params["text"]
    assert "no manner “evil”" in refused and "neutral, whisper, friendly" in refused
    assert (await app.services.settings_store.get(USER)).voice == "jane"
    assert "Manner: irritated" in (await say(app, "/settings")).params["text"]


def test_openai_voices_have_no_roles_and_one_group_and_more_languages() -> None:
    settings = load_settings(_env_file=None, realtime_provider="openai")
    texts = Texts(Catalogue(), "en")
    chat = settings_from({"voice": "coral", "role": "good"}, Defaults("marin", "i"))
    _, markup = voices_view(texts, settings, chat)
    names = [b.text for row in markup.inline_keyboard for b in row if b.text != "▶"]
    assert "✓ coral ♀" in names and len(names) == len(PROFILES["openai"].voices)
    text, markup = voice_view(texts, settings, chat)
    data = [b.callback_data or "" for row in markup.inline_keyboard for b in row]
    assert not any(d.startswith("vs:r:") for d in data)  # no roles on OpenAI
    assert "vs:s:1.5" in data and "Manner: the voice's own" in text
    _, markup = language_view(texts, settings, chat)
    tags = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert tags[0] == "lang:auto" and "lang:fr-FR" in tags and "lang:uk-UA" in tags
