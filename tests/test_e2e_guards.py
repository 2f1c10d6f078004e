"""Who the bot's guards let through: budgets (owners exempt) and the admin check for messages
sent on behalf of a chat."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from stand_ins.bot_api import GROUP_ANONYMOUS_BOT
from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, about, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

GROUP = -100_808
ADMIN = 81
MEMBER = 82
OWNER = 89
CHANNEL = {"id": -100_818, "title": "Member's blog"}
ELSEWHERE = {"id": -100_828, "type": "supergroup", "title": "Another group"}


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


def group_voice(app: RunningBot, ogg: bytes, user: int) -> dict:
    return app.api.push_message(
        "voice", chat_id=GROUP, user_id=user, data=ogg, duration=3, chat_type="supergroup",
        chat_title="Team",
    )  # fmt: skip


async def used(app: RunningBot, user: int, turns: int) -> float:
    """The user's audio seconds today, once ``turns`` of theirs are counted (usage is written
    right after the answer is sent, so waiting for the voice note is not enough)."""
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    raw: dict = {}
    for _ in range(250):
        raw = await app.redis.hgetall(f"vb:{{u{user}}}:usage:{today}")
        if raw.get("turns") == str(turns):
            return float(raw["in_sec"]) + float(raw["out_sec"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"usage of {user} not counted: {raw}")


async def answered(app: RunningBot, update: dict) -> None:
    await app.api.wait_for(
        "sendVoice", timeout=15, predicate=lambda c: c.ok and bool(about([c], update))
    )


async def refused(app: RunningBot, update: dict) -> str:
    (call,) = await app.api.wait_for(
        "sendMessage", timeout=10, predicate=lambda c: c.ok and bool(about([c], update))
    )
    return call.params["text"]


@pytest.mark.parametrize(
    ("budget", "refusal"),
    [("user_daily_seconds", "You have used today's limit"),
     ("chat_daily_seconds", "This chat has used today's limit")],
)  # fmt: skip
async def test_a_used_budget_refuses_members_and_never_the_owner(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes, budget: str, refusal: str
) -> None:
    async with running_bot(realtime, redis_url, admin_ids=str(OWNER), **{budget: 0.5}) as app:
        await app.services.settings_store.set(GROUP, mode="all")
        first = group_voice(app, ogg, MEMBER)  # nothing used yet: answered
        await answered(app, first)
        assert await used(app, MEMBER, 1) > 0.5
        over = group_voice(app, ogg, MEMBER)
        assert refusal in await refused(app, over)
        # The owner is answered again and again, each turn admitted only after the previous
        # one was counted: each is past the budget (theirs and the chat's) when it arrives.
        for turn in range(1, 4):
            asked = group_voice(app, ogg, OWNER)
            await answered(app, asked)
            assert await used(app, OWNER, turn) > 0.5 * turn
        # Turns of a chat are answered in order, so the refused note, had it been queued,
        # would have been answered before the owner's: it got the refusal and nothing else.
        assert [c.method for c in about(app.api.calls, over)] == ["sendMessage"]
        assert len(app.api.calls_of("sendVoice")) == 4
        assert len(realtime.sessions) == 4


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(realtime, redis_url, admin_ids=str(OWNER)) as running:
        running.api.chat_admins[GROUP] = [
            {"status": "creator", "user": {"id": ADMIN, "is_bot": False, "first_name": "Ann"}}
        ]
        yield running


SETTINGS_COMMANDS = (
    "/mode all", "/voice alena", "/instructions Be rude.", "/memory off", "/transcript off",
    "/live off", "/tools clock off", "/timezone UTC+3", "/reset", "/forget",
)  # fmt: skip


async def reply_to(app: RunningBot, text: str, **sender: Any) -> str:
    command = app.api.push_message(
        "text", chat_id=GROUP, text=text, chat_type="supergroup", chat_title="Team", **sender
    )
    (call,) = await app.api.wait_for(
        "sendMessage", timeout=10, predicate=lambda c: c.ok and bool(about([c], command))
    )
    return call.params["text"]


@pytest.mark.parametrize(
    "sender",
    [
        # A member writing "as" a channel of theirs: Channel_Bot, sender_chat the channel.
        {"channel": CHANNEL},
        # GroupAnonymousBot on behalf of another chat than this group (Telegram sends it only
        # with the group itself, so this one is forged or misrouted; either way no admin here).
        {"user_id": GROUP_ANONYMOUS_BOT["id"], "extra": {"sender_chat": ELSEWHERE}},
    ],
    ids=["as-a-channel", "anonymous-admin-of-another-group"],
)
async def test_only_the_groups_own_chat_counts_as_an_anonymous_admin(
    app: RunningBot, sender: dict
) -> None:
    app.api.flood_limits = None  # eleven replies in a row: Telegram's pace would only slow this
    memory = f"vb:{{{GROUP}}}:memory"
    await app.redis.rpush(memory, '{"role": "user", "text": "remember me"}')
    for command in SETTINGS_COMMANDS:
        assert "Only the chat's admins" in await reply_to(app, command, **sender), command
    assert not await app.redis.exists(f"vb:{{{GROUP}}}:settings")
    assert await app.redis.lrange(memory, 0, -1) == ['{"role": "user", "text": "remember me"}']
    # while the group's own anonymous admin (sender_chat the group itself) is an admin
    assert "every voice note" in await reply_to(app, "/mode all", anonymous_admin=True)
    assert (await app.redis.hgetall(f"vb:{{{GROUP}}}:settings"))["mode"] == "all"
