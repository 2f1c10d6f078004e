"""Chat settings through commands, in Redis, used by the next turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

USER = 2002


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(realtime, redis_url) as running:
        yield running


async def command(app: RunningBot, text: str, *, lang: str = "en", count: int = 1) -> str:
    # Delivered replies only: one refused by flood control is sent again.
    before = len([c for c in app.api.calls_of("sendMessage") if c.ok])
    app.api.push_message("text", chat_id=USER, user_id=USER, text=text, language_code=lang)
    calls = await app.api.wait_for(
        "sendMessage", count=before + count, timeout=10, predicate=lambda c: c.ok
    )
    return calls[before].params["text"]


async def test_voice_and_instructions_reach_the_model(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    assert "Voice set: jane" in await command(app, "/voice jane")
    assert "updated" in await command(app, "/instructions Speak like a pirate.")
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(), duration=3
    )
    await app.api.wait_for("sendVoice", timeout=15)
    session = app.realtime.sessions[-1].session
    assert session["audio"]["output"]["voice"] == "jane"
    # The chat's instructions first; what the tools need to know (the time, notes) after them.
    assert session["instructions"].split("\n\n")[0] == "Speak like a pirate."
    shown = await command(app, "/settings")
    assert "jane" in shown and "pirate" in shown
    assert "Speak like a pirate." in await command(app, "/instructions")


async def test_unknown_voice_lists_the_voices(app: RunningBot) -> None:
    text = await command(app, "/voice bogus")
    assert "bogus" in text and "marina" in text and "alena" in text
    assert "marina" in await command(app, "/settings")


async def test_voice_picker_keyboard_and_tap(app: RunningBot) -> None:
    app.api.push_message("text", chat_id=USER, user_id=USER, text="/voice")
    (call,) = await app.api.wait_for("sendMessage", timeout=10)
    buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    assert any(b["text"].startswith("✓ marina") for b in buttons)
    app.api.push_callback(chat_id=USER, user_id=USER, data="voice:ermil", message=call.result)
    await app.api.wait_for("editMessageText", timeout=10)
    assert "ermil" in await command(app, "/settings")


async def test_too_long_instructions_are_refused_with_the_limit(app: RunningBot) -> None:
    text = await command(app, "/instructions " + "x" * 3001)
    assert "3,001" in text and "3,000" in text  # Fluent formats numbers for the reader


async def asked(app: RunningBot, text: str) -> dict:
    """The bot's message (with its buttons) answering ``text``: the call, as sent."""
    before = len([c for c in app.api.calls_of("sendMessage") if c.ok])
    app.api.push_message("text", chat_id=USER, user_id=USER, text=text)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return calls[before]


async def pressed(app: RunningBot, call: dict, index: int) -> str:
    """Press the ``index``th button of ``call``'s message: the text it is edited to."""
    buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    edits = len(app.api.calls_of("editMessageText"))
    app.api.push_callback(
        chat_id=USER, user_id=USER, data=buttons[index]["callback_data"], message=call.result
    )
    calls = await app.api.wait_for("editMessageText", count=edits + 1, timeout=10)
    return calls[edits].params["text"]


async def test_reset_starts_a_new_conversation_and_the_defaults_are_asked_for(
    app: RunningBot,
) -> None:
    memory_key = f"vb:{{{USER}}}:memory"
    await command(app, "/voice jane")
    await app.redis.rpush(memory_key, '{"role": "user", "text": "remember me"}')
    assert "забыл наш разговор" in await command(app, "/reset", lang="ru")
    assert not await app.redis.exists(memory_key)
    assert "jane" in await command(app, "/settings")  # the settings stay
    question = await asked(app, "/reset settings")
    assert "back to its default" in question.params["text"]
    assert await pressed(app, question, 1) == "Nothing changed: the settings stay as they are."
    assert "jane" in await command(app, "/settings")
    question = await asked(app, "/reset settings")
    assert await pressed(app, question, 0) == "Settings are back to defaults."
    assert "marina" in await command(app, "/settings")


async def test_languages_and_a_short_help_with_more_behind_a_button(app: RunningBot) -> None:
    assert "voice assistant" in await command(app, "/start")
    assert "голосовой ассистент" in await command(app, "/start", lang="uk")
    shown = await asked(app, "/help")
    help_text = shown.params["text"]
    assert len(help_text.splitlines()) <= 9 and "/voice" not in help_text
    more = await pressed(app, shown, 0)
    assert more.startswith(help_text) and "/voice" in more and "/timezone" in more
    assert "/setprivacy" not in more  # a user's private chat: the owner's business


async def test_an_unknown_command_is_called_unknown(app: RunningBot) -> None:
    text = await command(app, "/cancel")
    assert text == "I don't know the command /cancel. /help tells what I can do."
    assert "Я не знаю команды /cancel" in await command(app, "/cancel", lang="ru")
