"""Memory across turns, what was heard, usage accounting, budgets, voice-forbidden fallback."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.domain import (
    Admitted,
    Budget,
    Budgets,
    Prices,
    ProviderTraits,
    TurnJob,
    TurnUsage,
    budget_checks,
)
from bot.storage.findings import ProviderFindings
from bot.storage.turn_queue import TurnQueue
from bot.storage.usage import UsageLedger
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.bot_harness import RunningBot, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

USER = 4040
OWNER = 4099


def items_of(session) -> list[dict]:
    return [e["item"] for e in session.client_events if e["type"] == "conversation.item.create"]


async def voice_turn(app: RunningBot, ogg: bytes, count: int, chat: int = USER, **kw) -> None:
    app.api.push_message(
        "voice", chat_id=chat, user_id=kw.pop("user", chat), data=ogg, duration=3, **kw
    )
    await app.api.wait_for("sendVoice", count=count, timeout=20)


async def command(app: RunningBot, text: str, user: int = USER) -> str:
    before = len(app.api.calls_of("sendMessage"))
    app.api.push_message("text", chat_id=user, user_id=user, text=text)
    calls = await app.api.wait_for("sendMessage", count=before + 1, timeout=10)
    return calls[before].params["text"]


async def counted(app: RunningBot, user: int, turns: int) -> dict[str, str]:
    """The user's usage today, once ``turns`` are counted (right after each answer is sent)."""
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    for _ in range(200):
        raw = await app.redis.hgetall(f"vb:{{u{user}}}:usage:{today}")
        if raw.get("turns") == str(turns):
            return raw
        await asyncio.sleep(0.02)
    raise AssertionError(f"usage not counted: {raw}")


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


async def test_memory_is_carried_into_the_next_turn_and_forgotten(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(transcript="Weather in Moscow?", reply_text="Sunny, 20 degrees.")
    async with running_bot(realtime, redis_url, input_transcription_model="test-asr") as app:
        await voice_turn(app, ogg, 1)
        assert items_of(realtime.sessions[0]) == []
        assert realtime.sessions[0].session["audio"]["input"]["transcription"] == {
            "model": "test-asr"
        }
        await voice_turn(app, ogg, 2)
        history = [(i["role"], i["content"][0]["text"]) for i in items_of(realtime.sessions[1])]
        if realtime.profile.provider == "openai":  # native items
            assert history == [("user", "Weather in Moscow?"), ("assistant", "Sunny, 20 degrees.")]
        else:
            # Yandex's live service refuses assistant items: one user item quotes the turns,
            # labelled as context (until a probe finds assistant items accepted).
            assert len(history) == 1 and history[0][0] == "user"
            quoted = history[0][1]
            assert "User: Weather in Moscow?\nAssistant: Sunny, 20 degrees." in quoted
            assert "not instructions" in quoted
        assert realtime.sessions[1].invalid == []
        # history comes before the new audio
        types = realtime.sessions[1].event_types
        assert types.index("conversation.item.create") < types.index("input_audio_buffer.append")
        assert "forgotten" in await command(app, "/forget")
        await voice_turn(app, ogg, 3)
        assert items_of(realtime.sessions[2]) == []
        # private chats do not show what was heard by default
        assert not app.api.calls_of("sendVoice")[-1].params["caption"].startswith("🗣")


async def test_memory_off_and_a_provider_that_rejects_items(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(realtime, redis_url) as app:
        await voice_turn(app, ogg, 1)
        realtime.scenario = Scenario(failure="reject_items")
        await voice_turn(app, ogg, 2)  # answered all the same, without memory
        assert items_of(realtime.sessions[-1]) == []
        assert any("refused the conversation memory" in r.message for r in caplog.records)
        realtime.scenario = Scenario()
        assert "off" in await command(app, "/memory off")
        await voice_turn(app, ogg, 3)
        assert items_of(realtime.sessions[-1]) == []


async def test_group_shows_what_was_heard(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(transcript="Who won?", reply_text="Nobody yet.")
    async with running_bot(realtime, redis_url, input_transcription_model="asr") as app:
        await app.services.settings_store.set(-300, mode="all")
        await voice_turn(app, ogg, 1, chat=-300, user=5, chat_type="supergroup", chat_title="G")
        caption = app.api.calls_of("sendVoice")[0].params["caption"]
        assert caption == "🗣 Who won?\n\nNobody yet."


async def test_usage_counters_and_usage_command(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(reply_seconds=1.0)
    async with running_bot(
        realtime, redis_url, price_input_audio_per_minute=1.0, price_output_audio_per_minute=2.0
    ) as app:
        await voice_turn(app, ogg, 1)
        await voice_turn(app, ogg, 2)
        raw = await counted(app, USER, 2)
        assert abs(float(raw["in_sec"]) - 6.0) < 0.1
        assert abs(float(raw["out_sec"]) - 2.0) < 0.1
        # the model's token counts are kept in the totals (no one reads them per user)
        totals = await app.redis.hgetall(f"vb:{{allall}}:usage:{dt.datetime.now(dt.UTC):%Y%m}")
        assert int(totals["out_audio_tokens"]) > 0
        text = await command(app, "/usage")
        assert "You, today: 2 answers, 0.1 min" in text
        # cost = 6 s × 1/min + 2 s × 2/min = 0.17, and the text tokens at the model's 0.8 per
        # 1000 both ways, in roubles (the model's currency): its sign
        text_tokens = int(totals.get("in_text_tokens", 0)) + int(totals.get("out_text_tokens", 0))
        cost = (float(raw["in_sec"]) + 2 * float(raw["out_sec"])) / 60 + text_tokens * 0.8 / 1000
        assert abs(float(raw["cost"]) - cost) < 1e-6
        assert f"≈{cost:.2f} ₽" in text


async def test_budget_refuses_with_reset_time_and_owners_are_exempt(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(
        realtime, redis_url, user_daily_seconds=5, admin_ids=str(OWNER),
        default_timezone="Europe/Moscow",
    ) as app:  # fmt: skip
        await voice_turn(app, ogg, 1)  # 3 s in + 1 s out
        # Counted (its worst case, held while it ran, settled to what it used) before the next
        # is admitted: with the hold still on, the budget would already refuse the second.
        await counted(app, USER, 1)
        await voice_turn(app, ogg, 2)  # 8 s used now
        await counted(app, USER, 2)
        app.api.push_message("voice", chat_id=USER, user_id=USER, data=ogg, duration=3)
        (refusal,) = await app.api.wait_for("sendMessage", timeout=10)
        tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d")
        assert "today's limit" in refusal.params["text"]
        # The budget resets at UTC midnight, shown as the chat's clock reads then (the chat
        # chose no zone: the bot's DEFAULT_TIMEZONE).
        assert f"{tomorrow} 03:00 (Europe/Moscow)" in refusal.params["text"]
        assert len(app.api.calls_of("sendVoice")) == 2
        # One at a time, each after the last one's usage is counted: each is past the budget
        # (pushed together, all three would be queued before any usage was recorded).
        for n in range(1, 4):
            app.api.push_message("voice", chat_id=OWNER, user_id=OWNER, data=ogg, duration=3)
            await app.api.wait_for("sendVoice", count=2 + n, timeout=30)
            await counted(app, OWNER, n)


async def test_budgets_reset_with_the_day_and_month(redis_url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url, decode_responses=True)
    queue = TurnQueue(redis, session_cap=1)

    async def over(budgets: Budgets, now: dt.datetime, message_id: int) -> Budget | None:
        checks = budget_checks(budgets, 1, 2, now=now)
        result = await queue.admit(
            TurnJob(chat_id=1, message_id=message_id, user_id=2),
            max_backlog=100,
            rate_window_index=0,
            rate_limit=0,
            rate_window=60,
            budgets=[budget.check for budget in checks],
            prices=(1.0, 1.0),
        )
        return checks[result.budget] if result.outcome is Admitted.OVER_BUDGET else None

    try:
        ledger = UsageLedger(redis, Prices(1.0, 1.0))
        day = dt.datetime(2026, 11, 30, 15, tzinfo=dt.UTC)
        await ledger.record(1, 2, TurnUsage(50.0, 20.0), now=day)
        daily = Budgets(chat_daily_seconds=60)
        used_up = await over(daily, day, 1)
        assert used_up is not None
        assert (used_up.whose, used_up.period) == ("chat", "day")
        assert used_up.resets_at == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        assert await over(daily, day + dt.timedelta(days=1), 2) is None
        monthly = Budgets(user_monthly_cost=1.0)  # 70 s at 1/min = 1.17
        used_up = await over(monthly, day, 3)
        assert used_up is not None
        assert used_up.resets_at == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        assert await over(monthly, dt.datetime(2026, 12, 2, tzinfo=dt.UTC), 4) is None
    finally:
        await redis.aclose()


async def test_stats_for_owners_with_a_chart(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url, admin_ids=str(OWNER)) as app:
        await voice_turn(app, ogg, 1)
        assert "owners" in await command(app, "/stats")
        app.api.push_message("text", chat_id=OWNER, user_id=OWNER, text="/stats")
        (photo,) = await app.api.wait_for("sendPhoto", timeout=20)
        stats = app.api.calls_of("sendMessage")[-1].params["text"]
        assert "Top chats this month" in stats
        assert str(USER) in stats
        png = photo.files["photo"]
        assert png.startswith(b"\x89PNG")
        size = photo.result["photo"][0]
        assert (size["width"], size["height"]) == (800, 400)
        assert 5_000 < len(png) < 500_000


async def test_stats_names_the_top_users_and_chats_telegram_knows(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url, admin_ids=str(OWNER)) as app:
        await voice_turn(app, ogg, 1, first_name="Ann", username="ann")  # about 4 s
        # A group and a member the bot never met in private: Telegram names neither.
        stranger, group = 4077, -1004077
        await app.services.ledger.record(group, stranger, TurnUsage(1.0, 0.0))
        await counted(app, USER, 1)
        app.api.push_message("text", chat_id=OWNER, user_id=OWNER, text="/stats")
        await app.api.wait_for("sendPhoto", timeout=20)
        stats = app.api.calls_of("sendMessage")[-1].params["text"]
        chats, users = stats.split("Top users this month")
        assert "Top chats this month" in chats
        ann = f"Ann @ann ({USER}): "
        assert ann in chats and f"\n{group}: " in chats  # a private chat is named as its person
        first, second = users.removeprefix("</b>").strip().splitlines()[:2]
        assert first.startswith(ann) and second.startswith(f"{stranger}: ")
        asked = {call.int_param("chat_id") for call in app.api.calls_of("getChat")}
        assert asked == {USER, group, stranger}


async def test_voice_forbidden_falls_back_to_audio_with_a_hint(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url) as app:
        app.api.fail_next("sendVoice", error_code=400,
                          description="Bad Request: VOICE_MESSAGES_FORBIDDEN")  # fmt: skip
        app.api.push_message("voice", chat_id=USER, user_id=USER, data=ogg, duration=3)
        (audio,) = await app.api.wait_for("sendAudio", timeout=20)
        assert audio.files["audio"].startswith(b"OggS")
        assert audio.params["caption"] == "Hello from the stand-in."
        (hint,) = await app.api.wait_for("sendMessage", timeout=10)  # once the audio went out
        assert "privacy settings" in hint.params["text"]


@pytest.mark.realtime_profile("yandex")
async def test_a_probe_that_found_assistant_items_accepted_brings_native_memory(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    # What `python -m bot probe` stored is read at start, and the bot takes the path it found:
    # native items, and no wait for the input's transcript before asking.
    redis = Redis.from_url(redis_url)
    await ProviderFindings(redis).put(
        ProviderTraits(
            provider="yandex", model="speech-realtime-250923", assistant_items=True,
            create_after_commit=True,
        )
    )  # fmt: skip
    await redis.aclose()
    realtime.scenario = Scenario(transcript="Weather in Moscow?", reply_text="Sunny, 20 degrees.")
    async with running_bot(realtime, redis_url) as app:
        assert app.services.answering.pipeline.options.await_transcript == 0
        await voice_turn(app, ogg, 1)
        await voice_turn(app, ogg, 2)
        history = [(i["role"], i["content"][0]["text"]) for i in items_of(realtime.sessions[1])]
        assert history == [("user", "Weather in Moscow?"), ("assistant", "Sunny, 20 degrees.")]


def test_costs_show_their_currencys_sign_or_code() -> None:
    from bot.telegram.handlers.usage import money

    assert money(0.5, "RUB", "en") == "0.50 ₽" and money(0.5, "RUB", "ru") == "0,50 ₽"
    assert money(0.5, "USD", "en") == "$0.50" and money(0.5, "EUR", "ru") == "0,50 €"
    assert money(0.5, "CHF", "en") == "0.50 CHF"
