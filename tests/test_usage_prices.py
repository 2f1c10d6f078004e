"""A turn costs what the model that answered it charged when it answered: audio by the minute
and text tokens by the thousand, from its provider's profile (``PRICE_*`` replacing each price
given). The cost is stored with the turn's usage, read back by /usage, /stats and the cost
budgets; a hash counted before costs were stored is read as its seconds at today's audio prices.
Against a real Redis (and, for /stats, the real bot with the Bot API and Realtime stand-ins)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.app import prices_from
from bot.config import Settings, load_settings
from bot.domain import Admitted, Budgets, Prices, TurnJob, TurnUsage, Usage, budget_checks
from bot.storage import keys
from bot.storage.turn_queue import TurnQueue
from bot.storage.usage import UsageLedger
from bot.telegram.handlers.usage import money
from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import running_bot

OLD, NEW = "speech-realtime-250923", "speech-realtime-260528"
WHEN = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
DAY, MONTH = WHEN.strftime("%Y%m%d"), WHEN.strftime("%Y%m")
AT = WHEN.timestamp()
# A minute of input audio, half a minute of reply, 1000 text tokens each way.
TURN = TurnUsage(60.0, 30.0, Usage(input_text_tokens=1000, output_text_tokens=1000))
OWNER = 7099


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def settings(**values: object) -> Settings:
    values.setdefault("realtime_api_key", "key")
    values.setdefault("yandex_folder_id", "folder")
    return load_settings(_env_file=None, **values)


def yandex(model: str, **values: object) -> Prices:
    return prices_from(settings(realtime_model=model, **values))


def test_the_newer_yandex_model_charges_an_eighth_for_text() -> None:
    old, new = yandex(OLD), yandex(NEW)
    assert old.currency == new.currency == "RUB"
    old_audio = 60 * 0.026 + 30 * 0.02
    new_audio = 60 * 0.0264 + 30 * 0.0203
    assert old.cost(60.0, 30.0) == pytest.approx(old_audio)
    assert old.turn_cost(TURN) == pytest.approx(old_audio + 1.6)  # 0.8 + 0.8 per 1000
    assert new.turn_cost(TURN) == pytest.approx(new_audio + 0.3)  # 0.1 + 0.2 per 1000
    # The default model's prices are Yandex's published ones; an unlisted model is priced as it.
    assert yandex("").turn_cost(TURN) == pytest.approx(old.turn_cost(TURN))
    assert yandex("speech-realtime-next").turn_cost(TURN) == pytest.approx(old.turn_cost(TURN))


def test_price_settings_replace_the_models_own_one_by_one() -> None:
    given = yandex(NEW, price_input_audio_per_minute=1.0, price_output_text_per_1k=0.0)
    assert (given.input_per_minute, given.output_per_minute) == (1.0, pytest.approx(1.218))
    assert (given.text_input_per_1k, given.text_output_per_1k) == (0.1, 0.0)
    assert given.currency == "RUB"
    assert yandex(NEW, price_currency="KZT").currency == "KZT"


def test_the_openai_profile_costs_in_dollars_by_default() -> None:
    full = prices_from(settings(realtime_provider="openai"))
    assert full.currency == "USD"
    # gpt-realtime: $32 / $64 per million audio tokens (600 / 1200 a minute), text $4 / $16.
    assert full.input_per_minute == pytest.approx(0.0192)
    assert full.output_per_minute == pytest.approx(0.0768)
    assert full.turn_cost(TURN) == pytest.approx(0.0192 + 0.0384 + 0.004 + 0.016)
    mini = prices_from(settings(realtime_provider="openai", realtime_model="gpt-realtime-mini"))
    assert mini.currency == "USD"
    assert mini.turn_cost(TURN) < full.turn_cost(TURN) / 3
    assert money(full.turn_cost(TURN), full.currency, "en") == "$0.08"


async def test_each_turn_is_stored_at_its_models_prices_and_totals_read_them(
    redis: Redis,
) -> None:
    old, new = UsageLedger(redis, yandex(OLD)), UsageLedger(redis, yandex(NEW))
    # The same chat and user, answered by the older model, then (a new deployment) the newer.
    await old.record(1, 2, TURN, WHEN)
    await new.record(1, 2, TURN, WHEN)
    both = old.prices.turn_cost(TURN) + new.prices.turn_cost(TURN)
    for scope, ident in (("c", 1), ("u", 2), ("all", "all")):
        for period in (DAY, MONTH):
            raw = await redis.hgetall(keys.usage(scope, ident, period))
            assert float(raw["cost"]) == pytest.approx(both), (scope, period)
            # What was counted stays as it was, whichever ledger (prices) reads it.
            for ledger in (old, new):
                totals = await ledger.totals(scope, ident, period)
                assert totals.cost == pytest.approx(both)
                assert totals.turns == 2 and totals.seconds == 180.0
    # The /stats figures: everyone's totals, with the text tokens counted there.
    month = await new.totals("all", "all", MONTH)
    assert month.tokens["in_text_tokens"] == month.tokens["out_text_tokens"] == 2000
    assert money(month.cost, new.prices.currency, "ru") == f"{both:.2f} ₽".replace(".", ",")
    # A failed turn with nothing used costs nothing, and the field is still there.
    await new.record(3, None, TurnUsage(failed=True), WHEN)
    assert await redis.hget(keys.usage("c", 3, DAY), "cost") == "0"


async def test_a_hash_counted_before_costs_were_stored_is_read_at_todays_audio_prices(
    redis: Redis,
) -> None:
    ledger = UsageLedger(redis, yandex(NEW))
    user_day = keys.usage("u", 2, DAY)
    await redis.hset(user_day, mapping={"turns": 2, "in_sec": 120.0, "out_sec": 60.0})
    before = ledger.prices.cost(120.0, 60.0)
    assert (await ledger.totals("u", 2, DAY)).cost == pytest.approx(before)
    # A budget reads it the same way: 120 s + 60 s at 1.584 / 1.218 a minute = 3.78.
    budgets = Budgets(user_daily_cost=before + 0.01)
    checks = budget_checks(budgets, 1, 2, WHEN)
    assert await ledger.used_up(checks) is None
    assert await ledger.used_up(budget_checks(Budgets(user_daily_cost=before), 1, 2, WHEN))
    # The next turn counted there keeps what came before and adds its own cost.
    await ledger.record(1, 2, TURN, WHEN)
    raw = await redis.hgetall(user_day)
    assert float(raw["cost"]) == pytest.approx(before + ledger.prices.turn_cost(TURN))
    assert (await ledger.totals("u", 2, DAY)).cost == pytest.approx(float(raw["cost"]))
    # The hashes the turn started (the chat's, everyone's) hold its cost alone.
    chat = await ledger.totals("c", 1, DAY)
    assert chat.cost == pytest.approx(ledger.prices.turn_cost(TURN))


async def test_a_cost_budget_counts_text_tokens_and_what_turns_hold(redis: Redis) -> None:
    prices = yandex(OLD)
    ledger = UsageLedger(redis, prices)
    queue = TurnQueue(redis, session_cap=1)
    budgets = Budgets(user_daily_cost=1.0)

    async def admit(user: int, message_id: int, hold: tuple[float, float]) -> Admitted:
        checks = budget_checks(budgets, user, user, WHEN)
        job = TurnJob(chat_id=user, message_id=message_id, user_id=user, enqueued_at=AT)
        result = await queue.admit(
            job, max_backlog=100, rate_window_index=0, rate_limit=0, rate_window=60,
            budgets=[b.check for b in checks], hold=hold,
            prices=(prices.input_per_minute, prices.output_per_minute),
        )  # fmt: skip
        return result.outcome

    # 10 s in, 5 s out: 0.36 ₽ of audio. With 1000 text tokens in besides (0.8 ₽): 1.16 ₽.
    audio_only = TurnUsage(10.0, 5.0)
    with_text = TurnUsage(10.0, 5.0, Usage(input_text_tokens=1000))
    await ledger.record(11, 11, audio_only, WHEN)
    await ledger.record(12, 12, with_text, WHEN)
    assert await admit(11, 1, (0.0, 0.0)) is Admitted.QUEUED
    assert await admit(12, 1, (0.0, 0.0)) is Admitted.OVER_BUDGET
    assert await ledger.used_up(budget_checks(budgets, 12, 12, WHEN)) is not None
    # A turn under way holds its worst case at the audio prices: 40 s of reply, 0.8 ₽, on top of
    # the 0.36 ₽ used, uses the rest up until it is settled.
    assert await admit(11, 2, (0.0, 40.0)) is Admitted.QUEUED
    assert await admit(11, 3, (0.0, 0.0)) is Admitted.OVER_BUDGET
    held = TurnJob(chat_id=11, message_id=2, user_id=11, enqueued_at=AT)
    await ledger.record(11, 11, TurnUsage(0.0, 1.0), WHEN, settles=held)  # 0.02 ₽ used
    assert await admit(11, 4, (0.0, 0.0)) is Admitted.QUEUED


async def test_stats_show_the_stored_cost_and_the_model_answering_now(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    async with running_bot(realtime, redis_url, admin_ids=str(OWNER), realtime_model=NEW) as app:
        now = dt.datetime.now(dt.UTC)
        ledger = app.services.ledger
        assert ledger.prices == yandex(NEW)
        # One turn answered by the older model before the switch, one by the newer since.
        await UsageLedger(app.redis, yandex(OLD)).record(OWNER, OWNER, TURN, now)
        await ledger.record(OWNER, OWNER, TURN, now)
        cost = yandex(OLD).turn_cost(TURN) + yandex(NEW).turn_cost(TURN)
        app.api.push_message("text", chat_id=OWNER, user_id=OWNER, text="/stats")
        await app.api.wait_for("sendPhoto", timeout=20)
        stats = app.api.calls_of("sendMessage")[-1].params["text"]
        assert f"Today: 2 answers, 3 min, ≈{cost:.2f} ₽" in stats
        assert f"Answering now: {NEW}" in stats
        app.api.push_message("text", chat_id=OWNER, user_id=OWNER, text="/usage")
        (usage,) = await app.api.wait_for(
            "sendMessage", timeout=10, predicate=lambda c: "You, today" in c.params["text"]
        )
        assert f"You, today: 2 answers, 3 min, ≈{cost:.2f} ₽" in usage.params["text"]
