"""The tools' stores against a real Redis: a chat's notes and their limits, reminders and how a
due one moves into the turn queue exactly once, each chat seeing only its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import orjson
import pytest
from redis.asyncio import Redis

from bot.domain import TurnJob
from bot.errors import LimitReached, StorageError, ToolFailed
from bot.storage import keys
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.storage.turn_queue import Taken, TurnQueue
from stand_ins.redis import free_port

CHAT, OTHER = 101, -1001234567890123  # a supergroup id longer than a double's 15 digits
NOW = 1_800_000_000.25


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    """A client of a port nobody listens on: Redis is away."""
    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True)
    yield client
    await client.aclose()


def asking(chat_id: int = CHAT, message_id: int = 40, **fields: object) -> TurnJob:
    values: dict[str, object] = {
        "user_id": 7,
        "chat_type": "supergroup",
        "lang": "ru",
        "thread_id": 12,
        "text": "remind me to call mum",
        "enqueued_at": NOW - 5,
    }
    values.update(fields)
    return TurnJob(chat_id, message_id, **values)  # type: ignore[arg-type]


async def stream_jobs(redis: Redis) -> list[TurnJob]:
    entries = cast(list[tuple[str, dict[str, str]]], await redis.xrange(keys.TURNS_STREAM))
    return [TurnJob.loads(fields["job"]) for _, fields in entries]


# ------------------------------------------------------------------------------------ notes


async def test_notes_are_kept_in_order_with_ids_and_times(redis: Redis) -> None:
    notes = NotesStore(redis)
    first = await notes.add(CHAT, "  Anna is my daughter  ")
    second = await notes.add(CHAT, "The dog is called Rex")
    listed = await notes.list(CHAT)
    assert [(n.id, n.text) for n in listed] == [
        (first.id, "Anna is my daughter"),
        (second.id, "The dog is called Rex"),
    ]
    assert second.id == first.id + 1
    assert listed[0].at == first.at and listed[0].at > 0
    assert await redis.ttl(keys.chat_notes(CHAT)) == -1  # never expires


async def test_the_number_of_notes_is_bounded(redis: Redis) -> None:
    notes = NotesStore(redis, max_notes=3)
    for i in range(3):
        await notes.add(CHAT, f"fact {i}")
    with pytest.raises(LimitReached, match="3 notes"):
        await notes.add(CHAT, "one more")
    assert [n.text for n in await notes.list(CHAT)] == ["fact 0", "fact 1", "fact 2"]
    await notes.add(OTHER, "another chat has room")  # the limit is per chat


async def test_the_notes_characters_together_are_bounded_counted_as_characters(
    redis: Redis,
) -> None:
    notes = NotesStore(redis, max_chars=100, max_note_chars=60)
    # Cyrillic: two bytes a character, so a byte count would refuse these.
    await notes.add(CHAT, "я" * 60)
    await notes.add(CHAT, "ж" * 40)  # exactly 100 together
    with pytest.raises(LimitReached, match="100"):
        await notes.add(CHAT, "ы")
    assert sum(len(n.text) for n in await notes.list(CHAT)) == 100


async def test_one_note_is_bounded_and_an_empty_one_refused(redis: Redis) -> None:
    notes = NotesStore(redis, max_note_chars=20)
    await notes.add(CHAT, "é" * 20)
    with pytest.raises(LimitReached, match="20 characters"):
        await notes.add(CHAT, "x" * 21)
    with pytest.raises(ToolFailed) as refused:
        await notes.add(CHAT, "   \n ")
    assert not isinstance(refused.value, LimitReached)
    assert len(await notes.list(CHAT)) == 1


async def test_notes_added_at_once_never_pass_the_limit(redis: Redis) -> None:
    notes = NotesStore(redis, max_notes=5)
    results = await asyncio.gather(
        *(notes.add(CHAT, f"fact {i}") for i in range(20)), return_exceptions=True
    )
    kept = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, LimitReached)]
    assert len(kept) == 5 and len(refused) == 15
    assert len({note.id for note in kept}) == 5
    assert len(await notes.list(CHAT)) == 5


async def test_forget_by_id(redis: Redis) -> None:
    notes = NotesStore(redis)
    anna = await notes.add(CHAT, "Anna is my daughter")
    rex = await notes.add(CHAT, "The dog is called Rex")
    forgotten = await notes.forget(CHAT, str(rex.id))
    assert [n.id for n in forgotten] == [rex.id]
    assert [n.id for n in await notes.list(CHAT)] == [anna.id]
    assert await notes.forget(CHAT, str(rex.id)) == []  # already gone


async def test_forget_by_words_needs_all_of_them_whole_in_any_case(redis: Redis) -> None:
    notes = NotesStore(redis)
    await notes.add(CHAT, "Mum's birthday is on 3 May")
    await notes.add(CHAT, "Dad's birthday is on 9 June")
    await notes.add(CHAT, "Mum likes tulips")
    forgotten = await notes.forget(CHAT, "mum BIRTHDAY,")
    assert [n.text for n in forgotten] == ["Mum's birthday is on 3 May"]
    assert await notes.forget(CHAT, "birthday tulips") == []
    assert await notes.forget(CHAT, "   ") == []  # never "everything"
    assert await notes.forget(CHAT, "birth") == []  # whole words only
    assert await notes.forget(CHAT, "u") == []  # one letter names nothing
    forgotten = await notes.forget(CHAT, "Birthday")
    assert [n.text for n in forgotten] == ["Dad's birthday is on 9 June"]
    assert [n.text for n in await notes.list(CHAT)] == ["Mum likes tulips"]


async def test_a_note_keeps_its_author_and_one_kept_before_authors_has_none(
    redis: Redis,
) -> None:
    notes = NotesStore(redis)
    mine = await notes.add(CHAT, "Ann's cat is Tom", by=7, admin=False)
    theirs = await notes.add(CHAT, "The group's chat", by=OTHER, admin=True)  # sent as a chat
    assert (mine.by, theirs.by) == (7, OTHER)
    key = keys.chat_notes(CHAT)
    number = int(await redis.hincrby(key, "seq", 1))
    await redis.hset(key, str(number), orjson.dumps({"text": "written long ago", "at": NOW}))
    listed = await notes.list(CHAT)
    assert [(n.text, n.by) for n in listed] == [
        ("Ann's cat is Tom", 7),
        ("The group's chat", OTHER),  # a supergroup id past a double's 15 digits, exact
        ("written long ago", None),
    ]
    # The same text again, from anyone: the note already kept, its author unchanged.
    assert await notes.add(CHAT, "Ann's cat is Tom", by=8, admin=False) == mine


async def test_a_member_keeps_at_most_their_share_checked_with_the_chats_limits(
    redis: Redis,
) -> None:
    notes = NotesStore(redis, max_notes=10, max_chars=1000, max_per_user=3)
    assert notes.max_chars_per_user == 500  # never less than one whole note
    results = await asyncio.gather(
        *(notes.add(CHAT, f"fact {i}", by=7, admin=False) for i in range(20)),
        return_exceptions=True,
    )
    kept = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, LimitReached)]
    assert len(kept) == 3 and len(refused) == 17
    assert "3 notes in this chat, the most one member may keep" in str(refused[0])
    # An admin's notes count only against the chat's limits; another member has their own.
    for i in range(4):
        await notes.add(CHAT, f"rule {i}", by=7, admin=True)
    await notes.add(CHAT, "theirs", by=8, admin=False)
    assert len(await notes.list(CHAT)) == 8
    # A member's characters: their share of the chat's.
    chars = NotesStore(redis, max_notes=50, max_chars=4000, max_per_user=10)
    assert chars.max_chars_per_user == 800
    await chars.add(OTHER, "я" * 500, by=9, admin=False)
    with pytest.raises(LimitReached, match="800 one member's notes may have"):
        await chars.add(OTHER, "ж" * 301, by=9, admin=False)
    await chars.add(OTHER, "ж" * 300, by=9, admin=False)
    await chars.add(OTHER, "ы" * 301, by=10, admin=False)


async def test_clear_removes_every_note_and_ids_are_not_given_again(redis: Redis) -> None:
    notes = NotesStore(redis)
    await notes.add(CHAT, "one")
    last = await notes.add(CHAT, "two")
    assert await notes.clear(CHAT) == 2
    assert await notes.list(CHAT) == []
    assert await notes.clear(CHAT) == 0
    again = await notes.add(CHAT, "three")
    assert again.id > last.id


async def test_a_chat_cannot_see_or_forget_another_chats_notes(redis: Redis) -> None:
    notes = NotesStore(redis)
    mine = await notes.add(CHAT, "the safe code is 1234")
    assert await notes.list(OTHER) == []
    assert await notes.forget(OTHER, str(mine.id)) == []
    assert await notes.forget(OTHER, "safe code") == []
    assert await notes.clear(OTHER) == 0
    assert [n.text for n in await notes.list(CHAT)] == ["the safe code is 1234"]


async def test_a_groups_notes_move_to_its_supergroup(redis: Redis) -> None:
    notes = NotesStore(redis)
    await notes.add(CHAT, "first", by=7, admin=False)
    await notes.add(CHAT, "second")
    await notes.add(OTHER, "the supergroup's own")
    await notes.migrate(CHAT, OTHER)
    await notes.migrate(CHAT, OTHER)  # tried twice: nothing doubled
    moved = await notes.list(OTHER)
    assert [n.text for n in moved] == ["the supergroup's own", "first", "second"]
    assert moved[1].by == 7  # its author moves with it
    assert await notes.list(CHAT) == []


async def test_redis_away_is_a_storage_error(dead_redis: Redis) -> None:
    notes = NotesStore(dead_redis)
    with pytest.raises(StorageError):
        await notes.add(CHAT, "anything")
    with pytest.raises(StorageError):
        await notes.list(CHAT)
    reminders = ReminderStore(dead_redis)
    with pytest.raises(StorageError):
        await reminders.add(asking(), "call mum", NOW + 60, now=NOW)
    with pytest.raises(StorageError):
        await reminders.fire_due(NOW)


# -------------------------------------------------------------------------------- reminders


async def test_a_reminder_is_the_turn_that_speaks_it(redis: Redis) -> None:
    reminders = ReminderStore(redis)
    reminder = await reminders.add(asking(), "  call mum  ", NOW + 600.5, now=NOW)
    assert reminder.id.isdigit() and len(reminder.id) <= 3
    assert (reminder.chat_id, reminder.text, reminder.due_at) == (CHAT, "call mum", NOW + 600.5)
    job = reminder.job
    assert job.kind == "reminder" and job.reminder_id == reminder.id
    assert (job.chat_id, job.message_id, job.user_id) == (CHAT, 40, 7)
    assert (job.chat_type, job.lang, job.thread_id) == ("supergroup", "ru", 12)
    assert (job.text, job.enqueued_at, job.file_id) == ("call mum", NOW, None)
    assert await reminders.list(CHAT) == [reminder]
    assert await reminders.next_due() == NOW + 600.5


async def test_reminders_are_listed_soonest_first_with_short_distinct_ids(redis: Redis) -> None:
    reminders = ReminderStore(redis)
    late = await reminders.add(asking(), "late", NOW + 3000, now=NOW)
    soon = await reminders.add(asking(), "soon", NOW + 100, now=NOW)
    middle = await reminders.add(asking(), "middle", NOW + 2000, now=NOW)
    assert [r.text for r in await reminders.list(CHAT)] == ["soon", "middle", "late"]
    assert len({late.id, soon.id, middle.id}) == 3
    assert await reminders.next_due() == NOW + 100


async def test_cancel_works_only_in_the_reminders_own_chat(redis: Redis) -> None:
    reminders = ReminderStore(redis)
    reminder = await reminders.add(asking(), "call mum", NOW + 60, now=NOW)
    assert await reminders.cancel(OTHER, reminder.id) is None
    assert await reminders.list(CHAT) == [reminder]
    assert await reminders.cancel(CHAT, "seq") is None  # the id counter is no reminder
    cancelled = await reminders.cancel(CHAT, reminder.id)
    assert cancelled == reminder
    assert await reminders.cancel(CHAT, reminder.id) is None
    assert await reminders.list(CHAT) == []
    assert await reminders.next_due() is None


async def test_the_number_of_waiting_reminders_is_bounded_per_chat(redis: Redis) -> None:
    reminders = ReminderStore(redis, max_per_chat=2)
    first = await reminders.add(asking(), "one", NOW + 60, now=NOW)
    await reminders.add(asking(), "two", NOW + 60, now=NOW)
    with pytest.raises(LimitReached, match="2 reminders"):
        await reminders.add(asking(), "three", NOW + 60, now=NOW)
    await reminders.add(asking(OTHER), "another chat has room", NOW + 60, now=NOW)
    await reminders.cancel(CHAT, first.id)
    await reminders.add(asking(), "three", NOW + 60, now=NOW)  # room again
    assert [r.text for r in await reminders.list(CHAT)] == ["two", "three"]


async def test_a_reminder_beyond_the_horizon_or_in_the_past_is_refused(redis: Redis) -> None:
    reminders = ReminderStore(redis, horizon_seconds=86400)
    await reminders.add(asking(), "just within", NOW + 86400, now=NOW)
    with pytest.raises(LimitReached, match="1 days"):
        await reminders.add(asking(), "too far", NOW + 86401, now=NOW)
    for past in (NOW, NOW - 1):
        with pytest.raises(ToolFailed) as refused:
            await reminders.add(asking(), "too late", past, now=NOW)
        assert not isinstance(refused.value, LimitReached)
    with pytest.raises(ToolFailed):
        await reminders.add(asking(), "  ", NOW + 60, now=NOW)
    assert [r.text for r in await reminders.list(CHAT)] == ["just within"]


async def test_a_due_reminder_moves_into_the_stream_and_the_order_gate_once(
    redis: Redis,
) -> None:
    reminders = ReminderStore(redis)
    due = await reminders.add(asking(OTHER), 'say "hi" ✓ "reminder_id":"#ID#"', NOW + 10, now=NOW)
    later = await reminders.add(asking(OTHER), "later", NOW + 100, now=NOW)
    assert await reminders.fire_due(NOW + 9) == []
    assert await stream_jobs(redis) == []

    fired = await reminders.fire_due(NOW + 10)
    assert fired == [due]
    jobs = await stream_jobs(redis)
    assert jobs == [due.job]  # exactly the job stored, big chat id and odd text intact
    assert jobs[0].chat_id == OTHER and jobs[0].reminder_id == due.id
    order = keys.chat_order(OTHER)
    assert await redis.zrange(order, 0, -1, withscores=True) == [
        (due.job.gate_member, due.job.gate_score)
    ]
    assert due.job.gate_member == f"r{due.id}" and due.job.gate_score == 40.5
    assert 0 < await redis.pttl(order) <= 7 * 86400 * 1000
    assert await reminders.list(OTHER) == [later]
    assert await reminders.cancel(OTHER, due.id) is None  # fired, then cancelled: too late

    assert await reminders.fire_due(NOW + 50) == []
    assert len(await stream_jobs(redis)) == 1
    assert await reminders.next_due() == NOW + 100


async def test_fire_due_takes_at_most_limit(redis: Redis) -> None:
    reminders = ReminderStore(redis)
    for i in range(5):
        await reminders.add(asking(), f"r{i}", NOW + 1 + i, now=NOW)
    first = await reminders.fire_due(NOW + 100, limit=2)
    assert [r.text for r in first] == ["r0", "r1"]
    rest = await reminders.fire_due(NOW + 100, limit=10)
    assert [r.text for r in rest] == ["r2", "r3", "r4"]
    assert len(await stream_jobs(redis)) == 5


async def test_ten_callers_at_once_fire_each_reminder_once(redis_url: str) -> None:
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(10)]
    try:
        stores = [ReminderStore(client) for client in clients]
        added = []
        for i in range(30):
            chat = (CHAT, OTHER, 555)[i % 3]
            added.append(await stores[0].add(asking(chat, 100 + i), f"t{i}", NOW + 1 + i, now=NOW))

        async def drain(store: ReminderStore) -> list[tuple[int, str]]:
            fired: list[tuple[int, str]] = []
            while batch := await store.fire_due(NOW + 1000, limit=4):
                fired += [(r.chat_id, r.id) for r in batch]
            return fired

        results = await asyncio.gather(*(drain(store) for store in stores))
        fired = [item for result in results for item in result]
        assert sorted(fired) == sorted((r.chat_id, r.id) for r in added)
        assert len(fired) == len(set(fired)) == 30
        jobs = await stream_jobs(clients[0])
        assert sorted((j.chat_id, j.reminder_id) for j in jobs) == sorted(fired)
        assert await stores[0].next_due() is None
    finally:
        for client in clients:
            await client.aclose()


async def test_a_cancelled_reminder_never_fires(redis: Redis) -> None:
    reminders = ReminderStore(redis)
    reminder = await reminders.add(asking(), "call mum", NOW + 60, now=NOW)
    assert await reminders.cancel(CHAT, reminder.id) is not None
    assert await reminders.fire_due(NOW + 3600) == []
    assert await stream_jobs(redis) == []
    assert await redis.exists(keys.chat_order(CHAT)) == 0


async def test_clear_cancels_every_reminder_of_the_chat_only(redis: Redis) -> None:
    reminders = ReminderStore(redis)
    for text in ("one", "two"):
        await reminders.add(asking(), text, NOW + 60, now=NOW)
    theirs = await reminders.add(asking(OTHER), "theirs", NOW + 60, now=NOW)
    assert await reminders.clear(CHAT) == 2
    assert await reminders.list(CHAT) == []
    assert await reminders.fire_due(NOW + 60) == [theirs]
    again = await reminders.add(asking(), "three", NOW + 600, now=NOW)
    assert again.id not in {"1", "2"}  # ids are never given twice: the gate keeps old ones


async def test_a_fired_reminder_waits_its_turn_in_the_chats_order(redis: Redis) -> None:
    """A reminder asked by message 40 goes after a waiting message 30, before message 50."""
    queue = TurnQueue(redis, session_cap=4)
    await queue.ensure_group()
    rules: dict[str, int] = {
        "max_backlog": 10,
        "rate_window_index": 0,
        "rate_limit": 0,
        "rate_window": 60,
    }
    earlier, after = TurnJob(CHAT, 30, text="earlier"), TurnJob(CHAT, 50, text="after")
    for job in (earlier, after):
        await queue.admit(job, budgets=[], prices=(0.0, 0.0), **rules)
    reminders = ReminderStore(redis)
    reminder = await reminders.add(asking(CHAT, 40), "call mum", NOW + 1, now=NOW)
    [fired] = await reminders.fire_due(NOW + 1)

    async def take(job: TurnJob, token: str) -> Taken:
        return await queue.take(job, worker="w", incarnation="w:1", token=token, lock_ms=5000)

    async def finish(job: TurnJob, taken: Taken) -> None:
        entries = cast(list[tuple[str, dict[str, str]]], await redis.xrange(keys.TURNS_STREAM))
        [entry] = [e for e, fields in entries if TurnJob.loads(fields["job"]) == job]
        await queue.finish(job, entry, taken)

    assert (await take(fired.job, "w:1:a")).state == "wait"
    assert (await take(after, "w:1:b")).state == "wait"
    taken = await take(earlier, "w:1:c")
    assert taken.state == "go"
    await finish(earlier, taken)
    assert (await take(after, "w:1:d")).state == "wait"
    taken = await take(fired.job, "w:1:e")
    assert taken.state == "go" and fired.job == reminder.job
    await finish(fired.job, taken)
    assert (await take(after, "w:1:f")).state == "go"


async def test_a_tick_fires_what_is_due_and_says_when_the_next_one_is(redis: Redis) -> None:
    store = ReminderStore(redis)
    now = 1_800_000_000.0
    await store.add(asking(), "first", now + 10, now=now)
    await store.add(asking(), "second", now + 25.5, now=now)
    assert await store.tick(now) == ([], now + 10)
    fired, next_due = await store.tick(now + 11)
    assert [r.text for r in fired] == ["first"] and next_due == now + 25.5
    fired, next_due = await store.tick(now + 30)
    assert [r.text for r in fired] == ["second"] and next_due is None


async def test_a_note_said_twice_is_kept_once(redis: Redis) -> None:
    notes = NotesStore(redis)
    first = await notes.add(CHAT, "Ada likes tea.")
    again = await notes.add(CHAT, "  Ada likes tea. ")
    assert again == first and len(await notes.list(CHAT)) == 1
    assert (await notes.add(CHAT, "Ada likes coffee.")).id != first.id


async def test_a_reminder_asked_again_by_the_same_message_is_the_same_one(redis: Redis) -> None:
    # A turn tried again after its tool ran asks again, "in 20 minutes" a little later.
    store = ReminderStore(redis)
    first = await store.add(asking(message_id=40), "call mum", NOW + 1200, now=NOW)
    again = await store.add(asking(message_id=40), "call mum", NOW + 1260, now=NOW + 60)
    assert again == first and len(await store.list(CHAT)) == 1
    # Another time, another text or another message: another reminder.
    later = await store.add(asking(message_id=40), "call mum", NOW + 4800, now=NOW)
    other_text = await store.add(asking(message_id=40), "call dad", NOW + 1200, now=NOW)
    other_message = await store.add(asking(message_id=41), "call mum", NOW + 1200, now=NOW)
    assert len({first.id, later.id, other_text.id, other_message.id}) == 4
