"""The tool kit: which tools a chat has, how they are declared, what each call does (against a
real Redis), the errors the model gets instead of exceptions, and the lines the chat sees; who
may forget a note or cancel a reminder, and the bounds on what one turn's calls may do."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from redis.asyncio import Redis

from bot.domain import ChatSettings, ReminderCharge, ToolCall, TurnJob
from bot.errors import ToolFailed
from bot.storage import keys
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.storage.tool_quota import ToolQuota, daily_key
from bot.tools import TOOL_NAMES, Source, ToolKit, TurnTools
from bot.tools.search import SearchHit
from stand_ins.redis import free_port

CHAT, OTHER = 301, 302
MOSCOW = "Europe/Moscow"
# Sunday 29 November 2026, 15:00 in Moscow (UTC+3 all year): 12:00 UTC.
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC).timestamp()
JOB = TurnJob(CHAT, 77, user_id=5, lang="ru", thread_id=3, text="hello")  # a member, not an admin


class Search:
    """A search back end that answers from a list and records what it was asked."""

    def __init__(self, hits: list[SearchHit], fail: Exception | None = None) -> None:
        self.hits = hits
        self.fail = fail
        self.asked: list[tuple[str, int, str]] = []

    async def search(self, query: str, *, limit: int = 5, language: str = "") -> list[SearchHit]:
        self.asked.append((query, limit, language))
        if self.fail is not None:
            raise self.fail
        return self.hits[:limit]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def notes(redis: Redis) -> NotesStore:
    return NotesStore(redis, max_notes=3)


@pytest.fixture
def reminders(redis: Redis) -> ReminderStore:
    return ReminderStore(redis, max_per_chat=5)


def settings(*, timezone: str | None = None, **tools: bool) -> ChatSettings:
    return ChatSettings(
        voice="marina",
        instructions="be brief",
        mode="replies",
        tools=tuple(sorted(tools.items())),
        timezone=timezone,
    )


def kit(
    notes: NotesStore,
    reminders: ReminderStore,
    *,
    search: Search | None = None,
    provider_search: bool = False,
    disabled: frozenset[str] = frozenset(),
    **bounds: Any,
) -> ToolKit:
    return ToolKit(
        notes=notes,
        reminders=reminders,
        search=search,
        provider_search=provider_search,
        disabled=disabled,
        default_timezone=MOSCOW,
        now=lambda: NOW,
        **bounds,
    )


async def turn(
    notes: NotesStore,
    reminders: ReminderStore,
    job: TurnJob = JOB,
    chat: ChatSettings | None = None,
    **options: Any,
) -> TurnTools:
    tools = await kit(notes, reminders, **options).for_turn(job, chat or settings())
    assert tools is not None
    return tools


async def call(tools: TurnTools, name: str, arguments: Any = None, raw: str | None = None) -> Any:
    text = raw if raw is not None else orjson.dumps(arguments or {}).decode()
    output = await tools.run(ToolCall(call_id="c1", name=name, arguments=text))
    assert isinstance(output, str)
    return orjson.loads(output)


def names(tools: TurnTools) -> list[str]:
    return [declaration["name"] for declaration in tools.declarations]


def utc(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


# ------------------------------------------------------------------------ which tools


def test_available_tools_follow_the_deployment(notes: NotesStore, reminders: ReminderStore) -> None:
    assert kit(notes, reminders).available() == ("clock", "notes", "reminders")
    assert kit(notes, reminders, provider_search=True).available() == TOOL_NAMES
    assert kit(notes, reminders, search=Search([])).available() == TOOL_NAMES
    off = kit(notes, reminders, provider_search=True, disabled=frozenset({"notes", "clock"}))
    assert off.available() == ("web_search", "reminders")


def test_a_chat_switches_tools_off_and_chooses_its_zone(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    toolkit = kit(notes, reminders, disabled=frozenset({"clock"}))
    assert toolkit.enabled_for(settings()) == {"notes", "reminders"}
    assert toolkit.enabled_for(settings(notes=False, clock=True)) == {"reminders"}
    assert toolkit.timezone_for(settings()) == MOSCOW
    assert toolkit.timezone_for(settings(timezone="Asia/Tokyo")) == "Asia/Tokyo"
    assert toolkit.timezone_for(settings(timezone="Mars/Olympus")) == MOSCOW


async def test_no_tools_when_the_chat_has_none_on(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    toolkit = kit(notes, reminders, search=Search([]))
    off = settings(web_search=False, clock=False, notes=False, reminders=False)
    assert await toolkit.for_turn(JOB, off) is None
    everything_off = kit(notes, reminders, disabled=frozenset(TOOL_NAMES))
    assert await everything_off.for_turn(JOB, settings()) is None


async def test_declarations_follow_the_enabled_tools(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    assert names(tools) == [
        "get_current_time",
        "remember_note",
        "forget_note",
        "list_notes",
        "set_reminder",
        "list_reminders",
        "cancel_reminder",
    ]
    for declaration in tools.declarations:
        assert declaration["type"] == "function"
        assert len(declaration["description"]) > 20
        assert declaration["parameters"]["type"] == "object"
        orjson.dumps(declaration)  # goes into session.update as it is
    set_reminder = next(d for d in tools.declarations if d["name"] == "set_reminder")
    assert set(set_reminder["parameters"]["properties"]) == {"text", "at", "in_minutes"}
    assert set_reminder["parameters"]["required"] == ["text"]
    only_clock = await turn(notes, reminders, chat=settings(notes=False, reminders=False))
    assert names(only_clock) == ["get_current_time"]
    assert only_clock.server_side == frozenset()


async def test_web_search_is_the_providers_or_ours(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    off = settings(clock=False, notes=False, reminders=False)
    provider = await turn(notes, reminders, chat=off, provider_search=True, search=Search([]))
    [declaration] = provider.declarations
    assert set(declaration) == {"type", "name", "description", "parameters"}
    assert (declaration["type"], declaration["name"]) == ("function", "web_search")
    assert declaration["parameters"] == "{}"  # a string, as Yandex's example declares it
    assert provider.server_side == {"web_search"}
    # Should the provider leave the call to the bot after all: our back end, when there is one.
    assert await call(provider, "web_search", {"query": "weather"}) == {"results": []}
    alone = await turn(notes, reminders, chat=off, provider_search=True, search=None)
    refused = await call(alone, "web_search", {"query": "weather"})
    assert "unavailable" in refused["error"]

    ours = await turn(notes, reminders, chat=off, search=Search([]))
    [declaration] = ours.declarations
    assert declaration["name"] == "web_search"
    assert declaration["parameters"]["required"] == ["query"]
    assert declaration["parameters"]["properties"]["query"]["type"] == "string"
    assert ours.server_side == frozenset()

    none = await kit(notes, reminders).for_turn(JOB, off)
    assert none is None


# ------------------------------------------------------------------------------ calls


async def test_get_current_time_is_in_the_chats_zone(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    assert await call(tools, "get_current_time") == {
        "now": "2026-11-29T15:00:00+03:00",
        "weekday": "Sunday",
        "timezone": MOSCOW,
    }
    tokyo = await turn(notes, reminders, chat=settings(timezone="Asia/Tokyo"))
    result = await call(tokyo, "get_current_time", raw="")
    assert result["now"] == "2026-11-29T21:00:00+09:00"
    assert dt.datetime.fromisoformat(result["now"]).timestamp() == NOW
    assert result["timezone"] == "Asia/Tokyo"


async def test_notes_through_the_tools(notes: NotesStore, reminders: ReminderStore) -> None:
    tools = await turn(notes, reminders)
    saved = await call(tools, "remember_note", {"text": "Anna is my daughter"})
    assert saved["saved"] is True and saved["text"] == "Anna is my daughter"
    await call(tools, "remember_note", {"text": "Mum's birthday is on 3 May"})
    listed = await call(tools, "list_notes")
    assert [n["text"] for n in listed["notes"]] == [
        "Anna is my daughter",
        "Mum's birthday is on 3 May",
    ]
    written = dt.datetime.fromtimestamp((await notes.list(CHAT))[0].at, ZoneInfo(MOSCOW))
    assert listed["notes"][0]["written"] == written.date().isoformat()

    forgotten = await call(tools, "forget_note", {"about": "birthday mum"})
    assert [n["text"] for n in forgotten["forgotten"]] == ["Mum's birthday is on 3 May"]
    nothing = await call(tools, "forget_note", {"about": "tulips"})
    assert nothing["forgotten"] == [] and "hint" in nothing
    by_id = await call(tools, "forget_note", {"about": str(saved["id"])})
    assert [n["text"] for n in by_id["forgotten"]] == ["Anna is my daughter"]
    assert await notes.list(CHAT) == []
    assert tools.actions == [
        "📝 Anna is my daughter",
        "📝 Mum's birthday is on 3 May",
        "🗑 Mum's birthday is on 3 May",
        "🗑 Anna is my daughter",
    ]


async def test_a_tool_acts_only_in_its_own_chat(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    await notes.add(OTHER, "their secret")
    tools = await turn(notes, reminders)
    await call(tools, "remember_note", {"text": "mine", "chat_id": OTHER})
    assert [n.text for n in await notes.list(CHAT)] == ["mine"]
    gone = await call(tools, "forget_note", {"about": "their secret", "chat_id": OTHER})
    assert gone["forgotten"] == []
    listed = await call(tools, "list_notes", {"chat_id": OTHER})
    assert [n["text"] for n in listed["notes"]] == ["mine"]
    assert [n.text for n in await notes.list(OTHER)] == ["their secret"]

    asked = await reminders.add(TurnJob(OTHER, 9), "their reminder", NOW + 60, now=NOW)
    refused = await call(tools, "cancel_reminder", {"id": asked.id})
    assert "error" in refused
    assert await reminders.list(OTHER) == [asked]


async def test_limits_and_refusals_become_error_outputs(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    for i in range(3):
        await call(tools, "remember_note", {"text": f"fact {i}"})
    full = await call(tools, "remember_note", {"text": "one too many"})
    assert set(full) == {"error"} and "3 notes" in full["error"]
    assert "error" in await call(tools, "remember_note", {"text": "   "})
    assert "error" in await call(tools, "remember_note", {})
    assert "error" in await call(tools, "remember_note", {"text": 42})
    assert len(tools.actions) == 3


async def test_bad_arguments_and_unknown_functions_never_raise(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    assert "error" in await call(tools, "remember_note", raw='{"text": "unfinished')
    assert "error" in await call(tools, "remember_note", raw='["a list"]')
    unknown = await call(tools, "launch_rockets", {"count": 3})
    assert "launch_rockets" in unknown["error"]
    assert await notes.list(CHAT) == []
    assert tools.actions == []


async def test_redis_away_is_an_error_output(reminders: ReminderStore) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True)
    try:
        toolkit = kit(NotesStore(dead), ReminderStore(dead))
        tools = await toolkit.for_turn(JOB, settings())
        assert tools is not None
        assert "could not be read" in tools.instructions
        for name, arguments in [
            ("remember_note", {"text": "x"}),
            ("list_notes", {}),
            ("set_reminder", {"text": "x", "in_minutes": 5}),
            ("list_reminders", {}),
        ]:
            output = await call(tools, name, arguments)
            assert "storage" in output["error"]
    finally:
        await dead.aclose()


# -------------------------------------------------------------------------- reminders


async def test_set_reminder_at_a_local_time_of_the_chats_zone(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    result = await call(tools, "set_reminder", {"text": "call mum", "at": "2026-11-30T18:40"})
    assert result["due"] == "2026-11-30T18:40" and result["weekday"] == "Monday"
    [reminder] = await reminders.list(CHAT)
    assert reminder.due_at == utc(2026, 11, 30, 15, 40)  # 18:40 in Moscow is 15:40 UTC
    assert result["id"] == reminder.id and reminder.text == "call mum"
    assert (reminder.job.message_id, reminder.job.thread_id) == (77, 3)
    assert tools.actions == ["⏰ 30.11 18:40 — call mum"]

    york = await turn(notes, reminders, chat=settings(timezone="America/New_York"))
    await call(york, "set_reminder", {"text": "dentist", "at": "2026-11-30T18:40"})
    dentist = next(r for r in await reminders.list(CHAT) if r.text == "dentist")
    assert dentist.due_at == utc(2026, 11, 30, 23, 40)  # EST, UTC-5
    # Summer time in New York (UTC-4) is taken into account too.
    await call(york, "set_reminder", {"text": "picnic", "at": "2027-07-04T12:00"})
    picnic = next(r for r in await reminders.list(CHAT) if r.text == "picnic")
    assert picnic.due_at == utc(2027, 7, 4, 16, 0)
    assert york.actions[-1] == "⏰ 04.07.2027 12:00 — picnic"


async def test_set_reminder_in_minutes_shows_no_date_today(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    result = await call(tools, "set_reminder", {"text": "tea", "in_minutes": 30})
    [reminder] = await reminders.list(CHAT)
    assert reminder.due_at == NOW + 1800
    assert result["due"] == "2026-11-29T15:30"
    await call(tools, "set_reminder", {"text": "bed", "in_minutes": "600"})
    assert tools.actions == ["⏰ 15:30 — tea", "⏰ 30.11 01:00 — bed"]


async def test_set_reminder_refuses_past_and_unclear_times(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    past = await call(tools, "set_reminder", {"text": "x", "at": "2026-11-29T14:59"})
    assert "passed" in past["error"] and "2026-11-29T15:00" in past["error"]
    for arguments in [
        {"text": "x"},
        {"text": "x", "at": "2026-11-30T18:40", "in_minutes": 5},
        {"text": "x", "at": "tomorrow evening"},
        {"text": "x", "at": "2026-11-30"},
        {"text": "x", "in_minutes": -5},
        {"text": "x", "in_minutes": "soon"},
        {"text": "x", "in_minutes": True},
        {"text": "", "in_minutes": 5},
        {"text": "x", "in_minutes": 1e308},
        {"text": "x", "at": "2099-01-01T10:00"},  # past the horizon
    ]:
        output = await call(tools, "set_reminder", arguments)
        assert set(output) == {"error"}, arguments
    assert await reminders.list(CHAT) == []
    assert tools.actions == []


async def test_list_and_cancel_reminders(notes: NotesStore, reminders: ReminderStore) -> None:
    tools = await turn(notes, reminders)
    await call(tools, "set_reminder", {"text": "later", "in_minutes": 120})
    first = await call(tools, "set_reminder", {"text": "sooner", "in_minutes": 10})
    listed = await call(tools, "list_reminders")
    assert [r["text"] for r in listed["reminders"]] == ["sooner", "later"]
    assert listed["reminders"][0]["due"] == "2026-11-29T15:10"
    assert listed["timezone"] == MOSCOW
    cancelled = await call(tools, "cancel_reminder", {"id": first["id"]})
    assert cancelled["cancelled"] is True and cancelled["text"] == "sooner"
    again = await call(tools, "cancel_reminder", {"id": int(first["id"])})
    assert "error" in again
    assert "error" in await call(tools, "cancel_reminder", {})
    assert [r.text for r in await reminders.list(CHAT)] == ["later"]
    assert tools.actions[-1] == "❌⏰ sooner"


# ------------------------------------------------------------------------- web search


async def test_our_web_search_returns_hits_and_records_sources_once(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    hits = [
        SearchHit("Weather in Moscow", "https://example.org/moscow", "Snow, -3"),
        SearchHit("Forecast", "https://example.net/f", ""),
    ]
    search = Search(hits)
    tools = await turn(notes, reminders, search=search)
    result = await call(tools, "web_search", {"query": "погода Москва"})
    assert result == {
        "results": [
            {
                "title": "Weather in Moscow",
                "url": "https://example.org/moscow",
                "snippet": "Snow, -3",
            },
            {"title": "Forecast", "url": "https://example.net/f", "snippet": ""},
        ]
    }
    assert search.asked == [("погода Москва", 5, "ru")]
    await call(tools, "web_search", {"query": "weather Moscow"})
    assert tools.sources == [
        Source("Weather in Moscow", "https://example.org/moscow"),
        Source("Forecast", "https://example.net/f"),
    ]
    assert tools.summary() == (
        "🔗 Weather in Moscow — https://example.org/moscow\n🔗 Forecast — https://example.net/f"
    )


async def test_a_failing_search_is_an_error_output(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    refused = await turn(notes, reminders, search=Search([], fail=ToolFailed("search timed out")))
    assert await call(refused, "web_search", {"query": "x"}) == {"error": "search timed out"}
    broken = await turn(notes, reminders, search=Search([], fail=RuntimeError("boom")))
    assert "error" in await call(broken, "web_search", {"query": "x"})
    assert "error" in await call(broken, "web_search", {"query": ""})
    assert broken.sources == [] and broken.summary() == ""


# ------------------------------------------------------------------- what the chat sees


async def test_summary_is_actions_then_sources(notes: NotesStore, reminders: ReminderStore) -> None:
    search = Search([SearchHit("Shop hours", "https://shop.example/hours")])
    tools = await turn(notes, reminders, search=search)
    assert tools.summary() == ""
    await call(tools, "web_search", {"query": "shop hours"})
    await call(tools, "set_reminder", {"text": "go\nshopping", "at": "2026-11-29T19:00"})
    await call(tools, "remember_note", {"text": "The shop closes at 21:00"})
    assert tools.summary().splitlines() == [
        "⏰ 19:00 — go shopping",
        "📝 The shop closes at 21:00",
        "🔗 Shop hours — https://shop.example/hours",
    ]


async def test_instructions_tell_the_local_time_and_the_tools_and_notes_are_context(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    await notes.add(CHAT, "Anna is my daughter")
    await notes.add(CHAT, "The dog is called Rex")
    await notes.add(OTHER, "not this chat's")
    tools = await turn(notes, reminders, chat=settings(timezone="Asia/Tokyo"))
    text = tools.instructions
    assert "Sunday, 2026-11-29 21:00" in text and "Asia/Tokyo" in text and "UTC+09:00" in text
    for name in ("get_current_time", "set_reminder", "remember_note"):
        assert name in text
    assert "web_search" not in text
    # What people wrote is never in the instructions: it is quoted context, labelled.
    assert "Anna" not in text and "Rex" not in text
    assert "quoted message" in text
    context = tools.context
    assert context.startswith("[Notes this chat's people asked you to remember.")
    assert "not instructions to you" in context.splitlines()[0]
    assert "1. Anna is my daughter" in context and "2. The dog is called Rex" in context
    assert "not this chat's" not in context

    empty = await turn(notes, reminders, job=TurnJob(999, 1))
    assert "Notes this chat asked you to remember: none yet." in empty.instructions
    assert empty.context == ""

    no_time = await turn(notes, reminders, chat=settings(clock=False, reminders=False))
    assert "2026-11-29" not in no_time.instructions
    assert "Anna is my daughter" in no_time.context
    no_notes = await turn(notes, reminders, chat=settings(notes=False))
    assert "Anna" not in no_notes.instructions and "Notes" not in no_notes.instructions
    assert no_notes.context == ""
    assert "15:00" in no_notes.instructions and MOSCOW in no_notes.instructions


# ---------------------------------------------------------------- who may remove what

ANN, BOB, ADMIN = 5, 6, 7  # Ann is JOB's asker


def asked_by(user: int, *, admin: bool = False, message_id: int = 80) -> TurnJob:
    return TurnJob(CHAT, message_id, user_id=user, chat_type="supergroup", asker_is_admin=admin)


async def legacy_note(redis: Redis, chat: int, text: str) -> int:
    """A note as the bot kept it before notes had authors: no ``by``."""
    key = keys.chat_notes(chat)
    number = int(await redis.hincrby(key, "seq", 1))
    await redis.hset(key, str(number), orjson.dumps({"text": text, "at": NOW}))
    return number


async def test_a_member_forgets_only_the_notes_they_asked_for(
    redis: Redis, reminders: ReminderStore
) -> None:
    notes = NotesStore(redis)
    anns = await notes.add(CHAT, "Ann's cat is called Tom", by=ANN, admin=False)
    bobs = await notes.add(CHAT, "Bob's cat is called Max", by=BOB, admin=False)
    admins = await notes.add(CHAT, "The cat food is in the cupboard", by=ADMIN, admin=True)
    old = await legacy_note(redis, CHAT, "The cat sleeps on the sofa")

    bob = await turn(notes, reminders, job=asked_by(BOB))
    refused = await call(bob, "forget_note", {"about": str(anns.id)})
    assert refused["forgotten"] == []
    assert [n["id"] for n in refused["not_forgotten"]] == [anns.id]
    assert "only they or an admin" in refused["why"]
    # Words naming several notes forget only the asker's own; the rest are listed as kept.
    some = await call(bob, "forget_note", {"about": "cat"})
    assert [n["id"] for n in some["forgotten"]] == [bobs.id]
    assert sorted(n["id"] for n in some["not_forgotten"]) == [anns.id, admins.id, old]
    assert bob.actions == ["🗑 Bob's cat is called Max"]
    # A note kept before notes had authors is the admins': not even its writer's.
    ann = await turn(notes, reminders, job=asked_by(ANN))
    assert (await call(ann, "forget_note", {"about": str(old)}))["forgotten"] == []
    assert [n.id for n in await notes.list(CHAT)] == [anns.id, admins.id, old]

    admin = await turn(notes, reminders, job=asked_by(ADMIN, admin=True))
    everything = await call(admin, "forget_note", {"about": "cat"})
    assert sorted(n["id"] for n in everything["forgotten"]) == [anns.id, admins.id, old]
    assert "not_forgotten" not in everything
    assert await notes.list(CHAT) == []


async def test_a_one_letter_forget_matches_nothing_and_words_are_whole(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    tools = await turn(notes, reminders)
    for text in ("Anna likes green tea", "We meet on Fridays"):
        await call(tools, "remember_note", {"text": text})
    for about in ("e", "a", "E.", "и", "ee", "greentea", "tea fridays"):
        nothing = await call(tools, "forget_note", {"about": about})
        assert nothing["forgotten"] == [] and "whole words" in nothing["hint"], about
    assert len(await notes.list(CHAT)) == 2
    # A number names that note only, never the notes that mention it.
    assert (await call(tools, "forget_note", {"about": "99"}))["forgotten"] == []
    gone = await call(tools, "forget_note", {"about": "GREEN tea,"})
    assert [n["text"] for n in gone["forgotten"]] == ["Anna likes green tea"]
    assert [n.text for n in await notes.list(CHAT)] == ["We meet on Fridays"]


async def test_a_member_cannot_fill_the_chats_notes_and_admins_still_add(
    redis: Redis, reminders: ReminderStore
) -> None:
    notes = NotesStore(redis, max_notes=6, max_per_user=2)
    ann = await turn(notes, reminders, job=asked_by(ANN))
    results = await asyncio.gather(
        *(call(ann, "remember_note", {"text": f"fact {i}"}) for i in range(6))
    )
    kept = [r for r in results if r.get("saved")]
    refused = [r["error"] for r in results if "error" in r]
    assert len(kept) == 2 and len(refused) == 4
    assert all("the most one member may keep" in error for error in refused)
    # The chat's other slots stay free: another member, and an admin past the member quota.
    bob = await turn(notes, reminders, job=asked_by(BOB))
    assert (await call(bob, "remember_note", {"text": "Bob's fact"}))["saved"] is True
    admin = await turn(notes, reminders, job=asked_by(ADMIN, admin=True))
    for i in range(3):
        assert (await call(admin, "remember_note", {"text": f"rule {i}"}))["saved"] is True
    assert [n.by for n in await notes.list(CHAT)] == [ANN, ANN, BOB, ADMIN, ADMIN, ADMIN]
    # Once Ann forgets one of hers she may keep another.
    await call(ann, "forget_note", {"about": str(kept[0]["id"])})
    assert (await call(ann, "remember_note", {"text": "a new fact"}))["saved"] is True


async def test_the_model_cancels_a_reminder_only_for_its_asker_or_an_admin(
    notes: NotesStore, reminders: ReminderStore
) -> None:
    anns = await reminders.add(asked_by(ANN, message_id=81), "call mum", NOW + 600, now=NOW)
    bob = await turn(notes, reminders, job=asked_by(BOB))
    refused = await call(bob, "cancel_reminder", {"id": anns.id})
    assert "someone else" in refused["error"] and "admin" in refused["error"]
    assert bob.actions == [] and [r.id for r in await reminders.list(CHAT)] == [anns.id]

    ann = await turn(notes, reminders, job=asked_by(ANN))
    assert (await call(ann, "cancel_reminder", {"id": f"#{anns.id}"}))["cancelled"] is True
    again = await reminders.add(asked_by(ANN, message_id=82), "call dad", NOW + 600, now=NOW)
    admin = await turn(notes, reminders, job=asked_by(ADMIN, admin=True))
    assert (await call(admin, "cancel_reminder", {"id": again.id}))["cancelled"] is True
    assert await reminders.list(CHAT) == []


# ------------------------------------------------------------- bounds on one turn's calls


async def test_at_most_three_reminders_are_set_in_one_turn(notes: NotesStore, redis: Redis) -> None:
    reminders = ReminderStore(redis, max_per_chat=50)
    tools = await turn(notes, reminders)
    # Refused calls take no slot.
    assert "error" in await call(tools, "set_reminder", {"text": "x", "in_minutes": -1})
    # The model's calls of one round run at once.
    outputs = await asyncio.gather(
        *(
            call(tools, "set_reminder", {"text": f"task {i}", "in_minutes": 5 + i})
            for i in range(25)
        )
    )
    assert len([o for o in outputs if o.get("set")]) == 3
    refusals = [o["error"] for o in outputs if "error" in o]
    assert len(refusals) == 22
    assert all("at most 3 reminders can be set in one request" in e for e in refusals)
    assert len(await reminders.list(CHAT)) == 3 and len(tools.actions) == 3
    # The next turn has its own three.
    later = await turn(notes, reminders, job=dataclasses.replace(JOB, message_id=78))
    assert (await call(later, "set_reminder", {"text": "tea", "in_minutes": 40}))["set"] is True


async def test_a_person_sets_at_most_so_many_reminders_a_day(
    notes: NotesStore, redis: Redis
) -> None:
    reminders = ReminderStore(redis, max_per_chat=50)
    quota = ToolQuota(redis)
    options: dict[str, Any] = {"quota": quota, "reminders_per_user_day": 4}
    first = await turn(notes, reminders, **options)
    for i in range(3):
        assert (await call(first, "set_reminder", {"text": f"a{i}", "in_minutes": 5}))["set"]
    second = await turn(notes, reminders, job=dataclasses.replace(JOB, message_id=78), **options)
    # A reminder the store refuses (past the horizon) takes nothing of the day's four.
    far = await call(second, "set_reminder", {"text": "far", "at": "2099-01-01T10:00"})
    assert "days ahead" in far["error"]
    assert (await call(second, "set_reminder", {"text": "b", "in_minutes": 5}))["set"] is True
    over = await call(second, "set_reminder", {"text": "c", "in_minutes": 5})
    assert "4 reminders today" in over["error"] and "tomorrow" in over["error"]
    # In another chat too: the cap is the person's; another person has their own.
    elsewhere = dataclasses.replace(JOB, chat_id=OTHER, message_id=5)
    there = await turn(notes, reminders, job=elsewhere, **options)
    assert (
        "4 reminders today"
        in (await call(there, "set_reminder", {"text": "d", "in_minutes": 5}))["error"]
    )
    bob = await turn(notes, reminders, job=asked_by(BOB), **options)
    assert (await call(bob, "set_reminder", {"text": "e", "in_minutes": 5}))["set"] is True
    assert len(await reminders.list(CHAT)) == 5


async def test_searches_are_capped_per_turn(notes: NotesStore, reminders: ReminderStore) -> None:
    search = Search([SearchHit("Shop hours", "https://shop.example/hours")])
    tools = await turn(notes, reminders, search=search)
    outputs = await asyncio.gather(
        *(call(tools, "web_search", {"query": f"query {i}"}) for i in range(5))
    )
    assert len(search.asked) == 3
    refusals = [o["error"] for o in outputs if "error" in o]
    assert len(refusals) == 2 and all("limited to 3 per request" in e for e in refusals)
    # A search that failed was still asked: it counts.
    failing = Search([], fail=ToolFailed("search timed out"))
    tools = await turn(notes, reminders, search=failing, searches_per_turn=1)
    assert (await call(tools, "web_search", {"query": "x"}))["error"] == "search timed out"
    assert "limited to 1 per request" in (await call(tools, "web_search", {"query": "y"}))["error"]
    assert len(failing.asked) == 1


async def test_a_reminder_is_charged_and_a_refused_charge_is_an_error_output(
    notes: NotesStore, redis: Redis
) -> None:
    reminders = ReminderStore(redis, max_per_chat=50)
    quota = ToolQuota(redis)
    window = int(NOW) // 60
    # One reminder a minute for the first two (the second finds the rate limit used), then
    # none charged.
    charges = [ReminderCharge(ANN, NOW, rate_limit=1, rate_window_index=window)] * 2 + [None]
    charged: list[TurnJob] = []

    def charge(job: TurnJob) -> ReminderCharge | None:
        charged.append(job)
        return charges[len(charged) - 1]

    tools = await turn(notes, reminders, quota=quota, charge=charge, reminders_per_turn=2)
    assert (await call(tools, "set_reminder", {"text": "tea", "in_minutes": 5}))["set"] is True
    refused = await call(tools, "set_reminder", {"text": "bed", "in_minutes": 50})
    assert "rate limit" in refused["error"] and "ask again" in refused["error"]
    assert [job.payer for job in charged] == [ANN, ANN]
    assert [r.text for r in await reminders.list(CHAT)] == ["tea"]
    # The refused one took nothing: neither one of the turn's two nor one of the day's.
    assert await redis.get(daily_key(ANN, "reminders", "20261129")) == "1"
    assert (await call(tools, "set_reminder", {"text": "late", "in_minutes": 61}))["set"] is True
    assert await redis.get(daily_key(ANN, "reminders", "20261129")) == "2"
    assert tools.actions == ["⏰ 15:05 — tea", "⏰ 16:01 — late"]
