"""The storage's shared rules hold: one enqueue rule for admission and the reminders' clock (the
gate member and score a turn's ``TurnJob`` gives), every key a script touches declared in its
KEYS, and one retry helper for every loop that waits Redis out."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ResponseError

from bot.domain import Admitted, Budgets, Prices, ReminderCharge, TurnJob, TurnUsage, budget_checks
from bot.errors import StorageError
from bot.storage import keys, notes, reminders, tool_quota, turn_queue, usage
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.storage.retry import Attempts, is_failure, retrying
from bot.storage.tool_quota import ToolQuota
from bot.storage.turn_queue import TurnQueue
from bot.storage.usage import UsageLedger
from tests.test_queue import wait_until, workers

CHAT = -1001234567890123  # a supergroup id longer than a double's 15 digits
NOW = 1_800_000_000.25
NO_LIMITS = {"max_backlog": 100, "rate_window_index": 0, "rate_limit": 0, "rate_window": 60}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


# -- one enqueue rule ----------------------------------------------------------------------


def test_admission_and_the_reminders_clock_enqueue_by_one_snippet() -> None:
    enqueue = turn_queue.ENQUEUE_LUA
    for script in (turn_queue._ADMIT, reminders._FIRE):
        assert script.count(enqueue) == 1
        rest = script.replace(enqueue, "")
        # The gate's ZADD and the stream's XADD are the snippet's alone.
        assert "'ZADD'" not in rest and "'XADD'" not in rest
    # No script writes the gate member or score itself: they come from ``TurnJob``.
    for script in (reminders._ADD, reminders._CANCEL, reminders._CLEAR, reminders._FIRE):
        assert "0.5" not in script and "'r'" not in script and ":r'" not in script
    # The budget rule lives with usage, composed into every script that checks or holds.
    for script in (turn_queue._ADMIT, reminders._ADD, usage._RECORD, usage._RELEASE):
        assert script.count(usage.BUDGET_LUA) == 1
    assert turn_queue.BUDGET_LUA is usage.BUDGET_LUA


async def test_a_due_reminder_and_a_voice_note_of_its_chat_keep_one_order_each_answered_once(
    redis: Redis,
) -> None:
    queue = TurnQueue(redis, session_cap=4)
    store = ReminderStore(redis)
    asking = TurnJob(chat_id=CHAT, message_id=10, user_id=7, enqueued_at=NOW)
    reminder = await store.add(asking, "call mum", NOW + 5, now=NOW)
    note = TurnJob(chat_id=CHAT, message_id=11, user_id=7, file_id="f", media_kind="voice")
    admitted = await queue.admit(note, budgets=[], prices=(0.0, 0.0), **NO_LIMITS)
    assert admitted.outcome is Admitted.QUEUED
    # The reminder comes due after the note was queued...
    assert await store.fire_due(NOW + 5) == [reminder]
    # ...and both sit in the chat's gate as their TurnJob says: the reminder right after the
    # message that asked for it, so before the note.
    assert await redis.zrange(keys.chat_order(CHAT), 0, -1, withscores=True) == [
        (reminder.job.gate_member, reminder.job.gate_score),
        (note.gate_member, note.gate_score),
    ]
    assert reminder.job.gate_score < note.gate_score
    answered: list[str] = []

    async def handler(job: TurnJob) -> None:
        answered.append(job.label)
        await asyncio.sleep(0.02)

    async with workers(redis, handler, "w1", "w2"):
        await wait_until(lambda: len(answered) == 2)
        # Neither enters the queue again: not the reminder, not a redelivered note.
        assert await store.fire_due(NOW + 100) == []
        again = await queue.admit(note, budgets=[], prices=(0.0, 0.0), **NO_LIMITS)
        assert again.outcome is Admitted.DUPLICATE
        await asyncio.sleep(0.3)
    assert answered == [reminder.job.label, note.label]
    for member in (reminder.job.gate_member, note.gate_member):
        assert await redis.zscore(keys.chat_order(CHAT), member) < 0  # done marks
    assert await redis.xlen(keys.TURNS_STREAM) == 0


# -- every key a script touches is in its KEYS ------------------------------------------------

ORDER_PROBE = "vb:monitor-order-probe"
_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", "\\": b"\\", '"': b'"'}


def _unrepr(text: str) -> bytes:
    """An argument as MONITOR quotes it, back to its bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out += text[i].encode()
            i += 1
        elif text[i + 1] == "x":
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            out += _ESCAPES[text[i + 1]]
            i += 2
    return bytes(out)


def _monitored(line: str) -> tuple[bool, list[bytes]]:
    """(run by a script, its arguments) of one MONITOR line."""
    head, _, command = line.partition("] ")
    return head.endswith(" lua"), [_unrepr(arg) for arg in _ARG.findall(command)]


async def _keys_of(redis: Redis, command: list[bytes]) -> set[str]:
    try:
        found = await redis.command_getkeys(*command)
    except ResponseError:  # a command of no keys
        return set()
    return {k.decode() if isinstance(k, bytes) else str(k) for k in found}


async def _scripts_run(
    redis: Redis, redis_url: str, scenario: Callable[[], Awaitable[None]]
) -> list[str]:
    """Run ``scenario`` under MONITOR, after a script touching ``ORDER_PROBE``; the MONITOR
    lines they caused."""
    watcher = Redis.from_url(redis_url)
    lines: list[str] = []
    end = "end-of-the-scenario"
    try:
        async with watcher.monitor() as monitor:
            assert monitor.connection is not None

            async def read() -> None:
                assert monitor.connection is not None
                while True:
                    raw = await monitor.connection.read_response()
                    line = raw.decode() if isinstance(raw, bytes) else str(raw)
                    lines.append(line)
                    if end in line:
                        return

            reading = asyncio.create_task(read())
            await asyncio.sleep(0.1)
            await redis.eval("return redis.call('EXISTS', KEYS[1])", 1, ORDER_PROBE)
            await scenario()
            client = Redis.from_url(redis_url)
            await client.echo(end)
            await client.aclose()
            await asyncio.wait_for(reading, 10)
    finally:
        await watcher.aclose()
    return lines


async def test_every_script_declares_every_key_it_touches(redis: Redis, redis_url: str) -> None:
    queue = TurnQueue(redis, session_cap=3)
    store = ReminderStore(redis)
    ledger = UsageLedger(redis, Prices(input_per_minute=1.0, output_per_minute=1.0))
    chat_notes = NotesStore(redis)
    quota = ToolQuota(redis)
    budgets = Budgets(user_daily_seconds=600, chat_monthly_cost=50, bot_daily_cost=100)
    when = dt.datetime.fromtimestamp(NOW, dt.UTC)

    async def scenario() -> None:
        job = TurnJob(chat_id=CHAT, message_id=5, user_id=7, enqueued_at=NOW)
        checks = budget_checks(budgets, CHAT, 7, when)
        admitted = await queue.admit(
            job, max_backlog=10, rate_window_index=1, rate_limit=5, rate_window=60,
            budgets=[b.check for b in checks], prices=(1.0, 1.0), hold=(30.0, 30.0),
        )  # fmt: skip
        assert admitted.outcome is Admitted.QUEUED
        await queue.ensure_group()
        [(entry, _, _)] = await queue.read("w", 1, own=None, block_ms=100)
        taken = await queue.take(job, worker="w:", incarnation="w:1:", token="w:1:x", lock_ms=9000)
        assert taken.state == "go"
        await queue.keep_alive("w", {entry: taken}, 9000)
        await queue.release(taken)
        await queue.free_dead_incarnation("w:", "w:2:")
        await queue.finish(job, entry, taken)
        await ledger.record(CHAT, 7, TurnUsage(3.0, 2.0), when, settles=job)
        await ledger.release(job)
        await ledger.used_up(checks, own=job)

        charge = ReminderCharge(
            payer_id=7, at=NOW, rate_limit=5, rate_window=60,
            rate_window_index=int(NOW) // 60, budgets=tuple(checks),
            prices=Prices(1.0, 1.0), reply_seconds=20.0,
        )  # fmt: skip
        first = await store.add(job, "call mum", NOW + 5, now=NOW, charge=charge)
        second = await store.add(job, "water the plants", NOW + 50, now=NOW, charge=charge)
        third = await store.add(job, "buy bread", NOW + 60, now=NOW, charge=charge)
        await store.add(job, "bake", NOW + 70, now=NOW, charge=charge)
        assert await store.fire_due(NOW + 5) == [first]
        assert await store.cancel(CHAT, second.id) is not None
        # A reminder whose turn the gate has already is refused, and its holds dropped.
        await redis.zadd(keys.chat_order(CHAT), {third.job.gate_member: third.job.gate_score})
        assert await store.fire_due(NOW + 60) == []
        assert await store.clear(CHAT) == 1

        await chat_notes.add(CHAT, "my daughter is Ada", by=7)
        await chat_notes.migrate(CHAT, CHAT + 1)
        await chat_notes.clear(CHAT + 1)
        await quota.take(7, "reminders", 5, now=NOW)
        await quota.give_back(7, "reminders", now=NOW)

    scripts = {
        "admit": turn_queue._ADMIT, "take": turn_queue._TAKE, "finish": turn_queue._FINISH,
        "keep_alive": turn_queue._KEEP_ALIVE, "free_dead": turn_queue._FREE_DEAD,
        "release": turn_queue._RELEASE, "reminder add": reminders._ADD,
        "reminder cancel": reminders._CANCEL, "reminder clear": reminders._CLEAR,
        "reminder fire": reminders._FIRE, "usage record": usage._RECORD,
        "usage release": usage._RELEASE, "note add": notes._ADD, "note clear": notes._CLEAR,
        "note import": notes._IMPORT, "quota take": tool_quota._TAKE,
        "quota give back": tool_quota._GIVE_BACK,
    }  # fmt: skip
    names = {await redis.script_load(script): name for name, script in scripts.items()}
    lines = await _scripts_run(redis, redis_url, scenario)
    # Some versions of Redis show a script's command after the commands it ran, others before.
    after = next(_monitored(line)[0] for line in lines if ORDER_PROBE in line)
    run: set[str] = set()
    commands: list[list[bytes]] = []
    undeclared: set[tuple[str, str, str]] = set()
    script: tuple[str, set[str]] = ("", set())
    for line in lines:
        by_script, args = _monitored(line)
        if by_script:
            commands.append(args)
            if after:
                continue
        elif args and args[0].upper() in (b"EVALSHA", b"EVAL"):
            sha = args[1].decode()
            run.add(sha)
            declared = {a.decode() for a in args[3 : 3 + int(args[2])]}
            if not after:
                script, commands = (names.get(sha, sha), declared), []
                continue
            script = (names.get(sha, sha), declared)
        else:
            continue
        for command in commands:
            for key in await _keys_of(redis, command) - script[1]:
                undeclared.add((script[0], command[0].decode(), key))
        commands = []
    assert sorted(undeclared) == []
    assert sorted(name for sha, name in names.items() if sha not in run) == []


# -- one retry helper --------------------------------------------------------------------------


async def test_attempts_wait_out_passing_failures_and_raise_others_at_once() -> None:
    tries: list[int] = []

    async def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("away")
        return "ok"

    assert await retrying(flaky) == "ok"
    assert len(tries) == 3

    async def broken() -> None:
        raise ResponseError("ERR a script bug")

    with pytest.raises(ResponseError):
        await retrying(broken)
    # ...unless the loop waits out any failure of Redis (the worker's reads, the clock).
    seen = 0
    async for attempt in Attempts("test", first=0.01, when=is_failure, stop=asyncio.Event()):
        with attempt:
            seen += 1
            if seen < 2:
                await broken()
    assert seen == 2


async def test_attempts_end_on_stop_and_give_up_past_their_time() -> None:
    stop = asyncio.Event()
    tries = 0
    asyncio.get_running_loop().call_later(0.1, stop.set)
    async with asyncio.timeout(5):  # the stop ends the 10 s wait at once
        async for attempt in Attempts("test", first=10.0, stop=stop):
            with attempt:
                tries += 1
                raise StorageError("away")
    assert tries == 1

    async def for_a_while() -> None:
        async for attempt in Attempts("test", first=0.01, most=0.01, within=0.1):
            with attempt:
                raise StorageError("away")

    with pytest.raises(StorageError):
        await for_a_while()
