"""The chat settings' declarations (``bot.chat_options``) drive the storage, /settings and the
session: a new voice option is one row, and it is stored, read, shown and sent with no other
edit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.chat_options import OPTIONS, ChatOption, number, session_options, settings_from
from bot.core.answering import Answering, TurnStores
from bot.domain import ChatSettings, Defaults, Outcome, Prices, Reply, TurnJob
from bot.i18n import Catalogue
from bot.realtime.protocol import SessionConfig, session_update
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
# A speaking speed, declared here only: the row a newcomer would add to OPTIONS.
SPEED: ChatOption[float] = ChatOption(
    "speed",
    number(0.8, 1.5),
    default=1.0,
    command="speed",
    shown="settings-speed",
    session_field="audio.output.speed",
)
WITH_SPEED = (*OPTIONS, SPEED)
# Its locale line, as bot/locales/*/bot.ftl would hold it.
SPEED_LINES = {"en": "Speed: {value}", "ru": "Скорость речи: {value}"}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def texts_of(lang: str) -> Any:
    """The catalogue's words in ``lang``, with the speed's line added."""
    catalogue = Catalogue()

    def texts(key: str, **args: Any) -> str:
        if key == "settings-speed":
            return SPEED_LINES[lang].format(**args)
        return catalogue.get(lang, key, **args)

    return texts


RESOLVED = {"live": True, "tools": "clock, notes", "timezone": "Europe/Moscow"}


async def test_a_new_voice_option_is_stored_read_and_checked(redis: Redis) -> None:
    store = ChatSettingsStore(redis, DEFAULTS, WITH_SPEED)
    assert (await store.get(CHAT)).value("speed") == 1.0  # the declared default
    await store.set(CHAT, speed="1.2")
    chat = await store.get(CHAT)
    assert chat.value("speed") == 1.2 and "speed" in chat.custom
    assert chat.voice == "marina"  # the other settings as before
    for wrong in ("3", "0.5", "fast", "nan"):
        with pytest.raises(ValueError, match="does not take"):
            await store.set(CHAT, speed=wrong)
    assert await redis.hget(chat_settings(CHAT), "speed") == "1.2"
    # A value it does not take, written by other means, reads as the default.
    await redis.hset(chat_settings(CHAT), "speed", "9")
    assert (await store.get(CHAT)).value("speed") == 1.0
    # Without the row the field is no setting at all.
    with pytest.raises(ValueError, match="speed"):
        await ChatSettingsStore(redis, DEFAULTS).set(CHAT, speed="1.2")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_new_option_gets_its_line_in_settings(lang: str) -> None:
    texts = texts_of(lang)
    chat = settings_from({"speed": "1.25", "mode": "all"}, DEFAULTS, WITH_SPEED)
    before = settings_text(texts, chat, RESOLVED)
    after = settings_text(texts, chat, RESOLVED, WITH_SPEED)
    assert after == before + "\n" + SPEED_LINES[lang].format(value="1.25")


async def test_a_new_voice_option_reaches_the_session(
    redis: Redis, redis_url: str, realtime: RealtimeStandIn
) -> None:
    """From the chat's hash through the worker's turn (its setup loader, the realtime turn) to
    the ``session.update`` the model gets, with only the row added."""
    store = ChatSettingsStore(redis, DEFAULTS, WITH_SPEED)
    await store.set(CHAT, speed="1.3", voice="jane")
    answering = Answering(
        make_pipeline(realtime_settings(realtime)),
        Catalogue(),
        defaults=DEFAULTS,
        stores=TurnStores(
            store,
            ConversationMemory(redis, turns=4, ttl=600),
            UsageLedger(redis, Prices()),
            ChatStatus(redis),
        ),
        options=WITH_SPEED,
    )
    sink = Sink()
    job = TurnJob(chat_id=CHAT, message_id=1, user_id=CHAT, text="Hello")
    assert await answering.answer(job, NoFile(), sink) is Outcome.ANSWERED
    assert sink.replies
    output = realtime.sessions[-1].session["audio"]["output"]
    assert output["speed"] == 1.3 and output["voice"] == "jane"


def test_session_update_places_each_voice_option_at_its_path() -> None:
    chat = settings_from({"speed": "0.9"}, DEFAULTS, WITH_SPEED)
    placed = session_options(chat, WITH_SPEED)
    assert placed == {"audio.output.speed": 0.9}
    session = session_update(SessionConfig("marina", "i", voice_options=placed), "e1")["session"]
    assert session["audio"]["output"]["speed"] == 0.9
    assert session["audio"]["output"]["voice"] == "marina"
    # Today's options send nothing of their own: the session is as it was.
    assert session_options(chat) == {}
    assert session_update(SessionConfig("marina", "i"), "e1") == session_update(
        SessionConfig("marina", "i", voice_options=session_options(chat)), "e1"
    )


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
    )
    assert settings_from({"memory": "off", "timezone": "Nowhere/Land"}, DEFAULTS).memory is False
    assert settings_from({"timezone": "Nowhere/Land"}, DEFAULTS).timezone is None
    assert settings_from({}, DEFAULTS) == ChatSettings("marina", "Be brief.", "replies")


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
