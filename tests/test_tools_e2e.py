"""Tools end to end: the stand-in model scripted to call each tool, through the real bot
(dispatcher, queue, worker, pipeline), a real Redis and ffmpeg."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.domain import TurnJob, TurnUsage
from bot.storage.reminders import ReminderStore
from stand_ins.bot_api import BotAPIStandIn
from stand_ins.realtime import RealtimeStandIn, Scenario, ScriptedCall
from stand_ins.search import SearxStandIn
from tests.audio_props import decode, dominant_hz, probe
from tests.bot_harness import RunningBot, running_bot
from tests.test_e2e_durability import env_for, response_requested, spawn
from tests.test_e2e_process import stop_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

USER = 5151


@pytest.fixture
def ogg(audio_files: dict[str, Path]) -> bytes:
    return audio_files["voice.ogg"].read_bytes()


def declared(app: RunningBot, session: int = -1) -> list[str]:
    return [tool["name"] for tool in app.realtime.sessions[session].session.get("tools", [])]


async def voice_turn(app: RunningBot, ogg: bytes, count: int, chat: int = USER) -> dict:
    update = app.api.push_message("voice", chat_id=chat, user_id=chat, data=ogg, duration=3)
    await app.api.wait_for("sendVoice", count=count, timeout=30)
    return update


async def test_a_reminder_set_by_voice_is_spoken_when_due_replying_to_the_asking_message(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(
        reply_text="I will remind you.",
        reply_seconds=1.0,
        tool_preamble="One moment.",
        tool_preamble_seconds=0.5,
        tool_script=[[ScriptedCall("set_reminder", {"text": "call mum", "in_minutes": 0.1})]],
        realtime_factor=1.0,  # spoken at real time: the live draft has time to show it
    )
    async with running_bot(realtime, redis_url, reminder_poll=0.2) as app:
        update = await voice_turn(app, ogg, 1)
        asked = update["message"]["message_id"]
        answer = app.api.calls_of("sendVoice")[0]
        # The tool ran once, its output went back to the model, which answered.
        (output,) = realtime.sessions[0].tool_outputs
        assert output["name"] == "set_reminder" and "error" not in json.loads(output["output"])
        types = realtime.sessions[0].event_types
        assert types.count("response.create") == 2
        # The voice note holds both responses: the preamble and the answer.
        assert abs(probe(answer.files["voice"]).duration - 1.5) < 0.1
        caption = answer.params["caption"]
        assert caption.startswith("One moment. I will remind you.")
        assert "⏰" in caption and "call mum" in caption
        # The live draft showed what the tool did as the answer went on.
        drafts = [c.params.get("text", "") for c in app.api.calls_of("sendMessageDraft")]
        assert any("⏰" in text and "call mum" in text for text in drafts)
        (waiting,) = await app.services.reminders.list(USER)
        assert waiting.text == "call mum" and 0 < waiting.due_at - time.time() < 6.0

        # Due in 6 s: a turn of its own, spoken in the chat's voice, replying to the asking note.
        (_, reminder) = await app.api.wait_for("sendVoice", count=2, timeout=15)
        assert reminder.params["reply_parameters"]["message_id"] == asked
        assert reminder.params["caption"].startswith("⏰ call mum")
        assert abs(dominant_hz(decode(reminder.files["voice"]), 48_000) - 880) < 2
        spoken = realtime.sessions[-1]
        texts = [
            e["item"]["content"][0]["text"]
            for e in spoken.client_events
            if e["type"] == "conversation.item.create" and e["item"]["type"] == "message"
        ]
        assert len(texts) == 1 and "call mum" in texts[0]
        assert "tools" not in spoken.session or not spoken.session["tools"]
        assert await app.services.reminders.list(USER) == []
        await asyncio.sleep(1.0)
        assert len(app.api.calls_of("sendVoice")) == 2  # once


async def test_notes_are_kept_and_given_to_the_model_at_the_next_turn(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(
        reply_text="Noted.",
        tool_script=[[ScriptedCall("remember_note", {"text": "My daughter is called Ada."})]],
    )
    async with running_bot(realtime, redis_url) as app:
        await voice_turn(app, ogg, 1)
        assert "📝" in app.api.calls_of("sendVoice")[0].params["caption"]
        (note,) = await app.services.notes.list(USER)
        assert note.text == "My daughter is called Ada."
        realtime.scenario = Scenario(reply_text="Her name is Ada.")
        await voice_turn(app, ogg, 2)
        # Quoted in a user item, never in the instructions (any member may write a note).
        assert any("My daughter is called Ada." in text for text in user_texts(realtime))
        assert "Ada" not in realtime.sessions[-1].session["instructions"]
        # Another chat knows nothing of it.
        await voice_turn(app, ogg, 3, chat=USER + 1)
        assert not any("Ada" in text for text in user_texts(realtime))


def user_texts(realtime: RealtimeStandIn) -> list[str]:
    """The texts of the user items the bot gave the model in the last session."""
    return [
        part["text"]
        for event in realtime.sessions[-1].client_events
        if event["type"] == "conversation.item.create" and event["item"].get("role") == "user"
        for part in event["item"]["content"]
        if part["type"] == "input_text"
    ]


async def test_date_and_time_are_told_in_the_chats_time_zone(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(tool_script=[[ScriptedCall("get_current_time", {})]])
    async with running_bot(realtime, redis_url, default_timezone="Europe/Moscow") as app:
        await app.services.settings_store.set(USER, timezone="Asia/Tokyo")
        await voice_turn(app, ogg, 1)
        output = json.loads(realtime.sessions[0].tool_outputs[0]["output"])
        assert output["timezone"] == "Asia/Tokyo" and output["now"].endswith("+09:00")
        await voice_turn(app, ogg, 2, chat=USER + 1)
        output = json.loads(realtime.sessions[1].tool_outputs[0]["output"])
        assert output["timezone"] == "Europe/Moscow" and output["now"].endswith("+03:00")


@pytest.mark.realtime_profile("openai")
async def test_web_search_through_the_back_end_lists_its_sources(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(
        reply_text="It is cold in Kazan.",
        tool_script=[[ScriptedCall("web_search", {"query": "weather in Kazan"})]],
    )
    results = [("Kazan weather", "https://weather.example/kazan", "-5 °C, snow")]
    async with (
        SearxStandIn(results=results) as searx,
        running_bot(realtime, redis_url, search_url=searx.url) as app,
    ):
        await voice_turn(app, ogg, 1)
        assert [q["q"] for q in searx.queries] == ["weather in Kazan"]
        output = json.loads(realtime.sessions[0].tool_outputs[0]["output"])
        assert "https://weather.example/kazan" in json.dumps(output)
        caption = app.api.calls_of("sendVoice")[0].params["caption"]
        assert "It is cold in Kazan." in caption
        assert "https://weather.example/kazan" in caption and "Kazan weather" in caption


@pytest.mark.realtime_profile("openai")
async def test_without_a_search_back_end_openai_gets_no_web_search(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url) as app:
        await voice_turn(app, ogg, 1)
        names = declared(app)
        assert "web_search" not in names and "set_reminder" in names


async def test_yandex_runs_web_search_itself(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(
        reply_text="The news today is calm.",
        tool_script=[[ScriptedCall("web_search", {"query": "news"})]],
    )
    async with running_bot(realtime, redis_url) as app:
        await voice_turn(app, ogg, 1)
        session = realtime.sessions[0]
        (search,) = [t for t in session.session["tools"] if t["name"] == "web_search"]
        assert search["parameters"] == "{}"
        if realtime.profile.web_search_events == "none":
            assert session.server_searches and session.tool_outputs == []
        else:  # the live service may leave the call to the client: answered all the same
            assert [out["name"] for out in session.tool_outputs] == ["web_search"]
        assert "calm" in app.api.calls_of("sendVoice")[0].params["caption"]


@pytest.mark.realtime_profile("openai")
async def test_a_tool_that_hangs_is_cut_off_and_the_model_tells_the_user(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(
        reply_text="Search is slow right now, sorry.",
        tool_script=[[ScriptedCall("web_search", {"query": "anything"})]],
    )
    async with (
        SearxStandIn(failure="hang") as searx,
        running_bot(realtime, redis_url, search_url=searx.url, tool_timeout=1.0) as app,
    ):
        started = time.monotonic()
        await voice_turn(app, ogg, 1)
        assert time.monotonic() - started < 8
        output = json.loads(realtime.sessions[0].tool_outputs[0]["output"])
        assert "in time" in output["error"]
        assert "slow right now" in app.api.calls_of("sendVoice")[0].params["caption"]
        assert len(realtime.sessions) == 1  # not asked again


async def test_tools_a_chat_or_the_deployment_switched_off_are_not_offered(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    async with running_bot(realtime, redis_url, tools_disabled=frozenset({"web_search"})) as app:
        await app.services.settings_store.set(USER, **{"tool:reminders": "off"})
        await voice_turn(app, ogg, 1)
        names = declared(app)
        assert "web_search" not in names and "set_reminder" not in names
        assert "remember_note" in names and "get_current_time" in names
        # The model calling a tool it was not given: the stand-in, like the real model, does not.
        realtime.scenario = Scenario(tool_script=[[ScriptedCall("set_reminder", {"text": "x"})]])
        await voice_turn(app, ogg, 2)
        assert realtime.sessions[-1].script_skipped == ["set_reminder"]
        assert await app.services.reminders.list(USER) == []


def asking(chat: int, message_id: int) -> TurnJob:
    return TurnJob(chat_id=chat, message_id=message_id, user_id=chat, text="remind me")


async def test_a_reminder_due_while_no_worker_runs_is_delivered_once_after_the_restart(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    realtime.scenario = Scenario(reply_text="Time to call mum!")
    async with running_bot(realtime, redis_url, reminder_poll=0.2) as app:
        await app.services.reminders.add(asking(USER, 7), "call mum", time.time() + 1.5,
                                         now=time.time())  # fmt: skip
    # The worker is gone when it comes due.
    await asyncio.sleep(2.0)
    async with running_bot(realtime, redis_url, reminder_poll=0.2) as app:
        (call,) = await app.api.wait_for("sendVoice", timeout=15)
        assert call.params["reply_parameters"]["message_id"] == 7
        assert call.params["caption"].startswith("⏰ call mum")
        await asyncio.sleep(1.0)
        assert len(app.api.calls_of("sendVoice")) == 1


async def test_two_workers_deliver_each_reminder_once(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    realtime.scenario = Scenario(reply_text="Reminder!", reply_seconds=0.3)
    chats = [USER + n for n in range(6)]
    async with (
        running_bot(realtime, redis_url, reminder_poll=0.05, worker_name="w1") as one,
        running_bot(realtime, redis_url, reminder_poll=0.05, worker_name="w2") as two,
    ):
        due = time.time() + 1.0
        for n, chat in enumerate(chats):
            await one.services.reminders.add(asking(chat, 100 + n), f"task {n}", due,
                                                 now=time.time())  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sent = one.api.calls_of("sendVoice") + two.api.calls_of("sendVoice")
            if len(sent) >= len(chats):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        sent = one.api.calls_of("sendVoice") + two.api.calls_of("sendVoice")
        assert sorted(int(c.params["chat_id"]) for c in sent) == chats


@pytest.mark.realtime_profile("openai")
async def test_stop_while_a_tool_runs_ends_the_turn_at_once(
    realtime: RealtimeStandIn, redis_url: str, ogg: bytes
) -> None:
    realtime.scenario = Scenario(
        tool_preamble="Let me look that up.",
        tool_script=[[ScriptedCall("web_search", {"query": "anything"})]],
    )
    async with (
        SearxStandIn(failure="hang") as searx,
        running_bot(realtime, redis_url, search_url=searx.url, tool_timeout=30.0) as app,
    ):
        app.api.push_message("voice", chat_id=USER, user_id=USER, data=ogg, duration=3)
        async with asyncio.timeout(20):
            while not searx.queries:  # the search hangs: the turn waits for its tool
                await asyncio.sleep(0.02)
        draft = app.api.calls_of("sendMessageDraft")[0]
        stopped_at = time.monotonic()
        app.api.push_stop(USER, draft.int_param("draft_id"))
        (kept,) = await app.api.wait_for("sendMessage", timeout=10)
        assert time.monotonic() - stopped_at < 3
        assert kept.params["text"].strip() == "Let me look that up. (stopped)"
        await asyncio.sleep(1.0)
        assert not app.api.calls_of("sendVoice")
        session = realtime.sessions[0]
        # Nothing more was asked of the model: no output, no second response.
        assert session.tool_outputs == [] and session.event_types.count("response.create") == 1


async def test_a_worker_killed_while_speaking_a_reminder_is_replaced_and_it_is_said_once(
    realtime: RealtimeStandIn, redis_url: str, tmp_path: Path
) -> None:
    async with BotAPIStandIn() as api:
        redis = Redis.from_url(redis_url, decode_responses=True)
        store = ReminderStore(redis)
        await store.add(asking(USER, 9), "water the plants", time.time() + 0.5, now=time.time())
        env = env_for(realtime, api, redis_url, WORKER_NAME="solo", REMINDER_POLL="0.2")
        realtime.scenario = Scenario(time_to_first_audio=60)  # the model "holds" the reminder
        bot = await spawn(env, tmp_path)
        try:
            await response_requested(realtime)
        finally:
            bot.kill()
            await bot.wait()
        assert await store.list(USER) == []  # it was taken off the schedule when it came due
        realtime.scenario = Scenario(reply_text="Time to water the plants.")
        bot = await spawn(env, tmp_path)
        try:
            (call,) = await api.wait_for("sendVoice", timeout=30)
            await asyncio.sleep(1.5)  # room for a second one, which must not come
        finally:
            await stop_bot(bot)
            await redis.aclose()
        assert len(api.calls_of("sendVoice")) == 1
        assert call.params["reply_parameters"]["message_id"] == 9
        assert call.params["caption"] == "⏰ water the plants\n\nTime to water the plants."


async def test_a_reminder_due_over_the_budget_is_written_not_spoken(
    realtime: RealtimeStandIn, redis_url: str
) -> None:
    async with running_bot(realtime, redis_url, reminder_poll=0.2, user_daily_seconds=30.0) as app:
        await app.services.ledger.record(USER, USER, TurnUsage(20.0, 15.0))  # 35 s used today
        await app.services.reminders.add(asking(USER, 12), "call mum", time.time() + 0.5,
                                         now=time.time())  # fmt: skip
        (call,) = await app.api.wait_for("sendMessage", timeout=15)
        assert call.params["text"] == "⏰ call mum"
        assert call.params["reply_parameters"]["message_id"] == 12
        await asyncio.sleep(0.5)
        assert not realtime.sessions and not app.api.calls_of("sendVoice")
