"""Admin rights follow Telegram at once: a ``chat_member`` update (a promotion or demotion) drops
the chat's cached admin list, and every settings change in a group asks Telegram
(getChatMember) whether its sender is an admin still, so a demoted admin changes nothing, even
when no update came (the bot is not an admin of the group, or the update was lost)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.storage import keys
from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, running_bot

GROUP = -100_777
ADMIN = 11
MEMBER = 22
OWNER = 99
REFUSED = "Only the chat's admins"


def user(user_id: int, name: str) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": name}


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(realtime, redis_url, admin_ids=str(OWNER)) as running:
        running.api.chat_admins[GROUP] = [
            {"status": "creator", "user": user(1, "Carol")},
            {"status": "administrator", "user": user(ADMIN, "Ann")},
        ]
        yield running


async def command(app: RunningBot, text: str, user_id: int, **kw: object) -> str:
    """Send ``text`` to the group from ``user_id``; the bot's reply (delivered ones only)."""
    before = len([c for c in app.api.calls_of("sendMessage") if c.ok])
    app.api.push_message(
        "text", chat_id=GROUP, user_id=user_id, text=text, chat_type="supergroup",
        chat_title="Team", **kw,
    )  # fmt: skip
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return calls[before].params["text"]


def member_update(app: RunningBot, user_id: int, old: str, new: str) -> None:
    """Telegram's chat_member update. Updates of one chat are handled in order, so a command
    pushed after it is handled after it."""
    app.api.push_chat_member(chat_id=GROUP, user_id=user_id, old_status=old, new_status=new)


async def test_chat_member_updates_change_rights_at_once(app: RunningBot) -> None:
    assert "every voice note" in await command(app, "/mode all", ADMIN)
    assert REFUSED in await command(app, "/mode all", MEMBER)
    lists_asked = len(app.api.calls_of("getChatAdministrators"))
    # the bot asks Telegram for chat_member updates (they are not sent unless asked)
    polls = app.api.calls_of("getUpdates")
    assert "chat_member" in polls[-1].params["allowed_updates"]

    # A promotion: the new admin may change settings now, not when the cache expires.
    member_update(app, MEMBER, "member", "administrator")
    assert "every voice note" in await command(app, "/mode all", MEMBER)
    assert len(app.api.calls_of("getChatAdministrators")) == lists_asked + 1

    # A demotion: the old admin's next change is refused at once, by the admin list asked
    # again (not only by the check with getChatMember that every change makes).
    members_asked = len(app.api.calls_of("getChatMember"))
    member_update(app, ADMIN, "administrator", "member")
    assert REFUSED in await command(app, "/mode replies", ADMIN)
    assert len(app.api.calls_of("getChatAdministrators")) == lists_asked + 2
    assert len(app.api.calls_of("getChatMember")) == members_asked
    assert "every voice note" in await command(app, "/settings", ADMIN)  # nothing changed
    assert await app.redis.exists(keys.chat_admins(GROUP))  # the new list, cached again


async def test_every_settings_change_asks_telegram_whether_the_sender_is_still_an_admin(
    app: RunningBot,
) -> None:
    assert "every voice note" in await command(app, "/mode all", ADMIN)
    assert "Choose a voice" in await command(app, "/voice", OWNER)
    picker = app.api.calls_of("sendMessage")[-1].result
    (asked,) = app.api.calls_of("getChatMember")
    assert asked.int_param("user_id") == ADMIN and asked.int_param("chat_id") == GROUP
    lists_asked = len(app.api.calls_of("getChatAdministrators"))

    # Demoted without a chat_member update reaching the bot (it is no admin of the group, or
    # the update was lost): the cached list still names ADMIN, Telegram no longer does.
    app.api.chat_admins[GROUP] = [{"status": "creator", "user": user(1, "Carol")}]
    assert REFUSED in await command(app, "/mode replies", ADMIN)
    assert app.api.calls_of("getChatMember")[-1].result["status"] == "member"
    assert "every voice note" in await command(app, "/settings", ADMIN)  # nothing changed
    # the voice keyboard's taps are settings changes too
    app.api.push_callback(
        chat_id=GROUP, user_id=ADMIN, data="voice:filipp", message=picker, chat_type="supergroup"
    )
    (tap,) = await app.api.wait_for("answerCallbackQuery", timeout=10)
    assert REFUSED in tap.params["text"]
    assert not app.api.calls_of("editMessageText")
    # the refusal dropped the stale list: the next admin check asks Telegram again
    assert REFUSED in await command(app, "/reset", ADMIN)
    assert len(app.api.calls_of("getChatAdministrators")) == lists_asked + 1

    # The owners and anonymous admins need no list and are not asked about.
    members_asked = len(app.api.calls_of("getChatMember"))
    assert "replies" in await command(app, "/mode replies", OWNER)
    anonymous = {"sender_chat": {"id": GROUP, "type": "supergroup", "title": "Team"}}
    assert "jane" in await command(app, "/voice jane", 1087968824, extra=anonymous)
    assert len(app.api.calls_of("getChatMember")) == members_asked
