"""Who a turn is asked by: the sender whose limits and budgets it counts against (the chat a
message was sent on behalf of: an anonymous admin's group, a channel a member writes as), whether
they are an admin, and the senders never answered (a linked channel's posts, channel posts,
bots)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiogram.types import Update

from bot.domain import TurnJob, day_of
from bot.storage import keys
from stand_ins.bot_api import (
    CHANNEL_BOT,
    GROUP_ANONYMOUS_BOT,
    TELEGRAM_SERVICE_USER,
    BotAPIStandIn,
)
from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, about, receiving_bot, running_bot

GROUP = -100_901
OTHER_GROUP = -100_902
ELSEWHERE = {"id": -100_903, "type": "supergroup", "title": "Another group"}
ADMIN = 91
MEMBER = 92
OWNER = 99
USER = 93
CHANNEL: dict[str, Any] = {"id": -100_911, "title": "Member's blog"}
OTHER_CHANNEL: dict[str, Any] = {"id": -100_912, "title": "Another member's blog"}
LINKED: dict[str, Any] = {"id": -100_913, "title": "News"}
MENTION = [{"type": "mention", "offset": 0, "length": len("@test_voice_bot")}]
RATE_LIMITED = "You are sending a lot"
# One turn per payer in a window long enough that no test crosses into the next one.
ONE_TURN = {"rate_limit_turns": 1, "rate_limit_window": 86_400}


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


def voice(app: RunningBot, ogg: bytes, chat: int = GROUP, **sender: Any) -> dict:
    return app.api.push_message(
        "voice", chat_id=chat, data=ogg, duration=3, chat_type="supergroup", chat_title="Team",
        **sender,
    )  # fmt: skip


def text(app: RunningBot, words: str, chat: int = GROUP, **sender: Any) -> dict:
    return app.api.push_message(
        "text", chat_id=chat, text=words, chat_type="supergroup", chat_title="Team", **sender
    )


def question(app: RunningBot, chat: int = GROUP, **sender: Any) -> dict:
    return text(app, "@test_voice_bot what time is it?", chat, entities=MENTION, **sender)


async def answered(app: RunningBot, update: dict) -> None:
    await app.api.wait_for(
        "sendVoice", timeout=15, predicate=lambda c: c.ok and bool(about([c], update))
    )


async def refused(app: RunningBot, update: dict) -> str:
    (call,) = await app.api.wait_for(
        "sendMessage", timeout=10, predicate=lambda c: c.ok and bool(about([c], update))
    )
    return str(call.params["text"])


# ----------------------------------------------------------------- the job at intake


@pytest.fixture
async def receiver(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    """The receiving side only (no worker): what it queues stays in the turns stream."""
    async with (
        BotAPIStandIn() as api,
        receiving_bot(api, realtime, redis_url, admin_ids=str(OWNER)) as app,
    ):
        api.chat_admins[GROUP] = [
            {"status": "creator", "user": {"id": ADMIN, "is_bot": False, "first_name": "Ann"}}
        ]
        await app.services.settings_store.set(GROUP, mode="all")
        yield app


async def queued(app: RunningBot) -> dict[tuple[int, int], TurnJob]:
    """Every turn queued once all pushed updates were handled (a batch is confirmed to
    Telegram, by the next getUpdates, only after each of its updates was handled)."""
    async with asyncio.timeout(10):
        while app.api.pending_updates:
            await asyncio.sleep(0.02)
    entries = cast(list[tuple[str, dict[str, str]]], await app.redis.xrange(keys.TURNS_STREAM))
    jobs = [TurnJob.loads(fields["job"]) for _, fields in entries]
    return {(job.chat_id, job.message_id): job for job in jobs}


def key(update: dict) -> tuple[int, int]:
    message = update.get("message") or update["channel_post"]
    return message["chat"]["id"], message["message_id"]


def asker(job: TurnJob) -> tuple[int | None, int | None, bool]:
    return job.user_id, job.payer_id, job.asker_is_admin


async def test_the_job_names_its_payer_and_whether_the_asker_is_an_admin(
    receiver: RunningBot, ogg: bytes
) -> None:
    app = receiver
    private = app.api.push_message("text", chat_id=USER, user_id=USER, text="hello")
    member = voice(app, ogg, user_id=MEMBER)
    admin = voice(app, ogg, user_id=ADMIN)
    owner = voice(app, ogg, user_id=OWNER)
    anonymous = voice(app, ogg, anonymous_admin=True)
    as_channel = voice(app, ogg, channel=CHANNEL)
    jobs = await queued(app)
    assert asker(jobs[key(private)]) == (USER, None, True)
    assert asker(jobs[key(member)]) == (MEMBER, None, False)
    assert asker(jobs[key(admin)]) == (ADMIN, None, True)
    assert asker(jobs[key(owner)]) == (OWNER, None, True)
    # Every anonymous admin of every group is GroupAnonymousBot: the turn is the group's.
    assert asker(jobs[key(anonymous)]) == (GROUP_ANONYMOUS_BOT["id"], GROUP, True)
    # Every channel writes as Channel_Bot: the turn is the channel's, and no admin's.
    assert asker(jobs[key(as_channel)]) == (CHANNEL_BOT["id"], CHANNEL["id"], False)
    assert jobs[key(as_channel)].payer == CHANNEL["id"]
    assert jobs[key(member)].payer == MEMBER
    assert len(jobs) == 6
    # the admin list was asked of Telegram once, then read from the cache
    assert len(app.api.calls_of("getChatAdministrators")) == 1


async def test_ask_counts_against_whoever_asked(receiver: RunningBot, ogg: bytes) -> None:
    app = receiver
    # In replies mode nothing here is queued by itself, only what /ask asks for.
    notes = [voice(app, ogg, OTHER_GROUP, user_id=MEMBER) for _ in range(4)]
    by_channel = text(app, "/ask", OTHER_GROUP, channel=CHANNEL, reply_to=notes[0]["message"])
    by_anonymous = text(app, "/ask", OTHER_GROUP, anonymous_admin=True,
                        reply_to=notes[1]["message"])  # fmt: skip
    by_member = text(app, "/ask", OTHER_GROUP, user_id=MEMBER, reply_to=notes[2]["message"])
    # a bot's /ask (still queued, not yet fetched: the bot sees it so), and one from
    # GroupAnonymousBot on behalf of a group that is not this one
    by_bot = text(app, "/ask", OTHER_GROUP, user_id=555, reply_to=notes[3]["message"])
    by_bot["message"]["from"]["is_bot"] = True
    text(app, "/ask", OTHER_GROUP, user_id=GROUP_ANONYMOUS_BOT["id"],
         reply_to=notes[3]["message"], extra={"sender_chat": ELSEWHERE})  # fmt: skip
    jobs = await queued(app)
    assert set(jobs) == {key(note) for note in notes[:3]}, "only people's /ask is answered"
    assert asker(jobs[key(notes[0])]) == (CHANNEL_BOT["id"], CHANNEL["id"], False)
    assert asker(jobs[key(notes[1])]) == (GROUP_ANONYMOUS_BOT["id"], OTHER_GROUP, True)
    assert asker(jobs[key(notes[2])]) == (MEMBER, None, False)
    assert not [c for c in app.api.calls if about([c], by_channel) or about([c], by_anonymous)
                or about([c], by_member)]  # fmt: skip


async def test_a_linked_channels_posts_are_never_queued(receiver: RunningBot, ogg: bytes) -> None:
    app = receiver  # GROUP is in mode all: every voice note of a member would be queued
    posts = [
        voice(app, ogg, channel=LINKED, automatic_forward=True),
        question(app, channel=LINKED, automatic_forward=True),
        text(app, "/settings", channel=LINKED, automatic_forward=True),
        # anything else from Telegram's service account
        voice(app, ogg, user_id=TELEGRAM_SERVICE_USER["id"]),
    ]
    for post in posts[:3]:
        assert post["message"]["from"] == TELEGRAM_SERVICE_USER
    asked = voice(app, ogg, user_id=MEMBER)
    assert set(await queued(app)) == {key(asked)}
    # and no command, refusal or reaction answered them
    assert [c for post in posts for c in about(app.api.calls, post)] == []


async def test_channel_posts_are_never_handled(receiver: RunningBot, ogg: bytes) -> None:
    """A guard (today's bot already passes it): a channel the bot is a member of sends it
    ``channel_post`` updates; the bot asks Telegram for none (``allowed_updates``), and if one
    came anyway no handler takes it."""
    app = receiver
    assert "channel_post" not in app.dispatcher.resolve_used_update_types()
    channel = LINKED["id"]
    await app.services.settings_store.set(channel, mode="all")
    post = app.api.push_message("voice", chat_id=channel, data=ogg, duration=3,
                                chat_type="channel", chat_title="News")  # fmt: skip
    assert await queued(app) == {}
    update = Update.model_validate(post, context={"bot": app.bot})
    await app.dispatcher.feed_update(app.bot, update)
    assert await queued(app) == {}
    assert about(app.api.calls, post["channel_post"]) == []


# ------------------------------------------------------------------ limits, end to end
# These need admission to key rate limits on ``TurnJob.payer`` (bot/storage/turn_queue.py).


@pytest.mark.yandex_variants
async def test_two_groups_anonymous_admins_have_separate_rate_limits(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    async with running_bot(realtime, redis_url, **ONE_TURN) as app:
        first = question(app, GROUP, anonymous_admin=True)
        await answered(app, first)
        again = question(app, GROUP, anonymous_admin=True)
        assert RATE_LIMITED in await refused(app, again)
        # The other group's anonymous admins are not the first group's, though Telegram sends
        # both as GroupAnonymousBot: their own turn is answered.
        other = question(app, OTHER_GROUP, anonymous_admin=True)
        await answered(app, other)
        assert len(app.api.calls_of("sendVoice")) == 2


@pytest.mark.yandex_variants
async def test_a_member_writing_as_a_channel_is_limited_as_that_channel(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url, **ONE_TURN) as app:
        first = question(app, channel=CHANNEL)
        await answered(app, first)
        # Another channel (also Channel_Bot) has a turn of its own, asked with /ask.
        note = voice(app, ogg, user_id=MEMBER)
        text(app, "/ask", channel=OTHER_CHANNEL, reply_to=note["message"])
        await answered(app, note)
        # The first channel's turn is used, in this group and any other.
        assert RATE_LIMITED in await refused(app, question(app, channel=CHANNEL))
        # And the /ask was the second channel's turn: it is refused too, wherever it asks.
        assert RATE_LIMITED in await refused(app, question(app, OTHER_GROUP, channel=OTHER_CHANNEL))
        assert len(app.api.calls_of("sendVoice")) == 2


@pytest.mark.yandex_variants
async def test_an_automatic_forward_is_not_answered_in_mode_all(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url) as app:
        await app.services.settings_store.set(GROUP, mode="all")
        post = voice(app, ogg, channel=LINKED, automatic_forward=True)
        assert (post["message"]["from"]["id"], post["message"]["from"]["is_bot"]) == (777000, False)
        command = text(app, "/help", channel=LINKED, automatic_forward=True)
        # A member's voice note after them is answered; turns of a chat are answered in order,
        # so once it is, a turn wrongly queued for the post would have been answered first.
        asked = voice(app, ogg, user_id=MEMBER)
        await answered(app, asked)
        assert about(app.api.calls, post) == [] and about(app.api.calls, command) == []
        assert len(app.api.calls_of("sendVoice")) == 1
        assert len(realtime.sessions) == 1
        # A member may still /ask about the post: they asked, and it counts against them.
        text(app, "/ask", user_id=MEMBER, reply_to=post["message"])
        await answered(app, post)


@pytest.mark.yandex_variants
async def test_usage_reports_the_sender_chat_its_turns_counted_against(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    async with running_bot(realtime, redis_url) as app:
        await answered(app, question(app, GROUP, anonymous_admin=True))
        today = day_of(dt.datetime.now(dt.UTC))
        async with asyncio.timeout(10):  # counted right after the answer is sent
            while (await app.services.ledger.totals("u", GROUP, today)).turns != 1:
                await asyncio.sleep(0.02)
        # The turn was counted against the group (its anonymous admins): /usage from them says so,
        # not GroupAnonymousBot's empty account; a member's own /usage shows nothing of it.
        asked = text(app, "/usage", GROUP, anonymous_admin=True)
        assert "You, today: 1 answer," in await refused(app, asked)
        mine = text(app, "/usage", GROUP, user_id=MEMBER)
        assert "You, today: 0 answers," in await refused(app, mine)
