"""Groups: when the bot answers, who may change its settings, allowlists, membership."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain import TurnJob
from bot.storage import keys
from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, about, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

GROUP = -100_555
ADMIN = 11
MEMBER = 22
OWNER = 99
MENTION = [{"type": "mention", "offset": 0, "length": len("@test_voice_bot")}]


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(realtime, redis_url, admin_ids=str(OWNER)) as running:
        running.api.chat_admins[GROUP] = [
            {"status": "creator", "user": {"id": ADMIN, "is_bot": False, "first_name": "Ann"}}
        ]
        yield running


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


def group_voice(app: RunningBot, ogg: bytes, user: int = MEMBER, **kw: object) -> dict:
    return app.api.push_message(
        "voice", chat_id=GROUP, user_id=user, data=ogg, duration=3, chat_type="supergroup",
        chat_title="Team", **kw,
    )  # fmt: skip


def group_text(app: RunningBot, text: str, user: int = MEMBER, **kw: object) -> dict:
    return app.api.push_message(
        "text", chat_id=GROUP, user_id=user, text=text, chat_type="supergroup",
        chat_title="Team", **kw,
    )  # fmt: skip


async def group_command(app: RunningBot, text: str, user: int = MEMBER, **kw: object) -> str:
    # Delivered replies only: one refused by flood control is sent again.
    before = len([c for c in app.api.calls_of("sendMessage") if c.ok])
    group_text(app, text, user, **kw)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return calls[before].params["text"]


async def drain(app: RunningBot) -> dict:
    """Ask the bot something in the group and wait for its voice note. A turn wrongly queued
    for what was pushed before would be answered a moment later by the worker, after a polling
    round: but turns of one chat are answered one at a time, in order, so once this question is
    answered everything queued for the group before it was answered too. Returns the question."""
    question = group_text(app, "@test_voice_bot are you there?", entities=MENTION)
    await app.api.wait_for(
        "sendVoice", timeout=15, predicate=lambda c: c.ok and bool(about([c], question))
    )
    return question


def unanswered(app: RunningBot, *updates: dict) -> None:
    """No reply (voice, audio, text, a refusal) and no reaction went to any of ``updates``."""
    for update in updates:
        assert about(app.api.calls, update) == [], update["message"].get("text", "a voice note")


async def test_plain_voice_notes_are_ignored_in_replies_mode(app: RunningBot, ogg: bytes) -> None:
    ignored = [group_voice(app, ogg), group_text(app, "just chatting")]
    question = await drain(app)
    unanswered(app, *ignored)
    (answer,) = app.api.calls_of("sendVoice")
    assert about([answer], question)
    # the model heard only the question: one session, a text and no audio
    (session,) = app.realtime.sessions
    assert "input_audio_buffer.append" not in session.event_types


async def test_reply_to_the_bot_and_mention_are_answered(app: RunningBot, ogg: bytes) -> None:
    mention = [{"type": "mention", "offset": 0, "length": len("@test_voice_bot")}]
    group_text(app, "@test_voice_bot what is the capital of France?", entities=mention)
    (first,) = await app.api.wait_for("sendVoice", timeout=15)
    item = next(
        e for e in app.realtime.sessions[-1].client_events
        if e["type"] == "conversation.item.create"
    )  # fmt: skip
    assert item["item"]["content"][0]["text"] == "what is the capital of France?"
    group_voice(app, ogg, reply_to=first.result)
    await app.api.wait_for("sendVoice", count=2, timeout=15)
    group_text(app, "and Germany?", reply_to=first.result)
    await app.api.wait_for("sendVoice", count=3, timeout=15)


async def test_mode_all_answers_every_voice_note_and_only_admins_set_it(
    app: RunningBot, ogg: bytes
) -> None:
    assert "Only the chat's admins" in await group_command(app, "/mode all", user=MEMBER)
    assert "every voice note" in await group_command(app, "/mode all", user=ADMIN)
    voice = group_voice(app, ogg)
    (answer,) = await app.api.wait_for("sendVoice", timeout=15)
    assert about([answer], voice)
    text = group_text(app, "texts still need a mention")
    await drain(app)
    unanswered(app, text)
    assert len(app.api.calls_of("sendVoice")) == 2
    assert len(app.realtime.sessions) == 2


async def test_owner_and_anonymous_admin_may_configure(app: RunningBot) -> None:
    assert "jane" in await group_command(app, "/voice jane", user=OWNER)
    anonymous = {"sender_chat": {"id": GROUP, "type": "supergroup", "title": "Team"}}
    assert "ermil" in await group_command(app, "/voice ermil", user=1087968824, extra=anonymous)
    assert "Only the chat's admins" in await group_command(app, "/reset", user=MEMBER)
    assert "ermil" in await group_command(app, "/settings", user=MEMBER)


async def test_ask_answers_the_replied_voice_note(app: RunningBot, ogg: bytes) -> None:
    voice = group_voice(app, ogg, user=MEMBER)
    group_text(app, "/ask", user=ADMIN, reply_to=voice["message"])
    (call,) = await app.api.wait_for("sendVoice", timeout=15)
    assert call.params["reply_parameters"]["message_id"] == voice["message"]["message_id"]
    assert "Reply with /ask" in await group_command(app, "/ask")


async def test_voice_picker_taps_by_admin_and_member(app: RunningBot) -> None:
    group_text(app, "/voice", user=ADMIN)
    (picker,) = await app.api.wait_for("sendMessage", timeout=10)
    app.api.push_callback(
        chat_id=GROUP, user_id=MEMBER, data="voice:filipp", message=picker.result,
        chat_type="supergroup",
    )  # fmt: skip
    (refused,) = await app.api.wait_for("answerCallbackQuery", timeout=10)
    assert "Only the chat's admins" in refused.params["text"]
    assert not app.api.calls_of("editMessageText")
    app.api.push_callback(
        chat_id=GROUP, user_id=ADMIN, data="voice:filipp", message=picker.result,
        chat_type="supergroup", language_code="ru",
    )  # fmt: skip
    (edited,) = await app.api.wait_for("editMessageText", timeout=10)
    assert "filipp" in edited.params["text"]
    buttons = [b for row in edited.params["reply_markup"]["inline_keyboard"] for b in row]
    assert any(b["text"].startswith("✓ filipp") for b in buttons)


async def test_instructions_from_a_replied_message(app: RunningBot) -> None:
    source = group_text(app, "Always answer in rhymes.", user=MEMBER)
    assert "updated" in await group_command(
        app, "/instructions", user=ADMIN, reply_to=source["message"]
    )
    assert "rhymes" in await group_command(app, "/instructions", user=MEMBER)


async def test_bots_are_never_answered(app: RunningBot, ogg: bytes) -> None:
    await app.services.settings_store.set(GROUP, mode="all")
    text = group_text(app, "@test_voice_bot hello from a bot", user=555, entities=MENTION)
    voice = group_voice(app, ogg, user=556)
    for update in (text, voice):  # still queued, not yet fetched: the bot sees them so
        update["message"]["from"]["is_bot"] = True
    await drain(app)
    unanswered(app, text, voice)
    assert len(app.api.calls_of("sendVoice")) == 1
    assert len(app.realtime.sessions) == 1


async def test_supergroup_migration_keeps_settings_notes_and_reminders(app: RunningBot) -> None:
    old = -4242
    app.api.push_message("text", chat_id=old, user_id=OWNER, text="/voice lera",
                         chat_type="group", chat_title="Old")  # fmt: skip
    await app.api.wait_for("sendMessage", timeout=10)
    await app.services.notes.add(old, "The team meets on Fridays.")
    asking = TurnJob(chat_id=old, message_id=3, user_id=OWNER, chat_type="group", text="x")
    due = time.time() + 3600
    await app.services.reminders.add(asking, "book the room", due, now=time.time())
    migrated = app.api.push_message("text", chat_id=old, user_id=OWNER, text="x",
                                    chat_type="group", chat_title="Old")  # fmt: skip
    migrated["message"].pop("text")
    migrated["message"].pop("entities", None)
    migrated["message"]["migrate_to_chat_id"] = GROUP
    assert "lera" in await group_command(app, "/settings")
    assert [n.text for n in await app.services.notes.list(GROUP)] == ["The team meets on Fridays."]
    (moved,) = await app.services.reminders.list(GROUP)
    assert (moved.text, moved.due_at, moved.job.chat_id) == ("book the room", due, GROUP)
    assert await app.services.notes.list(old) == [] and await app.services.reminders.list(old) == []


async def test_group_messages_in_russian(app: RunningBot) -> None:
    text = await group_command(app, "/mode all", user=MEMBER, language_code="ru")
    assert "только администраторы" in text


async def test_allowlists_refuse_once_an_hour(realtime: RealtimeStandIn, redis_url: str) -> None:
    async with running_bot(realtime, redis_url, allowed_chat_ids="777") as app:
        app.api.push_message("text", chat_id=5, user_id=5, text="hello")
        app.api.push_message("text", chat_id=5, user_id=5, text="hello again")
        app.api.push_message("text", chat_id=777, user_id=6, text="/start")
        calls = await app.api.wait_for("sendMessage", count=2, timeout=10)
        texts = sorted(c.params["text"] for c in calls)
        assert any("private" in t for t in texts)
        assert any("voice assistant" in t for t in texts)
        refused = [c for c in app.api.calls_of("sendMessage") if int(c.params["chat_id"]) == 5]
        assert len(refused) == 1
        # Every update was handled once the batch is confirmed (by the next getUpdates): a turn
        # queued for chat 5 would be in its order gate by then, to be answered later.
        async with asyncio.timeout(5):
            while app.api.pending_updates:
                await asyncio.sleep(0.02)
        assert not await app.redis.exists(keys.chat_order(5))
        assert not app.realtime.sessions


async def test_allowed_user_may_use_it_anywhere(realtime: RealtimeStandIn, redis_url: str) -> None:
    async with running_bot(realtime, redis_url, allowed_user_ids="8") as app:
        app.api.push_message("text", chat_id=8, user_id=8, text="hi")
        await app.api.wait_for("sendVoice", timeout=15)


async def test_removed_from_a_group_is_recorded(app: RunningBot) -> None:
    app.api.push_update({
        "my_chat_member": {
            "chat": {"id": GROUP, "type": "supergroup", "title": "Team"},
            "from": {"id": ADMIN, "is_bot": False, "first_name": "Ann"},
            "date": 1700000000,
            "old_chat_member": {"status": "member", "user": {"id": 123456, "is_bot": True,
                                                             "first_name": "Bot"}},
            "new_chat_member": {"status": "kicked", "until_date": 0,
                                "user": {"id": 123456, "is_bot": True, "first_name": "Bot"}},
        }
    })  # fmt: skip
    for _ in range(100):
        if await app.redis.exists(f"vb:{{{GROUP}}}:blocked"):
            break
        await asyncio.sleep(0.05)
    assert await app.redis.exists(f"vb:{{{GROUP}}}:blocked")


async def test_a_members_settings_commands_change_nothing(app: RunningBot) -> None:
    memory_key = f"vb:{{{GROUP}}}:memory"
    await app.redis.rpush(memory_key, '{"role": "user", "text": "remember me"}')
    for command in ("/memory off", "/transcript on", "/forget", "/instructions Be rude.",
                    "/voice alena"):  # fmt: skip
        assert "Only the chat's admins" in await group_command(app, command, user=MEMBER)
    assert await app.redis.lrange(memory_key, 0, -1) == ['{"role": "user", "text": "remember me"}']
    assert not await app.redis.exists(f"vb:{{{GROUP}}}:settings")
    # and a member may still read what is set
    assert "memory is on" in await group_command(app, "/memory", user=MEMBER)
    assert "Current instructions" in await group_command(app, "/instructions", user=MEMBER)


ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group",
                   "username": "GroupAnonymousBot"}  # fmt: skip


def as_sender(update: dict, user: dict, sender_chat: dict) -> dict:
    update["message"]["from"] = user
    update["message"]["sender_chat"] = sender_chat
    return update


async def test_an_anonymous_admin_is_answered_and_may_configure(
    app: RunningBot, ogg: bytes
) -> None:
    group = {"id": GROUP, "type": "supergroup", "title": "Team"}
    mention = [{"type": "mention", "offset": 0, "length": len("@test_voice_bot")}]
    as_sender(group_text(app, "@test_voice_bot hello?", entities=mention), ANONYMOUS_ADMIN, group)
    await app.api.wait_for("sendVoice", timeout=15)
    as_sender(group_text(app, "/mode all"), ANONYMOUS_ADMIN, group)
    await app.api.wait_for("sendMessage", timeout=10)
    assert (await app.redis.hgetall(f"vb:{{{GROUP}}}:settings"))["mode"] == "all"


async def test_a_linked_channels_posts_are_not_answered(app: RunningBot, ogg: bytes) -> None:
    await app.services.settings_store.set(GROUP, mode="all")
    channel = {"id": -100_777, "title": "News"}
    posts = [
        app.api.push_message(
            "voice", chat_id=GROUP, data=ogg, duration=3, chat_type="supergroup",
            chat_title="Team", channel=channel, automatic_forward=True,
        ),
        app.api.push_message(
            "text", chat_id=GROUP, text="@test_voice_bot read this post", entities=MENTION,
            chat_type="supergroup", chat_title="Team", channel=channel, automatic_forward=True,
        ),
    ]  # fmt: skip
    await drain(app)
    unanswered(app, *posts)
    assert len(app.api.calls_of("sendVoice")) == 1
    assert len(app.realtime.sessions) == 1


async def test_a_migration_is_handled_before_the_new_chats_messages_of_its_batch(
    app: RunningBot, ogg: bytes
) -> None:
    old = -4343
    app.api.push_message("text", chat_id=old, user_id=OWNER, text="/mode all",
                         chat_type="group", chat_title="Old")  # fmt: skip
    await app.api.wait_for("sendMessage", timeout=10)
    # In one batch: a voice note in the new supergroup, then the old group's migration.
    group_voice(app, ogg)
    migrated = app.api.push_message("text", chat_id=old, user_id=OWNER, text="x",
                                    chat_type="group", chat_title="Old")  # fmt: skip
    migrated["message"].pop("text")
    migrated["message"].pop("entities", None)
    migrated["message"]["migrate_to_chat_id"] = GROUP
    await app.api.wait_for("sendVoice", timeout=15)  # answered: the new chat is in mode all


def added_to_group(app: RunningBot, language_code: str) -> None:
    bot = {"id": 123456, "is_bot": True, "first_name": "Bot"}
    app.api.push_update({
        "my_chat_member": {
            "chat": {"id": GROUP, "type": "supergroup", "title": "Team"},
            "from": {"id": ADMIN, "is_bot": False, "first_name": "Ann",
                     "language_code": language_code},
            "date": 1700000000,
            "old_chat_member": {"status": "left", "user": bot},
            "new_chat_member": {"status": "member", "user": bot},
        }
    })  # fmt: skip


async def test_added_to_a_group_it_greets_in_the_adders_language(app: RunningBot) -> None:
    added_to_group(app, "ru")
    (greeting,) = await app.api.wait_for("sendMessage", timeout=10)
    text = greeting.params["text"]
    assert greeting.int_param("chat_id") == GROUP and text.startswith("Привет!")
    assert "/mode all" in text and "/settings" in text and "/help" in text
    added_to_group(app, "en")
    calls = await app.api.wait_for("sendMessage", count=2, timeout=10)
    assert "Three things to know" in calls[1].params["text"]


async def test_start_and_help_in_a_group_say_how_to_ask_here(app: RunningBot) -> None:
    start = await group_command(app, "/start")
    assert "reply to my messages" in start and "/mode all" in start
    assert "Send me a voice note" not in start  # plain voice notes are ignored by default
    group_text(app, "/help")
    (shown,) = await app.api.wait_for("sendMessage", timeout=10)
    assert "mention me" in shown.params["text"]
    app.api.push_callback(
        chat_id=GROUP, user_id=MEMBER, data="help:more", message=shown.result,
        chat_type="supergroup",
    )  # fmt: skip
    (more,) = await app.api.wait_for("editMessageText", timeout=10)
    assert "/voice" in more.params["text"] and "/setprivacy" in more.params["text"]


async def test_only_admins_may_confirm_the_settings_reset(app: RunningBot) -> None:
    assert "jane" in await group_command(app, "/voice jane", user=ADMIN)
    assert "Only the chat's admins" in await group_command(app, "/reset settings", user=MEMBER)
    group_text(app, "/reset settings", user=ADMIN)
    calls = await app.api.wait_for("sendMessage", count=3, timeout=10)
    question = calls[2]
    app.api.push_callback(
        chat_id=GROUP, user_id=MEMBER, data="reset:settings", message=question.result,
        chat_type="supergroup",
    )  # fmt: skip
    (refused,) = await app.api.wait_for("answerCallbackQuery", timeout=10)
    assert "Only the chat's admins" in refused.params["text"]
    assert "jane" in await group_command(app, "/settings", user=MEMBER)
