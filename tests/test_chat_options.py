"""The chat settings' declarations (``bot.chat_options``) drive the storage, /settings and the
session: a new voice option is one row, and it is stored, read, shown and sent with no other
edit."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.chat_options import OPTIONS, ChatOption, number, session_options, settings_from
from bot.core.answering import Answering, TurnStores
from bot.domain import ChatSettings, Defaults, Outcome, Prices, Reply, TurnJob
from bot.i18n import Catalogue
from bot.provider_profiles import PROFILES, SessionField
from bot.realtime.protocol import SessionConfig, session_update
from bot.realtime.providers import place_voice_options
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.chat_status import ChatStatus
from bot.storage.keys import chat_settings
from bot.storage.memory import ConversationMemory
from bot.storage.usage import UsageLedger
from bot.telegram.commands import spec
from bot.telegram.handlers.settings import settings_text
from stand_ins.realtime import RealtimeStandIn
from tests.conftest import make_pipeline, realtime_settings

CHAT = 4242
DEFAULTS = Defaults(voice="marina", instructions="Be brief.")
# How loud the voice is, declared here only: the row a newcomer would add to OPTIONS, and the
# field of each provider's profile that takes it.
VOLUME: ChatOption[float] = ChatOption(
    "volume",
    number(0.5, 2.0),
    default=1.0,
    command="voice",
    shown="settings-volume",
    session_field="volume",
)
WITH_VOLUME = (*OPTIONS, VOLUME)
VOLUME_FIELD = SessionField("audio.output.volume")
# Its locale line, as bot/locales/*/bot.ftl would hold it.
VOLUME_LINES = {"en": "Volume: {value}", "ru": "Громкость: {value}"}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def texts_of(lang: str) -> Any:
    """The catalogue's words in ``lang``, with the volume's line added."""
    catalogue = Catalogue()

    def texts(key: str, **args: Any) -> str:
        if key == "settings-volume":
            return VOLUME_LINES[lang].format(**args)
        return catalogue.get(lang, key, **args)

    return texts


# The voice studio's settings of a chat that chose none: the voice's own role, 1×, any
# language, no voice kept for another language.
VOICE_DEFAULTS = {"role": None, "speed": 1.0, "language": "auto", "voices": ()}
RESOLVED = {"live": True, "tools": "clock, notes", "timezone": "Europe/Moscow"}


async def test_a_new_voice_option_is_stored_read_and_checked(redis: Redis) -> None:
    store = ChatSettingsStore(redis, DEFAULTS, WITH_VOLUME)
    assert (await store.get(CHAT)).value("volume") == 1.0  # the declared default
    await store.set(CHAT, volume="1.2")
    chat = await store.get(CHAT)
    assert chat.value("volume") == 1.2 and "volume" in chat.custom
    assert chat.voice == "marina"  # the other settings as before
    for wrong in ("3", "0.4", "loud", "nan"):
        with pytest.raises(ValueError, match="does not take"):
            await store.set(CHAT, volume=wrong)
    assert await redis.hget(chat_settings(CHAT), "volume") == "1.2"
    # A value it does not take, written by other means, reads as the default.
    await redis.hset(chat_settings(CHAT), "volume", "9")
    assert (await store.get(CHAT)).value("volume") == 1.0
    # Without the row the field is no setting at all.
    with pytest.raises(ValueError, match="volume"):
        await ChatSettingsStore(redis, DEFAULTS).set(CHAT, volume="1.2")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_new_option_gets_its_line_in_settings(lang: str) -> None:
    texts = texts_of(lang)
    chat = settings_from({"volume": "1.25", "mode": "all"}, DEFAULTS, WITH_VOLUME)
    before = settings_text(texts, chat, RESOLVED)
    after = settings_text(texts, chat, RESOLVED, WITH_VOLUME)
    assert after == before + "\n" + VOLUME_LINES[lang].format(value="1.25")


async def test_a_new_voice_option_reaches_the_session(
    redis: Redis, redis_url: str, realtime: RealtimeStandIn
) -> None:
    """From the chat's hash through the worker's turn (its setup loader, the realtime turn) to
    the ``session.update`` the model gets, with only the row and the profile's field added."""
    store = ChatSettingsStore(redis, DEFAULTS, WITH_VOLUME)
    await store.set(CHAT, volume="1.3", voice="jane")
    pipeline = make_pipeline(realtime_settings(realtime))
    profile = pipeline.options.profile
    fields = {**profile.session_fields, "volume": VOLUME_FIELD}
    pipeline.options = dataclasses.replace(
        pipeline.options, profile=dataclasses.replace(profile, session_fields=fields)
    )
    answering = Answering(
        pipeline,
        Catalogue(),
        defaults=DEFAULTS,
        stores=TurnStores(
            store,
            ConversationMemory(redis, turns=4, ttl=600),
            UsageLedger(redis, Prices()),
            ChatStatus(redis),
        ),
        options=WITH_VOLUME,
    )
    sink = Sink()
    job = TurnJob(chat_id=CHAT, message_id=1, user_id=CHAT, text="Hello")
    assert await answering.answer(job, NoFile(), sink) is Outcome.ANSWERED
    assert sink.replies
    output = realtime.sessions[-1].session["audio"]["output"]
    assert output["volume"] == 1.3 and output["voice"] == "jane"


def test_session_update_places_each_voice_option_at_its_path() -> None:
    chat = settings_from({"volume": "0.9"}, DEFAULTS, WITH_VOLUME)
    given = session_options(chat, WITH_VOLUME)
    assert given == {"volume": 0.9, "speed": 1.0, "language": "auto"}
    profile = dataclasses.replace(PROFILES["yandex"], session_fields={"volume": VOLUME_FIELD})
    placed = place_voice_options(profile, "marina", given)
    assert placed == {"audio.output.volume": 0.9}
    session = session_update(SessionConfig("marina", "i", voice_options=placed), "e1")["session"]
    assert session["audio"]["output"]["volume"] == 0.9
    assert session["audio"]["output"]["voice"] == "marina"
    # A chat that chose nothing sends nothing of its own: the session is as it was.
    for provider in PROFILES.values():
        assert place_voice_options(provider, "marina", session_options(chat)) == {}


def test_stored_strings_decode_as_before() -> None:
    """What each field of the hash has always meant: a value the setting does not take reads
    as its default; ``custom`` names every field the chat stored."""
    raw = {
        "voice": "",
        "mode": "bogus",
        "memory": "maybe",
        "live": "off",
        "transcript": "x",
        "timezone": "Asia/Tokyo",
        "tool:clock": "off",
        "tool:notes": "on",
        "tool:dice": "sometimes",
    }
    assert settings_from(raw, DEFAULTS) == ChatSettings(
        voice="marina",
        instructions="Be brief.",
        mode="replies",
        custom=frozenset(raw),
        memory=True,
        transcript=None,
        live=False,
        tools=(("clock", False), ("notes", True)),
        timezone="Asia/Tokyo",
        extra=VOICE_DEFAULTS,
    )
    assert settings_from({"memory": "off", "timezone": "Nowhere/Land"}, DEFAULTS).memory is False
    assert settings_from({"timezone": "Nowhere/Land"}, DEFAULTS).timezone is None
    assert settings_from({}, DEFAULTS) == ChatSettings(
        "marina", "Be brief.", "replies", extra=VOICE_DEFAULTS
    )


def test_every_declaration_is_worded_and_changed_by_admins() -> None:
    catalogue = Catalogue()
    for option in OPTIONS:
        assert option.admins_only
        assert option.command is not None and spec(option.command).changes, option.name
        if option.shown is not None:
            for lang in ("en", "ru"):
                assert "{ $value }" not in catalogue.get(lang, option.shown, value="v")
    assert len({option.name for option in OPTIONS}) == len(OPTIONS)


class NoFile:
    async def fetch(self) -> bytes:
        raise AssertionError("a text turn downloads nothing")


class Sink:
    def __init__(self) -> None:
        self.replies: list[Reply] = []

    def progress(
        self, live: bool, stop: asyncio.Event
    ) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    def draft(self, text: str) -> None:
        pass

    async def send_reply(self, reply: Reply) -> None:
        self.replies.append(reply)

    async def send_notice(self, text: str) -> None:
        raise AssertionError(text)
