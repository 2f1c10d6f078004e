"""The /settings menu: a button a setting with the chat's value, pressed to change it in place
(the message edited, the press answered), the tools and the instructions on keyboards of their
own, the voice on the voice picker; in groups only the chat's admins change anything, and a
button that is out of date (or forged) changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.chat_options import OPTIONS
from bot.i18n import LANGUAGES, Catalogue
from bot.storage import keys
from bot.telegram.handlers.settings import PREFIX, PRESETS, parse_press
from stand_ins.bot_api import Call
from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, running_bot

USER = 3003
GROUP = -100_888
ADMIN = 11
MEMBER = 22
REFUSED = "Only the chat's admins"
STALE = "out of date"


def user(user_id: int, name: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name}


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(realtime, redis_url) as running:
        running.api.chat_admins[GROUP] = [
            {"status": "creator", "user": user(1, "Carol")},
            {"status": "administrator", "user": user(ADMIN, "Ann")},
        ]
        yield running


def buttons(markup: dict[str, Any]) -> dict[str, str]:
    """The keyboard's buttons: text → callback data."""
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


def button(markup: dict[str, Any], starts: str) -> str:
    """The data of the one button whose text starts with ``starts``."""
    (data,) = [data for text, data in buttons(markup).items() if text.startswith(starts)]
    return data


async def settings(app: RunningBot, chat_id: int = USER, user_id: int = USER) -> dict[str, Any]:
    """Send /settings; the message the bot answered with (a full Message dict)."""
    before = len([c for c in app.api.calls_of("sendMessage") if c.ok])
    group = {"chat_type": "supergroup", "chat_title": "Team"} if chat_id == GROUP else {}
    app.api.push_message("text", chat_id=chat_id, user_id=user_id, text="/settings", **group)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return calls[before].result


async def press(
    app: RunningBot, data: str, message: dict[str, Any], user_id: int = USER
) -> tuple[Call, dict[str, Any] | None]:
    """Press the button ``data`` on ``message``: the press's answer, and the message as the bot
    edited it (None when it did not)."""
    chat_id = message["chat"]["id"]
    answers = len(app.api.calls_of("answerCallbackQuery"))
    edits = len([c for c in app.api.calls_of("editMessageText") if c.ok])
    app.api.push_callback(
        chat_id=chat_id, user_id=user_id, data=data, message=message,
        chat_type="private" if chat_id > 0 else "supergroup",
    )  # fmt: skip
    answer = (await app.api.wait_for("answerCallbackQuery", count=answers + 1, timeout=10))[-1]
    # The bot answers the press first and then edits the message, when it does.
    if REFUSED in answer.params.get("text", "") or STALE in answer.params.get("text", ""):
        return answer, None
    if answer.params.get("show_alert") in (True, "true"):
        return answer, None
    edited = await app.api.wait_for(
        "editMessageText", count=edits + 1, timeout=10, predicate=lambda c: c.ok
    )
    return answer, edited[-1].result


async def stored(app: RunningBot, chat_id: int = USER) -> dict[str, str]:
    return await app.redis.hgetall(keys.chat_settings(chat_id))  # type: ignore[no-any-return]


async def test_settings_shows_a_button_a_setting_and_a_switch_changes_in_place(
    app: RunningBot,
) -> None:
    shown = await settings(app)
    assert "Settings of this chat" in shown["text"] and "Voice: marina" in shown["text"]
    tools = len(app.services.tool_kit.available())
    menu = buttons(shown["reply_markup"])
    assert list(menu) == [
        "🗣 Voice: marina",  # no mode in a private chat
        "🐢 Speed: 1×",
        "🌐 I listen for: any language",
        "⚡ Live answers: on",
        f"🧰 Tools: {tools} of {tools} on",
        "🕒 Time zone: Europe/Moscow",
        "📝 Instructions: brief",
        "🧠 Memory: on",
        "📄 Show what I heard: off",
        "💬 Answers: voice and text",
    ]
    assert all(data.startswith(PREFIX) and len(data.encode()) <= 64 for data in menu.values())
    # The speed steps through its values in place.
    answer, now = await press(app, button(shown["reply_markup"], "🐢 Speed"), shown)
    assert answer.params["text"] == "🐢 Speed: 1.25×"
    assert (await stored(app))["speed"] == "1.25"
    assert now is not None and "Speed: 1.25×" in now["text"]
    shown = now

    answer, edited = await press(app, button(shown["reply_markup"], "🧠 Memory"), shown)
    assert answer.params["text"] == "🧠 Memory: off"
    assert (await stored(app))["memory"] == "off"
    assert edited is not None and edited["text"] == shown["text"]  # the same words
    assert "🧠 Memory: off" in buttons(edited["reply_markup"])
    # Pressed again, it goes back on; the command says the same.
    answer, edited = await press(app, button(edited["reply_markup"], "🧠 Memory"), edited)
    assert answer.params["text"] == "🧠 Memory: on" and (await stored(app))["memory"] == "on"
    answer, edited = await press(app, button(edited["reply_markup"], "⚡ Live"), edited)
    assert (await stored(app))["live"] == "off"
    assert edited is not None and "Live answers: off" in edited["text"]


async def test_the_tools_keyboard_switches_a_tool_and_goes_back(app: RunningBot) -> None:
    shown = await settings(app)
    answer, tools = await press(app, button(shown["reply_markup"], "🧰 Tools"), shown)
    assert tools is not None and "Tools in this chat" in tools["text"]
    assert "✅ date and time" in buttons(tools["reply_markup"])

    answer, tools = await press(app, buttons(tools["reply_markup"])["✅ date and time"], tools)
    assert answer.params["text"] == "The tool “date and time” is off now."
    assert (await stored(app))["tool:clock"] == "off"
    assert tools is not None and "⛔ date and time" in buttons(tools["reply_markup"])

    _, back = await press(app, button(tools["reply_markup"], "«"), tools)
    available = app.services.tool_kit.available()
    names = {"web_search": "web search", "notes": "notes", "reminders": "reminders"}
    on = ", ".join(names[name] for name in available if name != "clock")
    assert back is not None and f"Tools on: {on}" in back["text"]
    assert f"🧰 Tools: {len(available) - 1} of {len(available)} on" in buttons(back["reply_markup"])


async def test_a_preset_sets_the_instructions(app: RunningBot) -> None:
    catalogue = Catalogue()
    shown = await settings(app)
    _, presets = await press(app, button(shown["reply_markup"], "📝 Instructions"), shown)
    assert presets is not None and "Current instructions" in presets["text"]
    assert "✓ Brief (the default)" in buttons(presets["reply_markup"])

    answer, presets = await press(app, button(presets["reply_markup"], "Formal"), presets)
    assert answer.params["text"] == "Instructions updated."
    formal = catalogue.get("en", "instructions-preset-formal-text")
    assert (await stored(app))["instructions"] == formal
    assert presets is not None and "✓ Formal" in buttons(presets["reply_markup"])
    assert "📝 Instructions: formal" in buttons((await settings(app))["reply_markup"])
    # The model gets them: /instructions shows them.
    app.api.push_message("text", chat_id=USER, user_id=USER, text="/instructions")
    reply = await app.api.wait_for("sendMessage", predicate=lambda c: formal in c.params["text"])
    assert reply

    # Writing one's own is the command's; the default preset empties the chat's own.
    answer, _ = await press(app, button(presets["reply_markup"], "✏️"), presets)
    assert "/instructions" in answer.params["text"]
    await press(app, button(presets["reply_markup"], "Brief"), presets)
    assert (await stored(app))["instructions"] == ""
    assert "📝 Instructions: brief" in buttons((await settings(app))["reply_markup"])


async def test_the_voice_opens_the_voice_picker_and_the_time_zone_says_how(
    app: RunningBot,
) -> None:
    shown = await settings(app)
    _, picker = await press(app, button(shown["reply_markup"], "🗣 Voice"), shown)
    assert picker is not None and picker["text"].startswith("Choose a voice")
    voices = buttons(picker["reply_markup"])
    assert voices[next(t for t in voices if t.startswith("jane"))] == "voice:jane"
    # The voice router's tap sets it.
    app.api.push_callback(chat_id=USER, user_id=USER, data="voice:jane", message=picker)
    await app.api.wait_for("answerCallbackQuery", count=2, timeout=10)
    await app.api.wait_for("editMessageText", count=2, timeout=10)
    assert (await stored(app))["voice"] == "jane"
    _, back = await press(app, button(picker["reply_markup"], "«"), picker)
    assert back is not None and "🗣 Voice: jane" in buttons(back["reply_markup"])

    answer, edited = await press(app, button(shown["reply_markup"], "🕒"), shown)
    assert "/timezone" in answer.params["text"] and edited is None
    assert "timezone" not in await stored(app)


async def test_in_a_group_a_members_press_is_refused_and_an_admins_works(
    app: RunningBot,
) -> None:
    # Members see the admins' keyboard, the mode among it.
    shown = await settings(app, GROUP, MEMBER)
    mode = button(shown["reply_markup"], "👥 I answer: replies and mentions")
    assert mode == f"{PREFIX}mode:all"
    edits = len(app.api.calls_of("editMessageText"))
    for data in (mode, button(shown["reply_markup"], "🧠 Memory"), f"{PREFIX}tools"):
        answer, edited = await press(app, data, shown, user_id=MEMBER)
        assert REFUSED in answer.params["text"] and edited is None
    assert await stored(app, GROUP) == {}
    assert len(app.api.calls_of("editMessageText")) == edits

    answer, edited = await press(app, mode, shown, user_id=ADMIN)
    assert answer.params["text"] == "👥 I answer: every voice note"
    assert (await stored(app, GROUP))["mode"] == "all"
    assert edited is not None and "Mode: every voice note" in edited["text"]
    # Telegram was asked whether the admin still is one, as for a command.
    assert app.api.calls_of("getChatMember")[-1].int_param("user_id") == ADMIN


@pytest.mark.parametrize(
    "data",
    [
        "set:memory:maybe",  # not a value of the switch
        "set:memory",  # a switch has no view
        "set:bogus",
        "set:mode:all",  # no mode in a private chat
        "set:tools:teleport:on",
        "set:tools:clock",
        "set:instructions:pirate",
        "set:menu:more",
        "set:",
        "set:voice:jane:extra",
    ],
)
async def test_forged_or_stale_buttons_change_nothing(app: RunningBot, data: str) -> None:
    shown = await settings(app)
    answer, edited = await press(app, data, shown)
    assert STALE in answer.params["text"] and edited is None
    assert await stored(app) == {}
    assert not app.api.calls_of("editMessageText")


def test_every_menu_setting_has_its_words_and_compact_buttons() -> None:
    catalogue = Catalogue()
    for lang in LANGUAGES:
        keys_ = catalogue.keys(lang)
        for option in OPTIONS:
            if option.menu is not None:
                assert option.menu in keys_
        for preset in PRESETS:
            assert f"instructions-preset-{preset}-button" in keys_
    longest_tool = "x" * 30
    data = f"tools:{longest_tool}:off"
    assert len((PREFIX + data).encode()) <= 64
    assert parse_press(data, "private", [longest_tool]) is not None
    assert parse_press("mode:all", "supergroup", []) is not None
    assert parse_press("tools", "private", []) is None  # no tools: no button
