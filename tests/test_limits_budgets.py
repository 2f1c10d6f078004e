"""Limits that hold under bursts: each admitted turn holds its worst case on the budgets until
its end settles it; the bot's daily spend cap; a reminder charged when it is set; at most
TOOL_CALLS_PER_RESPONSE calls of one response run. Against a real Redis, the real bot and the
Bot API and Realtime stand-ins."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app import build_services
from bot.config import load_settings
from bot.core.admission import Admission, AdmissionRules
from bot.domain import Budgets, Limits, Prices, ReminderCharge, TurnJob, TurnUsage
from bot.errors import OverBudget, RateLimited, ReminderOverBudget, ReminderRateLimited
from bot.i18n import Catalogue, render
from bot.storage import keys
from bot.storage.reminders import ReminderStore
from bot.storage.turn_queue import TurnQueue
from bot.storage.usage import UsageLedger
from stand_ins.realtime import RealtimeStandIn, Scenario, ScriptedCall
from tests.bot_harness import RunningBot, running_bot

USER = 6060
OWNER = 6099
GROUP = -1006060
# A voice note of the fixture uses about 4 s (3 s in, 1 s of reply): a budget of one note. While
# it is answered it holds its worst case: 3 s declared (+1 s for Telegram's whole seconds) in
# and MAX_REPLY_SECONDS (60 s) out.
ONE_NOTE = 5.0


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d")


async def settled(redis: Redis, key: str, turns: int) -> dict[str, str]:
    """The usage hash ``key`` once ``turns`` are counted (right after each answer is sent)."""
    raw: dict[str, str] = {}
    for _ in range(300):
        raw = await redis.hgetall(key)
        if raw.get("turns") == str(turns):
            return raw
        await asyncio.sleep(0.02)
    raise AssertionError(f"usage not counted: {raw}")


def holds(raw: dict[str, str]) -> tuple[int, int, list[str]]:
    """What a usage hash holds for turns under way: ms in, ms out, and the turns."""
    turns = [name for name in raw if name.startswith("held:")]
    return int(raw.get("held_in_ms", 0)), int(raw.get("held_out_ms", 0)), turns


def voice(app: RunningBot, ogg: bytes, user: int = USER, chat: int | None = None) -> None:
    chat = user if chat is None else chat
    app.api.push_message("voice", chat_id=chat, user_id=user, data=ogg, duration=3)


def sent_to(app: RunningBot, method: str, chat: int) -> list:
    return [c for c in app.api.calls_of(method) if str(c.params.get("chat_id")) == str(chat)]


# ------------------------------------------------------------------------ bursts, end to end


async def test_five_notes_at_once_against_a_budget_of_one_note_get_one_answer(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.core.admission")
    async with running_bot(realtime, redis_url, user_daily_seconds=ONE_NOTE) as app:
        for _ in range(5):  # all five admitted before any turn ends
            voice(app, ogg)
        await app.api.wait_for("sendVoice", timeout=20)
        # Refusals are told once in ten seconds per chat: one message for the four.
        (refusal,) = await app.api.wait_for("sendMessage", timeout=10)
        assert "today's limit" in refusal.params["text"]
        raw = await settled(app.redis, keys.usage("u", USER, today()), turns=1)
        await asyncio.sleep(1.0)  # room for more answers, which must not come
        assert len(app.api.calls_of("sendVoice")) == 1
        refused = [
            r
            for r in caplog.records
            if r.name == "bot.core.admission" and "budget of the user used up" in r.getMessage()
        ]
        assert len(refused) == 4
        used = float(raw["in_sec"]) + float(raw["out_sec"])
        assert 0 < used <= ONE_NOTE
        # The answered turn's end settled its hold: nothing is held any more.
        assert holds(raw) == (0, 0, [])


async def test_a_used_up_budget_says_when_it_resets_in_the_chats_time_zone(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(
        realtime, redis_url, user_daily_seconds=1.0, default_timezone="Europe/Moscow"
    ) as app:
        await app.services.settings_store.set(USER, timezone="Asia/Almaty")
        await app.services.ledger.record(USER, USER, TurnUsage(50.0, 20.0))
        voice(app, ogg)
        (refusal,) = await app.api.wait_for("sendMessage", timeout=10)
        # Still UTC midnight (the budgets' days are UTC days), as the clock in Almaty reads then.
        tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d")
        assert "today's limit" in refusal.params["text"]
        assert f"It resets at {tomorrow} 05:00 (Asia/Almaty)." in refusal.params["text"]
        assert app.api.calls_of("sendVoice") == []


def test_a_budgets_reset_is_shown_in_the_zone_given() -> None:
    resets = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    refused = OverBudget("chat", "month", resets)
    catalogue = Catalogue()
    assert refused.arguments() == {"resets": "2026-12-07 00:00 UTC"}  # no zone: UTC, as before
    shown = {
        "Europe/Moscow": "2026-12-07 03:00 (Europe/Moscow)",
        "Asia/Almaty": "2026-12-07 05:00 (Asia/Almaty)",
        "America/New_York": "2026-12-06 19:00 (America/New_York)",
        "Etc/GMT-3": "2026-12-07 03:00 (UTC+03:00)",  # what /timezone UTC+3 sets
        "UTC": "2026-12-07 00:00 UTC",
        "No/Such_Zone": "2026-12-07 00:00 UTC",
    }
    for zone, text in shown.items():
        in_zone = refused.shown_in(zone)
        assert in_zone.resets_at == resets and in_zone.key == "budget-chat-month"
        assert in_zone.arguments() == {"resets": text}
    in_moscow = refused.shown_in("Europe/Moscow")
    assert "resets at 2026-12-07 03:00 (Europe/Moscow)." in render(catalogue, "en", in_moscow)
    assert "обновится 2026-12-07 03:00 (Europe/Moscow)." in render(catalogue, "ru", in_moscow)


async def test_the_bots_daily_spend_cap_refuses_new_turns_and_tells_the_owners_once(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    # A second of audio costs 1 either way: the cap is one note's cost.
    async with running_bot(
        realtime,
        redis_url,
        bot_daily_cost=ONE_NOTE,
        price_input_audio_per_minute=60.0,
        price_output_audio_per_minute=60.0,
        admin_ids=str(OWNER),
    ) as app:
        people = [USER, USER + 1, USER + 2]
        for person in people:  # three people at the same time
            voice(app, ogg, person)
        (answer,) = await app.api.wait_for("sendVoice", timeout=20)
        # Whichever came first is answered, the others refused.
        for other in people:
            if str(other) == str(answer.params["chat_id"]):
                continue
            (refusal,) = await app.api.wait_for(
                "sendMessage", timeout=10,
                predicate=lambda c, other=other: str(c.params["chat_id"]) == str(other),
            )  # fmt: skip
            assert "spending limit" in refusal.params["text"]
        (alert,) = await app.api.wait_for(
            "sendMessage", timeout=10, predicate=lambda c: str(c.params["chat_id"]) == str(OWNER)
        )
        assert "BOT_DAILY_COST 5 RUB" in alert.params["text"]
        assert "лимит расходов" in alert.params["text"]  # in both languages
        raw = await settled(app.redis, keys.usage("all", "all", today()), turns=1)
        await asyncio.sleep(1.0)
        assert len(sent_to(app, "sendMessage", OWNER)) == 1  # told once, not per refusal
        assert len(app.api.calls_of("sendVoice")) == 1
        cost = float(raw["in_sec"]) + float(raw["out_sec"])
        assert 0 < cost <= ONE_NOTE
        assert holds(raw) == (0, 0, [])


async def test_a_failed_turn_lets_go_of_what_it_held(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(failure="response_failed")
    async with running_bot(realtime, redis_url, user_daily_seconds=ONE_NOTE) as app:
        voice(app, ogg)
        (notice,) = await app.api.wait_for("sendMessage", timeout=20)
        assert "try again" in notice.params["text"].lower()
        raw = await settled(app.redis, keys.usage("u", USER, today()), turns=1)
        assert raw["failures"] == "1" and holds(raw) == (0, 0, [])
        # The budget is whole again: of two notes at once, one fits, and only one.
        realtime.scenario = Scenario()
        voice(app, ogg)
        voice(app, ogg)
        await app.api.wait_for("sendVoice", timeout=20)
        await settled(app.redis, keys.usage("u", USER, today()), turns=2)
        await asyncio.sleep(1.0)
        assert len(app.api.calls_of("sendVoice")) == 1


async def test_a_turns_hold_is_on_its_payer_and_settled_once_however_often_it_is_run(
    redis: Redis,
) -> None:
    rules = AdmissionRules(
        limits=Limits(),
        budgets=Budgets(user_daily_seconds=50.0),
        owners=frozenset({OWNER}),
        rate_limit=5,
        rate_window=600,
        max_reply_seconds=60.0,
    )
    admission = Admission(TurnQueue(redis, session_cap=1), rules)
    # A member's note sent on behalf of the group: the group pays.
    job = TurnJob(
        chat_id=GROUP, message_id=1, user_id=USER, payer_id=GROUP, chat_type="supergroup",
        file_id="f1", media_kind="voice", seconds=3.0,
    )  # fmt: skip
    assert await admission.admit(job)
    group_day = keys.usage("u", GROUP, today())
    assert holds(await redis.hgetall(group_day)) == (4000, 60000, [f"held:{GROUP}:1"])
    assert not await redis.exists(keys.usage("u", USER, today()))
    assert await redis.get(keys.user_rate(GROUP, rules.window(time.time()))) == "1"
    # The first one's hold (64 s) uses up the 50 s until it ends: the second is refused.
    with pytest.raises(OverBudget):
        await admission.admit(dataclasses.replace(job, message_id=2))
    # An owner is exempt by their own id, whoever pays: queued, holding nothing.
    assert await admission.admit(dataclasses.replace(job, message_id=3, user_id=OWNER))
    assert holds(await redis.hgetall(group_day))[2] == [f"held:{GROUP}:1"]
    # Its end counts what it used and lets go of its hold; run again (its worker died after
    # counting), it counts again but lets go of nothing more.
    ledger = UsageLedger(redis, Prices())
    for _ in range(2):
        await ledger.record(job.chat_id, job.payer, TurnUsage(3.0, 1.5), settles=job)
        raw = await redis.hgetall(group_day)
        assert holds(raw) == (0, 0, [])
    assert float(raw["in_sec"]) == 6.0 and float(raw["out_sec"]) == 3.0
    # A turn that ended with nothing to count lets go too.
    other = dataclasses.replace(job, message_id=4, payer_id=GROUP - 1)
    assert await admission.admit(other)
    await ledger.release(other)
    assert holds(await redis.hgetall(keys.usage("u", GROUP - 1, today()))) == (0, 0, [])


# ------------------------------------------------------------------ reminders, charged when set


async def test_reminders_asked_for_by_voice_take_places_in_the_rate_limit(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    # The case: with 2 turns per 10 minutes, notes each asking for many reminders a
    # second or two ahead made a model session and a voice note per reminder.
    soon = [
        ScriptedCall("set_reminder", {"text": f"task {n}", "in_minutes": 0.02}) for n in range(5)
    ]
    realtime.scenario = Scenario(reply_text="Done.", tool_script=[soon])
    async with running_bot(
        realtime, redis_url, rate_limit_turns=2, rate_limit_window=600, reminder_poll=0.2
    ) as app:
        voice(app, ogg)
        await app.api.wait_for("sendVoice", timeout=30)
        outputs = [json.loads(out["output"]) for out in realtime.sessions[0].tool_outputs]
        assert sum(1 for out in outputs if out.get("set")) == 1  # the note took the other place
        assert any("rate limit" in out.get("error", "") for out in outputs)
        # The next note finds no place left.
        realtime.scenario = Scenario(reply_text="Again.")
        voice(app, ogg)
        (refusal,) = await app.api.wait_for("sendMessage", timeout=10)
        assert "sending a lot" in refusal.params["text"]
        # The one reminder set is said, and nothing more.
        (_, said) = await app.api.wait_for("sendVoice", count=2, timeout=15)
        assert said.params["caption"].startswith("⏰ task")
        await asyncio.sleep(2.0)
        assert len(app.api.calls_of("sendVoice")) == 2 and len(realtime.sessions) == 2


def asking(message_id: int = 40, user_id: int = USER, **fields: object) -> TurnJob:
    return TurnJob(chat_id=USER, message_id=message_id, user_id=user_id, text="remind me", **fields)  # type: ignore[arg-type]


async def test_a_reminder_takes_a_place_in_the_rate_limit_or_is_refused(redis: Redis) -> None:
    rules = AdmissionRules(limits=Limits(), rate_limit=2, rate_window=600)
    # The rate limit counts in fixed windows: the whole test stays inside one of them.
    if (left := 600 - time.time() % 600) < 10:
        await asyncio.sleep(left + 0.1)
    admission = Admission(TurnQueue(redis, session_cap=1), rules)
    store = ReminderStore(redis)
    now = time.time()
    note = asking()
    assert await admission.admit(note)  # the note that asks: one place of two
    first = await store.add(note, "call mum", now + 60, now=now, charge=rules.reminder_charge(note))
    with pytest.raises(ReminderRateLimited) as refused:
        await store.add(note, "water the plants", now + 120, now=now,
                        charge=rules.reminder_charge(note))  # fmt: skip
    assert 1 <= refused.value.retry_after <= 600
    assert "rate limit" in str(refused.value)  # what the model reads
    catalogue = Catalogue()
    assert "each reminder counts" in render(catalogue, "en", refused.value)
    assert "каждое напоминание" in render(catalogue, "ru", refused.value)
    assert [r.text for r in await store.list(USER)] == ["call mum"]
    # The reminder took the place the next note would have had.
    with pytest.raises(RateLimited):
        await admission.admit(asking(41))
    # Asked again by the same message (its turn run again): the same one, nothing more taken.
    again = await store.add(note, "call mum", now + 61, now=now, charge=rules.reminder_charge(note))
    assert again.id == first.id


async def test_a_reminder_holds_its_cost_on_the_budgets_until_spoken_or_cancelled(
    redis: Redis,
) -> None:
    rules = AdmissionRules(
        limits=Limits(),
        budgets=Budgets(chat_daily_seconds=50.0),
        owners=frozenset({OWNER}),
        max_reply_seconds=60.0,
    )
    store = ReminderStore(redis)
    now = time.time()
    note = asking()
    chat_day = keys.usage("c", USER, today())
    first = await store.add(note, "call mum", now + 60, now=now, charge=rules.reminder_charge(note))
    assert holds(await redis.hgetall(chat_day)) == (0, 60000, [f"held:{USER}:r{first.id}"])
    assert first.job.payer == USER
    with pytest.raises(ReminderOverBudget) as refused:
        await store.add(note, "water the plants", now + 120, now=now,
                        charge=rules.reminder_charge(note))  # fmt: skip
    assert (refused.value.whose, refused.value.period) == ("chat", "day")
    assert "spending limit" in str(refused.value)
    catalogue = Catalogue()
    assert "cannot set the reminder" in render(catalogue, "en", refused.value)
    assert "напоминание поставить нельзя" in render(catalogue, "ru", refused.value)
    # A message's turn is refused as well: the reminder holds the 50 s until it is spoken.
    with pytest.raises(OverBudget):
        await Admission(TurnQueue(redis, session_cap=1), rules).admit(asking(41))
    # The owners are exempt from budgets: their reminder is charged nothing.
    owners = asking(42, user_id=OWNER)
    assert rules.reminder_charge(owners) is None
    await store.add(owners, "owner's", now + 300, now=now, charge=rules.reminder_charge(owners))
    # Cancelled, it lets go of what it held, and another fits.
    assert await store.cancel(USER, first.id) is not None
    assert holds(await redis.hgetall(chat_day)) == (0, 0, [])
    second = await store.add(note, "water the plants", now + 120, now=now,
                             charge=rules.reminder_charge(note))  # fmt: skip
    # Due, it is not charged again: the usage its turn records settles its hold.
    fired = await store.fire_due(now + 200)
    assert [r.id for r in fired] == [second.id]
    ledger = UsageLedger(redis, rules.prices)
    job = fired[0].job
    # Its hold uses the budget up for anything else, not for itself: it is spoken.
    budgets = rules.budgets_for(job, job.enqueued_at)
    assert await ledger.used_up(budgets) is not None
    assert await ledger.used_up(budgets, own=job) is None
    await ledger.record(job.chat_id, job.payer, TurnUsage(0.0, 2.0), settles=job)
    raw = await redis.hgetall(chat_day)
    assert holds(raw) == (0, 0, []) and float(raw["out_sec"]) == 2.0


async def test_clearing_a_chats_reminders_lets_go_of_their_holds(redis: Redis) -> None:
    store = ReminderStore(redis)
    now = time.time()
    budget = Budgets(user_daily_cost=10.0)
    rules = AdmissionRules(limits=Limits(), budgets=budget, prices=Prices(1.2, 1.2))
    charge = rules.reminder_charge(asking())
    assert isinstance(charge, ReminderCharge) and charge.reply_seconds == 60.0
    for n in range(3):
        await store.add(asking(40 + n), f"task {n}", now + 60, now=now, charge=charge)
    user_day = keys.usage("u", USER, today())
    assert holds(await redis.hgetall(user_day))[:2] == (0, 180000)
    assert await store.clear(USER) == 3
    assert holds(await redis.hgetall(user_day)) == (0, 0, [])


async def test_the_bot_hands_the_tools_admissions_charge(redis: Redis) -> None:
    settings = load_settings(
        _env_file=None, rate_limit_turns=2, user_daily_seconds=100, max_reply_seconds=30,
        realtime_api_key="key", yandex_folder_id="folder",
    )  # fmt: skip
    services = build_services(settings, redis)
    charge = services.tool_kit.charge
    assert charge is not None
    made = charge(asking())
    assert made is not None and made.rate_limit == 2 and made.reply_seconds == 30
    assert [b.whose for b in made.budgets] == ["user"]
    assert charge(asking(user_id=None)) is None  # no payer, no budget: nothing to charge


# ------------------------------------------------------------------------- tool calls per response


async def test_a_response_with_twenty_calls_gets_eight_run_and_the_rest_an_error(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(
        reply_text="It is noon.",
        tool_script=[[ScriptedCall("get_current_time", {}) for _ in range(20)]],
    )
    async with running_bot(realtime, redis_url) as app:
        voice(app, ogg)
        (answer,) = await app.api.wait_for("sendVoice", timeout=30)
        assert "It is noon." in answer.params["caption"]
        outputs = [json.loads(out["output"]) for out in realtime.sessions[0].tool_outputs]
        assert len(outputs) == 20  # every call answered, so the model can go on
        ran = [out for out in outputs if "now" in out]
        refused = [out for out in outputs if "too many tool calls at once" in out.get("error", "")]
        assert len(ran) == 8 and len(refused) == 12
