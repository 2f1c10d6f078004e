"""The Bot API stand-in, driven by a real aiogram Bot and Dispatcher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)

from stand_ins.bot_api import BotAPIStandIn, Call

CHAT = 4242
USER = 4242
OGG = b"OggS" + bytes(range(256)) * 8


def make_bot(stand_in: BotAPIStandIn, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(stand_in.url))
    return Bot(token or stand_in.token, session=session)


@pytest.fixture
async def stand_in() -> AsyncIterator[BotAPIStandIn]:
    async with BotAPIStandIn() as server:
        yield server


@pytest.fixture
async def bot(stand_in: BotAPIStandIn) -> AsyncIterator[Bot]:
    client = make_bot(stand_in)
    try:
        yield client
    finally:
        await client.session.close()


async def test_get_me(stand_in: BotAPIStandIn, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == stand_in.bot_id == bot.id
    assert me.is_bot and me.username == "test_voice_bot"
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert stand_in.calls_of("getMe")[0].ok


async def test_get_updates_delivers_voice_and_confirms_by_offset(
    stand_in: BotAPIStandIn, bot: Bot
) -> None:
    pushed = stand_in.push_voice(chat_id=CHAT, user_id=USER, data=OGG, duration=3, username="ann")
    assert stand_in.pending_updates == 1

    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    message = updates[0].message
    assert message is not None and message.voice is not None
    assert message.voice.duration == 3 and message.voice.file_size == len(OGG)
    assert message.voice.mime_type == "audio/ogg"
    assert message.from_user is not None and message.from_user.username == "ann"
    assert message.chat.type == "private" and message.chat.id == CHAT
    assert stand_in.pending_updates == 1  # not confirmed yet

    assert await bot.get_updates(offset=pushed["update_id"] + 1, timeout=0) == []
    assert stand_in.pending_updates == 0


async def test_get_updates_long_polls(stand_in: BotAPIStandIn, bot: Bot) -> None:
    started = time.perf_counter()
    assert await bot.get_updates(timeout=1) == []
    assert time.perf_counter() - started >= 0.9

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.perf_counter()
    stand_in.push_text(chat_id=CHAT, user_id=USER, text="/start now")
    updates = await asyncio.wait_for(poll, 5)
    assert time.perf_counter() - started < 2
    message = updates[0].message
    assert message is not None and message.entities is not None
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6


async def test_allowed_updates_drops_other_kinds(stand_in: BotAPIStandIn, bot: Bot) -> None:
    text = stand_in.push_text(chat_id=CHAT, user_id=USER, text="hi")
    stand_in.push_callback(chat_id=CHAT, user_id=USER, data="x", message=text["message"])
    updates = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert len(updates) == 1 and updates[0].callback_query is not None
    assert updates[0].callback_query.data == "x"


async def test_get_file_and_download(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_voice(chat_id=CHAT, user_id=USER, data=OGG, duration=1)
    file_id = pushed["message"]["voice"]["file_id"]

    file = await bot.get_file(file_id)
    assert file.file_path is not None and file.file_path.startswith("voice/")
    assert file.file_size == len(OGG)
    downloaded = await bot.download(file)
    assert downloaded is not None and downloaded.read() == OGG
    assert stand_in.downloads[-1].params["file_path"] == file.file_path

    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_get_file_refuses_files_over_20_mb(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_voice(
        chat_id=CHAT, user_id=USER, data=OGG, duration=1, file_size=21 * 1024 * 1024
    )
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(pushed["message"]["voice"]["file_id"])


async def test_send_voice_with_reply(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_voice(chat_id=CHAT, user_id=USER, data=OGG, duration=2)
    user_message_id = pushed["message"]["message_id"]
    answer = b"OggS" + b"\x01" * 70_000

    sent = await bot.send_voice(
        CHAT,
        BufferedInputFile(answer, filename="answer.ogg"),
        caption="<b>Reply</b>",
        parse_mode="HTML",
        reply_parameters=ReplyParameters(message_id=user_message_id),
    )
    assert isinstance(sent, Message)
    assert sent.message_id == user_message_id + 1
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == user_message_id
    assert sent.reply_to_message.voice is not None
    assert sent.from_user is not None and sent.from_user.id == stand_in.bot_id
    assert sent.voice is not None and sent.voice.file_size == len(answer)
    assert sent.caption == "Reply" and sent.caption_entities is not None
    assert sent.caption_entities[0].type == "bold"

    (call,) = stand_in.calls_of("sendVoice")
    assert call.files["voice"] == answer and call.filenames["voice"] == "answer.ogg"
    assert call.params["reply_parameters"] == {"message_id": user_message_id}
    assert call.params["chat_id"] == str(CHAT)
    assert call.t <= call.t_done
    assert call.result["voice"]["file_id"] == sent.voice.file_id

    downloaded = await bot.download(sent.voice.file_id)
    assert downloaded is not None and downloaded.read() == answer

    again = await bot.send_voice(CHAT, sent.voice.file_id, reply_to_message_id=user_message_id)
    assert again.voice is not None and again.voice.file_id == sent.voice.file_id
    assert again.reply_to_message is not None


def ogg_opus(seconds: int) -> bytes:
    """A minimal Ogg/Opus byte layout: an OpusHead page and a last page carrying the length."""
    pre_skip = 312
    head = (
        b"OggS\x00\x02"
        + bytes(8)
        + bytes(13)
        + b"OpusHead\x01\x01"
        + pre_skip.to_bytes(2, "little")
    )
    granule = (seconds * 48000 + pre_skip).to_bytes(8, "little")
    return head + b"\x00" * 100 + b"OggS\x00\x04" + granule + bytes(13)


async def test_sent_voice_duration_comes_from_the_ogg_stream(
    stand_in: BotAPIStandIn, bot: Bot
) -> None:
    sent = await bot.send_voice(CHAT, BufferedInputFile(ogg_opus(5), "v.ogg"))
    assert sent.voice is not None and sent.voice.duration == 5
    told = await bot.send_voice(CHAT, BufferedInputFile(ogg_opus(5), "v.ogg"), duration=7)
    assert told.voice is not None and told.voice.duration == 7


async def test_callback_query_on_a_sent_message(stand_in: BotAPIStandIn, bot: Bot) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Retry", callback_data="retry:1")]]
    )
    await bot.send_message(CHAT, "Failed", reply_markup=markup)
    (sent,) = stand_in.calls_of("sendMessage")
    stand_in.push_callback(chat_id=CHAT, user_id=USER, data="retry:1", message=sent.result)

    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.data == "retry:1"
    assert query.from_user.id == USER
    assert isinstance(query.message, Message) and query.message.text == "Failed"
    assert await query.answer("ok").as_(bot)
    edited = await bot.edit_message_text(
        "Retrying", chat_id=CHAT, message_id=query.message.message_id
    )
    assert isinstance(edited, Message) and edited.edit_date is not None


async def test_send_audio_and_document(stand_in: BotAPIStandIn, bot: Bot) -> None:
    audio = await bot.send_audio(CHAT, BufferedInputFile(b"ID3abc", "song.mp3"), title="Song")
    assert audio.audio is not None and audio.audio.title == "Song"
    assert audio.audio.mime_type == "audio/mpeg"
    doc = await bot.send_document(CHAT, BufferedInputFile(b"hello", "notes.txt"))
    assert doc.document is not None and doc.document.file_name == "notes.txt"
    assert doc.document.mime_type == "text/plain"
    assert stand_in.calls_of("sendDocument")[0].files["document"] == b"hello"
    with pytest.raises(TelegramBadRequest, match="file must be non-empty"):
        await bot.send_document(CHAT, BufferedInputFile(b"", "empty.txt"))


async def test_send_message_and_edits(stand_in: BotAPIStandIn, bot: Bot) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Again", callback_data="again")]]
    )
    first = await bot.send_message(CHAT, "Hello <i>there</i> &amp; bye", parse_mode="HTML")
    second = await bot.send_message(CHAT, "Pick", reply_markup=markup)
    assert first.text == "Hello there & bye"
    assert first.entities is not None and first.entities[0].type == "italic"
    assert (first.entities[0].offset, first.entities[0].length) == (6, 5)
    assert second.message_id == first.message_id + 1
    assert second.reply_markup is not None
    assert second.reply_markup.model_dump() == markup.model_dump()
    assert stand_in.calls_of("sendMessage")[1].params["reply_markup"]["inline_keyboard"]

    edited = await bot.edit_message_text("Picked", chat_id=CHAT, message_id=second.message_id)
    assert isinstance(edited, Message) and edited.text == "Picked"
    assert edited.reply_markup is not None  # kept: reply_markup was not sent
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Picked", chat_id=CHAT, message_id=second.message_id)
    cleared = await bot.edit_message_reply_markup(chat_id=CHAT, message_id=second.message_id)
    assert isinstance(cleared, Message) and cleared.reply_markup is None

    assert await bot.delete_message(CHAT, first.message_id) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(CHAT, first.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)


async def test_parse_mode_and_length_errors(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br"'):
        await bot.send_message(CHAT, "a<br>b", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag ""'):
        await bot.send_message(CHAT, "1 < 2", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Can't find end tag"):
        await bot.send_message(CHAT, "<b>bold", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(CHAT, "Done.", parse_mode="MarkdownV2")
    ok = await bot.send_message(CHAT, "*Done*\\. `a.b`", parse_mode="MarkdownV2")
    assert ok.text == "Done. a.b"
    assert ok.entities is not None and [e.type for e in ok.entities] == ["bold", "code"]
    rich = await bot.send_message(CHAT, "||s|| __u__\n```py\nx = 1\n```", parse_mode="MarkdownV2")
    assert rich.text == "s u\nx = 1"
    assert rich.entities is not None
    assert [(e.type, e.language) for e in rich.entities] == [
        ("spoiler", None),
        ("underline", None),
        ("pre", "py"),
    ]
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(CHAT, "   ")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            CHAT,
            "x",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="b", callback_data="d" * 65)]]
            ),
        )


async def test_fail_next(stand_in: BotAPIStandIn, bot: Bot) -> None:
    stand_in.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 3", retry_after=3
    )
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(CHAT, "one")
    assert retry.value.retry_after == 3
    assert (await bot.send_message(CHAT, "two")).text == "two"

    stand_in.fail_next(
        "sendVoice", error_code=403, description="Forbidden: bot was blocked by the user", times=2
    )
    for _ in range(2):
        with pytest.raises(TelegramForbiddenError, match="blocked"):
            await bot.send_voice(CHAT, BufferedInputFile(OGG, "a.ogg"))
    await bot.send_voice(CHAT, BufferedInputFile(OGG, "a.ogg"))
    statuses = [call.status for call in stand_in.calls_of("sendVoice")]
    assert statuses == [403, 403, 200]
    assert stand_in.calls_of("sendVoice")[0].files["voice"] == OGG


async def test_chat_members_and_administrators(stand_in: BotAPIStandIn, bot: Bot) -> None:
    group = -1001234567890
    owner = {"id": 1, "is_bot": False, "first_name": "Owner"}
    stand_in.chat_admins[group] = [
        {"status": "creator", "user": owner},
        {"status": "administrator", "user": {"id": 2, "is_bot": False, "first_name": "Adm"}},
    ]
    admins = await bot.get_chat_administrators(group)
    assert isinstance(admins[0], ChatMemberOwner) and admins[0].user.first_name == "Owner"
    assert isinstance(admins[1], ChatMemberAdministrator) and admins[1].can_delete_messages

    member = await bot.get_chat_member(group, 77)
    assert isinstance(member, ChatMemberMember) and member.user.id == 77
    stand_in.chat_members[(group, 77)] = {"status": "administrator"}
    assert isinstance(await bot.get_chat_member(group, 77), ChatMemberAdministrator)

    chat = await bot.get_chat(group)
    assert chat.type == "supergroup" and chat.title
    with pytest.raises(TelegramBadRequest, match="no administrators in the private chat"):
        await bot.get_chat_administrators(CHAT)


async def test_commands_actions_and_webhook(stand_in: BotAPIStandIn, bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand(command="start", description="Start")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    assert await bot.send_chat_action(CHAT, "record_voice")
    assert await bot.set_my_description("A bot")
    assert (await bot.get_my_description()).description == "A bot"
    assert await bot.set_my_short_description("Short")

    assert await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(TelegramConflictError):
        await bot.get_updates(timeout=0)
    stand_in.push_text(chat_id=CHAT, user_id=USER, text="queued")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert stand_in.pending_updates == 0
    assert await bot.get_updates(timeout=0) == []


async def test_wrong_token_unknown_method_and_raw_requests(stand_in: BotAPIStandIn) -> None:
    wrong = make_bot(stand_in, token="999:WRONG")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()

    async with aiohttp.ClientSession() as http:
        base = f"{stand_in.url}/bot{stand_in.token}"
        async with http.post(f"{base}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        async with http.get(f"{base}/getMe") as response:
            assert (await response.json())["result"]["id"] == stand_in.bot_id
        payload = {"chat_id": CHAT, "text": "json", "reply_parameters": {"message_id": 1}}
        async with http.post(f"{base}/sendMessage", json=payload) as response:
            body = await response.json()
            assert body["result"]["reply_to_message"]["message_id"] == 1
        async with http.get(f"{stand_in.url}/file/bot{stand_in.token}/voice/x.oga") as response:
            assert response.status == 404
    json_call = stand_in.calls_of("sendMessage")[0]
    assert json_call.params["chat_id"] == CHAT  # JSON bodies keep their types


async def test_wait_for_reports_what_it_saw(stand_in: BotAPIStandIn, bot: Bot) -> None:
    await bot.send_message(CHAT, "one")
    calls = await stand_in.wait_for("sendMessage", predicate=lambda c: c.params["text"] == "one")
    assert isinstance(calls[0], Call) and calls[0].int_param("chat_id") == CHAT
    with pytest.raises(TimeoutError, match=r"sendVoice.*sendMessage x1"):
        await stand_in.wait_for("sendVoice", timeout=0.2)


async def test_dispatcher_polling_round_trip(stand_in: BotAPIStandIn) -> None:
    bot = make_bot(stand_in)
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    polling = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False))
    try:
        update = stand_in.push_text(chat_id=CHAT, user_id=USER, text="hello")
        (call,) = await stand_in.wait_for("sendMessage", timeout=10)
        assert call.params["text"] == "echo: hello"
        assert call.result["chat"]["id"] == CHAT
        assert call.params["chat_id"] == str(CHAT)
        allowed = stand_in.calls_of("getUpdates")[0].params.get("allowed_updates")
        assert allowed == ["message"]
        for _ in range(100):
            if stand_in.pending_updates == 0:
                break
            await asyncio.sleep(0.05)
        assert stand_in.pending_updates == 0, update
    finally:
        await dp.stop_polling()
        await polling
        await bot.session.close()
