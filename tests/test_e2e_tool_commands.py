"""The tools' commands (/tools, /timezone, /notes, /reminders) through the real dispatcher, the
Bot API stand-in and a real Redis: who may change what (and forget which note), and what is
stored."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import orjson
import pytest

from bot.domain import TurnJob
from bot.storage import keys
from stand_ins.realtime import RealtimeStandIn, Scenario, ScriptedCall
from tests.bot_harness import RunningBot, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

GROUP = -100_777
ADMIN = 11
MEMBER = 22
OTHER = 33
USER = 2002  # a private chat's user (its admin)
REFUSED = "Only the chat's admins"
LOCAL_TIME = re.compile(r"\b\w{2,3} \d\d\.\d\d \d\d:\d\d\b")  # "Sun 30.11 18:40"
MENTION = [{"type": "mention", "offset": 0, "length": len("@test_voice_bot")}]


def with_admins(running: RunningBot) -> RunningBot:
    running.api.chat_admins[GROUP] = [
        {"status": "creator", "user": {"id": ADMIN, "is_bot": False, "first_name": "Ann"}}
    ]
    # These tests send many commands to one group: Telegram's 20 a minute is not their subject.
    running.api.flood_limits = None
    return running


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(realtime, redis_url) as running:
        yield with_admins(running)


async def say(
    app: RunningBot, text: str, *, user: int = MEMBER, chat: int = GROUP, lang: str = "en"
) -> str:
    """Send ``text`` as ``user`` in ``chat`` (the group unless told); the bot's reply."""
    before = len([c for c in app.api.calls_of("sendMessage") if c.ok])
    group = {"chat_type": "supergroup", "chat_title": "Team"} if chat < 0 else {}
    app.api.push_message("text", chat_id=chat, user_id=user, text=text, language_code=lang, **group)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return str(calls[before].params["text"])


async def private(app: RunningBot, text: str, *, lang: str = "en") -> str:
    return await say(app, text, user=USER, chat=USER, lang=lang)


def asking(chat: int, user: int, message_id: int) -> TurnJob:
    """The turn that asked for a reminder."""
    return TurnJob(chat_id=chat, message_id=message_id, user_id=user, chat_type="supergroup")


def shown_at(due_at: float, zone: str) -> str:
    """How the English texts show ``due_at`` in ``zone``."""
    moment = dt.datetime.fromtimestamp(due_at, ZoneInfo(zone))
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[moment.weekday()]
    return f"{day} {moment:%d.%m %H:%M}"


async def test_tools_are_listed_for_everyone_and_switched_by_admins(app: RunningBot) -> None:
    available = app.services.tool_kit.available()
    assert "clock" in available and "notes" in available and "reminders" in available
    listing = await say(app, "/tools")
    for name in available:
        assert f"✅ {name}" in listing
    assert "date and time" in listing and "reminders at the time you say" in listing
    assert "/tools NAME on" in listing

    assert REFUSED in await say(app, "/tools time off", user=MEMBER)
    assert "tool:clock" not in (await app.services.settings_store.get(GROUP)).custom

    assert "“date and time” is off" in await say(app, "/tools time off", user=ADMIN)
    stored = await app.services.settings_store.get(GROUP)
    assert stored.tool_on("clock", True) is False
    assert "clock" not in app.services.tool_kit.enabled_for(stored)
    listing = await say(app, "/tools")
    assert "⛔ clock" in listing and "✅ notes" in listing
    assert "date and time" not in (await say(app, "/settings")).split("Tools on:")[1].split("\n")[0]

    assert "“reminders” is off" in await say(app, "/tools reminder OFF", user=ADMIN)
    assert "“date and time” is on" in await say(app, "/tools date on", user=ADMIN)
    stored = await app.services.settings_store.get(GROUP)
    assert stored.tool_on("clock", False) is True and stored.tool_on("reminders", True) is False

    unknown = await say(app, "/tools teleport on", user=ADMIN)
    assert "“teleport”" in unknown and "clock" in unknown and "notes" in unknown


async def test_a_tool_off_for_the_deployment_is_not_offered(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    async with running_bot(
        realtime, redis_url, tools_disabled=frozenset({"web_search"})
    ) as running:
        app = with_admins(running)
        assert "web_search" not in app.services.tool_kit.available()
        listing = await private(app, "/tools")
        assert "web_search" not in listing and "✅ clock" in listing
        refused = await private(app, "/tools search on")
        assert "not available" in refused and "clock" in refused
        stored = await app.services.settings_store.get(USER)
        assert not any(field.startswith("tool:") for field in stored.custom)
        assert "web_search" not in (await private(app, "/settings"))


async def test_timezone_set_by_name_and_offset_refused_when_unknown_and_reset(
    app: RunningBot,
) -> None:
    shown = await private(app, "/timezone")
    assert "Europe/Moscow (UTC+03:00)" in shown and LOCAL_TIME.search(shown)

    answer = await private(app, "/timezone europe/berlin")
    assert "Time zone set: Europe/Berlin" in answer and LOCAL_TIME.search(answer)
    assert (await app.services.settings_store.get(USER)).timezone == "Europe/Berlin"

    assert "“Mars/Olympus”" in await private(app, "/timezone Mars/Olympus")
    assert "“UTC+5:30”" in await private(app, "/timezone UTC+5:30")  # no IANA zone has it
    assert "“Europe”" in await private(app, "/timezone Europe")  # a folder, not a zone
    assert (await app.services.settings_store.get(USER)).timezone == "Europe/Berlin"

    for given, zone in (("UTC+3", "Etc/GMT-3"), ("GMT-5", "Etc/GMT+5"), ("+03:00", "Etc/GMT-3"),
                        ("utc", "UTC")):  # fmt: skip
        assert f"Time zone set: {zone}." in await private(app, f"/timezone {given}")
        assert (await app.services.settings_store.get(USER)).timezone == zone
    await private(app, "/timezone GMT-5")
    assert "Etc/GMT+5 (UTC-05:00)" in await private(app, "/timezone")

    assert "back to the default: Europe/Moscow" in await private(app, "/timezone reset")
    stored = await app.services.settings_store.get(USER)
    assert stored.timezone is None
    assert app.services.tool_kit.timezone_for(stored) == "Europe/Moscow"
    assert "Time zone: Europe/Moscow" in await private(app, "/settings")

    russian = await private(app, "/timezone Asia/Tokyo", lang="ru")
    assert "Часовой пояс установлен: Asia/Tokyo" in russian
    assert re.search(r"\b(Пн|Вт|Ср|Чт|Пт|Сб|Вс) \d\d\.\d\d", russian)


async def test_timezone_in_a_group_is_for_admins(app: RunningBot) -> None:
    assert REFUSED in await say(app, "/timezone Europe/Berlin", user=MEMBER)
    assert REFUSED in await say(app, "/timezone reset", user=MEMBER)
    assert (await app.services.settings_store.get(GROUP)).timezone is None
    assert "Europe/Moscow" in await say(app, "/timezone", user=MEMBER)
    assert "Asia/Yekaterinburg" in await say(app, "/timezone Asia/Yekaterinburg", user=ADMIN)
    assert "Asia/Yekaterinburg" in await say(app, "/timezone", user=MEMBER)


async def test_notes_listed_forgotten_and_cleared(app: RunningBot) -> None:
    notes = app.services.notes
    assert "no notes" in await say(app, "/notes")
    ada = await notes.add(GROUP, "My daughter's name is Ada")
    kazan = await notes.add(GROUP, "We live in Kazan")
    listing = await say(app, "/notes")
    assert f"{ada.id}. My daughter's name is Ada" in listing
    assert f"{kazan.id}. We live in Kazan" in listing
    assert listing.index("Ada") < listing.index("Kazan")

    forgotten = await say(app, f"/notes forget {ada.id}", user=ADMIN)
    assert "Forgotten: My daughter's name is Ada" in forgotten
    assert [n.id for n in await notes.list(GROUP)] == [kazan.id]
    assert "no note 999" in await say(app, "/notes forget 999")

    assert REFUSED in await say(app, "/notes clear", user=MEMBER)
    assert [n.id for n in await notes.list(GROUP)] == [kazan.id]
    assert "forgotten the one note" in await say(app, "/notes clear", user=ADMIN)
    assert await notes.list(GROUP) == []

    # In a private chat its user is its admin; and the texts in Russian.
    await notes.add(USER, "Ключи под ковриком")
    await notes.add(USER, "Кошку зовут Мурка")
    assert "Кошку зовут Мурка" in await private(app, "/notes", lang="ru")
    assert "Забыл все заметки (2)" in await private(app, "/notes clear", lang="ru")
    assert await notes.list(USER) == []


async def remember_in_group(app: RunningBot, user: int, text: str) -> None:
    """``user`` asks the bot in the group, and the model keeps ``text`` as a note."""
    app.realtime.scenario = Scenario(
        reply_text="Noted.", tool_script=[[ScriptedCall("remember_note", {"text": text})]]
    )
    before = len(app.api.calls_of("sendVoice"))
    app.api.push_message(
        "text", chat_id=GROUP, user_id=user, text="@test_voice_bot remember this",
        entities=MENTION, chat_type="supergroup", chat_title="Team",
    )  # fmt: skip
    await app.api.wait_for("sendVoice", count=before + 1, timeout=15)


async def test_a_note_is_forgotten_by_command_only_by_who_asked_for_it_or_an_admin(
    app: RunningBot,
) -> None:
    notes = app.services.notes
    await remember_in_group(app, MEMBER, "My daughter's name is Ada")
    await remember_in_group(app, OTHER, "My dog is called Rex")
    ada, rex = await notes.list(GROUP)
    # A note kept before notes had authors: the admins'.
    key = keys.chat_notes(GROUP)
    old = int(await app.redis.hincrby(key, "seq", 1))
    await app.redis.hset(key, str(old), orjson.dumps({"text": "We meet on Fridays", "at": 1.0}))

    refused = await say(app, f"/notes forget {ada.id}", user=OTHER)
    assert f"Note {ada.id} was kept at someone else's request" in refused
    assert "only they, or an admin" in refused
    assert "someone else's request" in await say(app, f"/notes forget {old}", user=MEMBER)
    assert [n.id for n in await notes.list(GROUP)] == [ada.id, rex.id, old]

    assert "Forgotten: My dog is called Rex" in await say(
        app, f"/notes forget {rex.id}", user=OTHER
    )
    assert "Forgotten: My daughter's name is Ada" in await say(
        app, f"/notes forget #{ada.id}", user=ADMIN
    )
    assert "Forgotten: We meet on Fridays" in await say(app, f"/notes forget {old}", user=ADMIN)
    assert await notes.list(GROUP) == []


async def test_reminders_listed_cancelled_by_the_asker_or_an_admin_and_cleared(
    app: RunningBot,
) -> None:
    store = app.services.reminders
    assert "No reminders are waiting" in await say(app, "/reminders")
    await app.services.settings_store.set(GROUP, timezone="Asia/Tokyo")
    now = time.time()
    mum = await store.add(asking(GROUP, MEMBER, 501), "call mum", now + 3600, now=now)
    bins = await store.add(asking(GROUP, MEMBER, 502), "take out the bins", now + 7200, now=now)
    plants = await store.add(asking(GROUP, OTHER, 503), "water the plants", now + 9000, now=now)

    listing = await say(app, "/reminders", user=OTHER)
    assert "Asia/Tokyo" in listing
    assert f"#{mum.id} {shown_at(mum.due_at, 'Asia/Tokyo')} — call mum" in listing
    assert listing.index("call mum") < listing.index("bins") < listing.index("plants")

    assert "Only the one who asked" in await say(app, f"/reminders cancel {mum.id}", user=OTHER)
    assert mum.id in [r.id for r in await store.list(GROUP)]
    cancelled = await say(app, f"/reminders cancel {mum.id}", user=MEMBER)
    assert "Cancelled:" in cancelled and "call mum" in cancelled
    assert mum.id not in [r.id for r in await store.list(GROUP)]
    assert "No reminder nope" in await say(app, "/reminders cancel nope", user=MEMBER)

    assert "take out the bins" in await say(app, f"/reminders cancel #{bins.id}", user=ADMIN)
    assert [r.id for r in await store.list(GROUP)] == [plants.id]

    assert REFUSED in await say(app, "/reminders clear", user=OTHER)
    assert "cancelled the one waiting reminder" in await say(app, "/reminders clear", user=ADMIN)
    assert await store.list(GROUP) == []


async def test_reminders_in_russian(app: RunningBot) -> None:
    now = time.time()
    job = TurnJob(chat_id=USER, message_id=7, user_id=USER, lang="ru")
    call = await app.services.reminders.add(job, "позвонить маме", now + 600, now=now)
    listing = await private(app, "/reminders", lang="ru")
    assert "Напоминания, которые ждут (часовой пояс Europe/Moscow)" in listing
    assert f"#{call.id}" in listing and "позвонить маме" in listing
    assert "Отменено" in await private(app, f"/reminders cancel {call.id}", lang="ru")


async def test_help_tells_what_the_assistant_can_do(app: RunningBot) -> None:
    help_text = await private(app, "/help")
    assert "remind me in twenty minutes to call mum" in help_text.lower()
    assert "what's the weather in kazan?" in help_text.lower()
    assert "/tools" in help_text and "web search, date and time" in help_text
    assert len(help_text.splitlines()) <= 9  # short: the settings are behind "More"
    assert "Что я умею" in await private(app, "/help", lang="ru")


async def test_help_offers_only_the_tools_of_this_deployment(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    async with running_bot(realtime, redis_url, tools_disabled=frozenset({"web_search"})) as app:
        help_text = await private(app, "/help")
        assert "search the web" not in help_text and "weather" not in help_text
        assert "date and time" in help_text and "what day is it today?" in help_text.lower()
