"""The Bot API stand-in, driven by a real aiogram Bot and Dispatcher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

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
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)

from stand_ins.bot_api import (
    CHANNEL_BOT,
    DEFAULT_CREATOR,
    GROUP_ANONYMOUS_BOT,
    TELEGRAM_SERVICE_USER,
    BotAPIStandIn,
    Call,
    FloodLimits,
)

CHAT = 4242
USER = 4242
GROUP = -1001234567890


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


OGG = ogg_opus(1)


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
    pushed = stand_in.push_message(
        "voice", chat_id=CHAT, user_id=USER, data=OGG, duration=3, username="ann"
    )
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


async def test_push_message_builds_each_kind(stand_in: BotAPIStandIn, bot: Bot) -> None:
    first = stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi")
    stand_in.push_message(
        "audio", chat_id=CHAT, user_id=USER, data=b"ID3", duration=4, performer="P", title="T",
        file_name="song.flac", mime_type="audio/flac", caption="listen", reply_to=first["message"],
    )  # fmt: skip
    stand_in.push_message("voice", chat_id=CHAT, user_id=USER, data=ogg_opus(5))
    stand_in.push_message(
        "video_note", chat_id=CHAT, user_id=USER, data=OGG, duration=2, length=240
    )
    stand_in.push_message(
        "video", chat_id=-1001, user_id=USER, data=b"mp4", chat_type="supergroup",
        chat_title="Team", caption="clip", first_name="Ann", language_code="ru",
    )  # fmt: skip
    stand_in.push_message(
        "document", chat_id=CHAT, user_id=USER, data=b"%PDF", file_size=30 * 1024 * 1024,
        extra={"has_protected_content": True},
    )  # fmt: skip

    # a parameter the kind cannot carry is refused, not dropped, and nothing is queued
    with pytest.raises(ValueError, match="a video_note message has no caption"):
        stand_in.push_message("video_note", chat_id=CHAT, user_id=USER, data=OGG, caption="x")
    with pytest.raises(ValueError, match="a document message has no duration, performer"):
        stand_in.push_message(
            "document", chat_id=CHAT, user_id=USER, data=OGG, duration=3, performer="P"
        )
    with pytest.raises(ValueError, match="a text message has no data"):
        stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="x", data=OGG)
    with pytest.raises(ValueError, match="a voice message needs data"):
        stand_in.push_message("voice", chat_id=CHAT, user_id=USER)
    assert stand_in.pending_updates == 6

    updates = await bot.get_updates(timeout=0)
    text, audio, voice, note, video, doc = (u.message for u in updates)
    assert text is not None and text.text == "hi" and text.entities is None
    assert audio is not None and audio.audio is not None
    assert (audio.audio.performer, audio.audio.title, audio.audio.duration) == ("P", "T", 4)
    assert (audio.audio.file_name, audio.audio.mime_type) == ("song.flac", "audio/flac")
    assert audio.audio.file_size == 3 and audio.caption == "listen"
    assert audio.reply_to_message is not None and audio.reply_to_message.text == "hi"
    file = await bot.get_file(audio.audio.file_id)
    assert file.file_path is not None and file.file_path.startswith("music/")
    assert file.file_path.endswith(".flac")
    assert voice is not None and voice.voice is not None and voice.voice.duration == 5
    assert note is not None and note.video_note is not None and note.caption is None
    assert (note.video_note.length, note.video_note.duration) == (240, 2)
    assert video is not None and video.video is not None and video.caption == "clip"
    assert (video.video.width, video.video.height, video.video.duration) == (640, 360, 0)
    assert video.video.mime_type == "video/mp4"
    assert (video.chat.type, video.chat.title) == ("supergroup", "Team")
    assert video.from_user is not None and video.from_user.language_code == "ru"
    assert doc is not None and doc.document is not None and doc.has_protected_content
    assert (doc.document.file_name, doc.document.file_size) == ("file.bin", 30 * 1024 * 1024)
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(doc.document.file_id)


async def test_get_updates_long_polls(stand_in: BotAPIStandIn, bot: Bot) -> None:
    started = time.perf_counter()
    assert await bot.get_updates(timeout=1) == []
    assert time.perf_counter() - started >= 0.9

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.perf_counter()
    stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="/start now")
    updates = await asyncio.wait_for(poll, 5)
    assert time.perf_counter() - started < 2
    message = updates[0].message
    assert message is not None and message.entities is not None
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6


async def test_allowed_updates_drops_other_kinds(stand_in: BotAPIStandIn, bot: Bot) -> None:
    text = stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi")
    stand_in.push_callback(chat_id=CHAT, user_id=USER, data="x", message=text["message"])
    updates = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert len(updates) == 1 and updates[0].callback_query is not None
    assert updates[0].callback_query.data == "x"


async def test_get_file_and_download(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_message("voice", chat_id=CHAT, user_id=USER, data=OGG, duration=1)
    file_id = pushed["message"]["voice"]["file_id"]

    file = await bot.get_file(file_id)
    assert file.file_path is not None and file.file_path.startswith("voice/")
    assert file.file_size == len(OGG)
    downloaded = await bot.download(file)
    assert downloaded is not None and downloaded.read() == OGG

    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_get_file_refuses_files_over_20_mb(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_message(
        "voice", chat_id=CHAT, user_id=USER, data=OGG, duration=1, file_size=21 * 1024 * 1024
    )
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(pushed["message"]["voice"]["file_id"])


async def test_send_voice_with_reply(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_message("voice", chat_id=CHAT, user_id=USER, data=OGG, duration=2)
    user_message_id = pushed["message"]["message_id"]
    answer = ogg_opus(2) + b"\x01" * 70_000

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

    # sent again by its file id: no upload, the same file (/again)
    again = await bot.send_voice(CHAT, sent.voice.file_id)
    assert again.voice is not None and again.voice.file_id == sent.voice.file_id
    assert not stand_in.calls_of("sendVoice")[-1].files
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_voice(CHAT, "AwACAgIAAxkBAAInever")
    with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
        await bot.send_audio(CHAT, sent.voice.file_id)
    # a URL is never sent: refused so that a future use is noticed
    with pytest.raises(TelegramBadRequest, match="unsupported in this stand-in"):
        await bot.send_voice(CHAT, "https://example.com/a.ogg")


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


async def test_send_audio_and_photo(stand_in: BotAPIStandIn, bot: Bot) -> None:
    audio = await bot.send_audio(CHAT, BufferedInputFile(b"ID3abc", "song.mp3"), title="Song")
    assert audio.audio is not None and audio.audio.title == "Song"
    assert audio.audio.mime_type == "audio/mpeg" and audio.audio.file_name == "song.mp3"
    assert stand_in.calls_of("sendAudio")[0].files["audio"] == b"ID3abc"
    with pytest.raises(TelegramBadRequest, match="file must be non-empty"):
        await bot.send_audio(CHAT, BufferedInputFile(b"", "empty.mp3"))
    png = b"\x89PNG\r\n\x1a\n" + bytes(8) + (800).to_bytes(4, "big") + (400).to_bytes(4, "big")
    photo = await bot.send_photo(CHAT, BufferedInputFile(png, "chart.png"))
    assert photo.photo is not None and (photo.photo[0].width, photo.photo[0].height) == (800, 400)


async def test_send_message_and_edits(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi")
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
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=pushed["message"]["message_id"])
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)


async def test_parse_mode_and_length_errors(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br"'):
        await bot.send_message(CHAT, "a<br>b", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag ""'):
        await bot.send_message(CHAT, "1 < 2", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Can't find end tag"):
        await bot.send_message(CHAT, "<b>bold", parse_mode="HTML")
    # the bot never sends Markdown: the stand-in refuses it instead of passing it unchecked
    for mode in ("MarkdownV2", "Markdown"):
        with pytest.raises(TelegramBadRequest, match="unsupported parse_mode in this stand-in"):
            await bot.send_message(CHAT, "*Done*", parse_mode=mode)
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode in this stand-in"):
        await bot.send_voice(CHAT, BufferedInputFile(OGG, "a.ogg"), caption="_x_",
                             parse_mode="MarkdownV2")  # fmt: skip
    with pytest.raises(TelegramBadRequest, match=r"unsupported parse_mode$"):
        await bot.send_message(CHAT, "x", parse_mode="BBCode")
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


async def test_chat_administrators(stand_in: BotAPIStandIn, bot: Bot) -> None:
    owner = {"id": 1, "is_bot": False, "first_name": "Owner"}
    stand_in.chat_admins[GROUP] = [
        {"user": {"id": 2, "is_bot": False, "first_name": "Adm"}},
        {"status": "creator", "user": owner, "is_anonymous": True},
    ]
    admins = await bot.get_chat_administrators(GROUP)
    assert len(admins) == 2  # the configured creator is kept, no second one is added
    assert isinstance(admins[0], ChatMemberAdministrator) and admins[0].can_delete_messages
    assert isinstance(admins[1], ChatMemberOwner) and admins[1].user.first_name == "Owner"
    assert admins[1].is_anonymous
    with pytest.raises(TelegramBadRequest, match="no administrators in the private chat"):
        await bot.get_chat_administrators(CHAT)


async def test_every_admin_list_has_a_creator(stand_in: BotAPIStandIn, bot: Bot) -> None:
    (creator,) = await bot.get_chat_administrators(-1009999)  # nothing configured
    assert isinstance(creator, ChatMemberOwner) and not creator.is_anonymous
    assert creator.user.id == DEFAULT_CREATOR["id"] and not creator.user.is_bot

    stand_in.chat_admins[GROUP] = [{"user": {"id": 2, "is_bot": False, "first_name": "Adm"}}]
    owner, admin = await bot.get_chat_administrators(GROUP)
    assert isinstance(owner, ChatMemberOwner) and owner.user.id == DEFAULT_CREATOR["id"]
    assert isinstance(admin, ChatMemberAdministrator) and admin.user.id == 2
    assert stand_in.chat_admins[GROUP] == [
        {"user": {"id": 2, "is_bot": False, "first_name": "Adm"}}
    ]  # the test's list is left as it was


async def test_get_chat_names_the_chats_and_people_pushed_updates_carried(
    stand_in: BotAPIStandIn, bot: Bot
) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(CHAT)  # nothing pushed yet
    await bot.send_message(CHAT, "hello")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(CHAT)  # sending to a chat does not make it known
    stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi", first_name="Ann",
                          username="ann")  # fmt: skip
    stand_in.push_message("text", chat_id=GROUP, user_id=77, text="hi", chat_type="supergroup",
                          chat_title="Choir", first_name="Bob")  # fmt: skip
    stand_in.push_message("text", chat_id=GROUP, channel={"id": -1005, "title": "News"},
                          chat_type="supergroup", chat_title="Choir", text="news")  # fmt: skip

    person = await bot.get_chat(CHAT)
    assert isinstance(person, ChatFullInfo)
    assert (person.id, person.type, person.first_name, person.username) == (
        CHAT, "private", "Ann", "ann",
    )  # fmt: skip
    assert person.title is None and person.max_reaction_count == 11
    group = await bot.get_chat(GROUP)
    assert (group.type, group.title, group.first_name) == ("supergroup", "Choir", None)
    channel = await bot.get_chat(-1005)  # a sender chat is seen too
    assert (channel.type, channel.title) == ("channel", "News")
    # Bob wrote only in the group: Telegram knows no private chat with him.
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(77)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat("@nobody")
    (call, *_) = stand_in.calls_of("getChat")
    assert call.int_param("chat_id") == CHAT and len(stand_in.calls_of("getChat")) == 7

    # A name changed since is answered as the last update carried it.
    stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi", first_name="Anna")
    renamed = await bot.get_chat(CHAT)
    assert (renamed.first_name, renamed.username) == ("Anna", None)


async def test_commands_actions_and_webhook(stand_in: BotAPIStandIn, bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand(command="start", description="Start")])
    (commands,) = stand_in.calls_of("setMyCommands")
    assert commands.params["commands"] == [{"command": "start", "description": "Start"}]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    assert await bot.send_chat_action(CHAT, "record_voice")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(CHAT, "dancing")

    assert await bot.set_webhook("https://example.com/hook")
    with pytest.raises(TelegramConflictError):
        await bot.get_updates(timeout=0)
    stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="queued")
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
        pushed = stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi")
        replied = pushed["message"]["message_id"]
        payload = {"chat_id": CHAT, "text": "json", "reply_parameters": {"message_id": replied}}
        async with http.post(f"{base}/sendMessage", json=payload) as response:
            body = await response.json()
            assert body["result"]["reply_to_message"]["message_id"] == replied
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
        update = stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hello")
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


# ------------------------------------------------------------- senders that are chats


async def test_anonymous_admin_and_channel_senders(stand_in: BotAPIStandIn, bot: Bot) -> None:
    group: dict[str, Any] = {"chat_type": "supergroup", "chat_title": "Team"}
    stand_in.push_message("text", chat_id=GROUP, text="as admin", anonymous_admin=True, **group)
    news = {"id": -1007770001, "title": "News", "username": "news"}
    stand_in.push_message(
        "voice", chat_id=GROUP, data=OGG, channel=news, automatic_forward=True, **group
    )
    stand_in.push_message("text", chat_id=GROUP, text="as channel", channel=news, **group)
    # a push from the service account's id carries the real account, is_bot included
    stand_in.push_message(
        "text", chat_id=GROUP, user_id=GROUP_ANONYMOUS_BOT["id"], text="old style", **group
    )

    admin, post, as_channel, old_style = (u.message for u in await bot.get_updates(timeout=0))
    assert admin is not None and admin.from_user is not None and admin.sender_chat is not None
    assert admin.from_user.model_dump(exclude_none=True) == GROUP_ANONYMOUS_BOT
    assert (admin.sender_chat.id, admin.sender_chat.type) == (GROUP, "supergroup")
    assert admin.sender_chat.title == "Team" and not admin.is_automatic_forward
    # A linked channel's post in its discussion group: from Telegram's service account (not a
    # bot, so a bot filter does not catch it), as the Bot API server sends it.
    assert post is not None and post.from_user is not None and post.sender_chat is not None
    assert post.from_user.model_dump(exclude_none=True) == TELEGRAM_SERVICE_USER
    assert (post.from_user.id, post.from_user.is_bot) == (777000, False)
    assert (post.sender_chat.id, post.sender_chat.type) == (news["id"], "channel")
    assert post.sender_chat.username == "news" and post.is_automatic_forward
    assert post.forward_origin is not None and post.forward_origin.type == "channel"
    assert post.forward_origin.chat.id == news["id"]  # type: ignore[union-attr]
    assert post.voice is not None and post.chat.id == GROUP
    assert as_channel is not None and as_channel.from_user is not None
    assert as_channel.from_user.id == CHANNEL_BOT["id"] and not as_channel.is_automatic_forward
    assert as_channel.sender_chat is not None and as_channel.sender_chat.id == news["id"]
    assert old_style is not None and old_style.from_user is not None
    assert old_style.from_user.is_bot and old_style.from_user.username == "GroupAnonymousBot"
    assert old_style.sender_chat is None  # what a test adds by hand is up to it


async def test_a_channels_own_post_is_a_channel_post_without_a_sender_user(
    stand_in: BotAPIStandIn, bot: Bot
) -> None:
    channel = -1007770002
    stand_in.push_message("voice", chat_id=channel, data=OGG, chat_type="channel",
                          chat_title="News")  # fmt: skip
    stand_in.push_message(
        "text", chat_id=GROUP, user_id=TELEGRAM_SERVICE_USER["id"], text="x",
        chat_type="supergroup",
    )  # fmt: skip
    (post, service) = await bot.get_updates(timeout=0)
    assert post.message is None and post.channel_post is not None
    message = post.channel_post
    assert message.from_user is None and message.voice is not None
    assert (message.chat.id, message.chat.type, message.chat.title) == (channel, "channel", "News")
    assert message.sender_chat is not None and message.sender_chat.id == channel
    # a push from the service account's id carries the real account
    assert service.message is not None and service.message.from_user is not None
    assert service.message.from_user.model_dump(exclude_none=True) == TELEGRAM_SERVICE_USER
    # the bot can be given no channel posts, as Telegram would
    stand_in.push_message("text", chat_id=channel, text="y", chat_type="channel")
    assert await bot.get_updates(offset=service.update_id + 1, timeout=0,
                                 allowed_updates=["message"]) == []  # fmt: skip


async def test_a_pushed_update_can_still_be_edited_by_hand(
    stand_in: BotAPIStandIn, bot: Bot
) -> None:
    pushed = stand_in.push_message(
        "text", chat_id=GROUP, user_id=USER, text="hi", chat_type="supergroup"
    )
    pushed["message"]["from"] = dict(CHANNEL_BOT)
    pushed["message"]["sender_chat"] = {"id": -100777, "type": "channel", "title": "News"}
    pushed["message"]["is_automatic_forward"] = True
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.is_automatic_forward
    assert update.message.sender_chat is not None and update.message.sender_chat.id == -100777


def test_sender_arguments_are_checked(stand_in: BotAPIStandIn) -> None:
    with pytest.raises(ValueError, match="only a supergroup's message"):
        stand_in.push_message("text", chat_id=CHAT, text="x", anonymous_admin=True)
    with pytest.raises(ValueError, match="only a supergroup's message"):
        stand_in.push_message(
            "text", chat_id=-4343, text="x", chat_type="group", channel={"id": -100777}
        )
    with pytest.raises(ValueError, match="not both"):
        stand_in.push_message(
            "text", chat_id=GROUP, text="x", chat_type="supergroup", anonymous_admin=True,
            channel={"id": -100777},
        )  # fmt: skip
    with pytest.raises(ValueError, match="comes from a channel"):
        stand_in.push_message(
            "text", chat_id=GROUP, text="x", chat_type="supergroup", anonymous_admin=True,
            automatic_forward=True,
        )  # fmt: skip
    with pytest.raises(ValueError, match="sent as a chat has no user_id"):
        stand_in.push_message(
            "text", chat_id=GROUP, user_id=USER, text="x", chat_type="supergroup",
            anonymous_admin=True,
        )  # fmt: skip
    with pytest.raises(ValueError, match="needs a user_id"):
        stand_in.push_message("text", chat_id=CHAT, text="x")
    with pytest.raises(ValueError, match="needs an id"):
        stand_in.push_message(
            "text", chat_id=GROUP, text="x", chat_type="supergroup", channel={"title": "News"}
        )
    for sender in ({"user_id": USER}, {"anonymous_admin": True}, {"channel": {"id": -100777}}):
        with pytest.raises(ValueError, match="a channel's post has no"):
            stand_in.push_message("text", chat_id=-100777, text="x", chat_type="channel",
                                  **sender)  # fmt: skip
    assert stand_in.pending_updates == 0


# ------------------------------------------------------------------------- replies


async def test_a_reply_to_a_missing_message_is_refused(stand_in: BotAPIStandIn, bot: Bot) -> None:
    pushed = stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi")
    user_message = pushed["message"]["message_id"]
    mine = await bot.send_message(CHAT, "to the user", reply_parameters=ReplyParameters(
        message_id=user_message))  # fmt: skip
    assert mine.reply_to_message is not None and mine.reply_to_message.text == "hi"
    to_mine = await bot.send_message(CHAT, "to myself", reply_parameters=ReplyParameters(
        message_id=mine.message_id))  # fmt: skip
    assert to_mine.reply_to_message is not None
    assert to_mine.reply_to_message.reply_to_message is None  # nested one level deep only

    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_voice(
            CHAT, BufferedInputFile(OGG, "a.ogg"),
            reply_parameters=ReplyParameters(message_id=user_message + 100),
        )  # fmt: skip
    anyway = await bot.send_message(
        CHAT, "anyway",
        reply_parameters=ReplyParameters(message_id=999, allow_sending_without_reply=True),
    )  # fmt: skip
    assert anyway.reply_to_message is None  # sent as no reply, as Telegram does
    assert anyway.message_id == to_mine.message_id + 1  # the refused send took no id

    stand_in.delete_message(CHAT, user_message)  # the user deleted it
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(
            CHAT, "late", reply_parameters=ReplyParameters(message_id=user_message)
        )
    late = await bot.send_message(CHAT, "late", reply_parameters=ReplyParameters(
        message_id=user_message, allow_sending_without_reply=True))  # fmt: skip
    assert late.reply_to_message is None


async def test_the_old_reply_parameters_behave_the_same(stand_in: BotAPIStandIn) -> None:
    pushed = stand_in.push_message("text", chat_id=CHAT, user_id=USER, text="hi")
    known = pushed["message"]["message_id"]
    async with aiohttp.ClientSession() as http:
        url = f"{stand_in.url}/bot{stand_in.token}/sendMessage"
        form = {"chat_id": str(CHAT), "text": "x"}
        async with http.post(url, data={**form, "reply_to_message_id": str(known)}) as response:
            assert (await response.json())["result"]["reply_to_message"]["message_id"] == known
        async with http.post(url, data={**form, "reply_to_message_id": "77"}) as response:
            assert response.status == 400
            assert (await response.json())["description"] == (
                "Bad Request: message to be replied not found"
            )
        allowed = {**form, "reply_to_message_id": "77", "allow_sending_without_reply": "true"}
        async with http.post(url, data=allowed) as response:
            assert "reply_to_message" not in (await response.json())["result"]
        elsewhere = {**form, "reply_parameters": '{"message_id": 1, "chat_id": -100123}'}
        async with http.post(url, data=elsewhere) as response:
            assert "unsupported in this stand-in" in (await response.json())["description"]


# ----------------------------------------------------------------------- flood limits


async def test_one_chat_gets_a_short_burst_then_one_message_a_second(
    stand_in: BotAPIStandIn, bot: Bot
) -> None:
    burst = FloodLimits().chat_burst
    for number in range(burst):
        await bot.send_message(CHAT, f"burst {number}")
    with pytest.raises(TelegramRetryAfter) as flooded:
        await bot.send_message(CHAT, "one too many")
    assert flooded.value.retry_after == 1
    refused = stand_in.calls_of("sendMessage")[-1]
    assert refused.status == 429 and refused.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    await bot.send_message(CHAT + 1, "another chat is not affected")
    await bot.send_chat_action(CHAT, "record_voice")  # not a message: not counted
    await asyncio.sleep(1.05)
    await bot.send_message(CHAT, "a second later")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(CHAT, "but only one")


async def test_a_group_gets_twenty_messages_a_minute(stand_in: BotAPIStandIn, bot: Bot) -> None:
    stand_in.flood_limits = FloodLimits(chat_burst=100, chat_per_second=100)
    for number in range(20):
        await bot.send_message(GROUP, f"message {number}")
    with pytest.raises(TelegramRetryAfter) as flooded:
        await bot.send_message(GROUP, "the 21st")
    assert flooded.value.retry_after == 3  # one message comes back every 60 / 20 seconds
    for number in range(21):  # a private chat has no per-minute bucket
        await bot.send_message(CHAT, f"private {number}")


async def test_edits_count_and_refused_calls_do_not(stand_in: BotAPIStandIn, bot: Bot) -> None:
    stand_in.flood_limits = FloodLimits(chat_burst=3)
    sent = await bot.send_message(CHAT, "draft")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("draft", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(CHAT, " ")
    stand_in.voice_forbidden(CHAT)
    with pytest.raises(TelegramBadRequest, match="VOICE_MESSAGES_FORBIDDEN"):
        await bot.send_voice(CHAT, BufferedInputFile(OGG, "a.ogg"))
    await bot.edit_message_text("final", chat_id=CHAT, message_id=sent.message_id)
    await bot.send_audio(CHAT, BufferedInputFile(b"ID3abc", "a.mp3"))
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("again", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_photo(CHAT, BufferedInputFile(b"\x89PNG\r\n\x1a\n", "a.png"))


async def test_flood_limits_can_be_turned_off(stand_in: BotAPIStandIn, bot: Bot) -> None:
    stand_in.flood_limits = None
    for number in range(30):
        await bot.send_message(GROUP, f"message {number}")
    async with BotAPIStandIn(flood_limits=None) as quiet:
        client = make_bot(quiet)
        try:
            for number in range(30):
                await client.send_message(CHAT, f"message {number}")
        finally:
            await client.session.close()


async def test_flood_puts_one_chat_under_flood_control(stand_in: BotAPIStandIn, bot: Bot) -> None:
    stand_in.flood(CHAT, 30)
    with pytest.raises(TelegramRetryAfter) as flooded:
        await bot.send_chat_action(CHAT, "typing")  # every call to the chat, counted or not
    assert flooded.value.retry_after == 30
    await bot.send_message(CHAT + 1, "other chats go on")


# ------------------------------------------------------------------------- voice notes


async def test_send_voice_takes_ogg_opus_mp3_and_m4a(stand_in: BotAPIStandIn, bot: Bot) -> None:
    uploads = {
        "audio/ogg": ogg_opus(3),
        "audio/mpeg": b"ID3\x04\x00" + bytes(64),
        "audio/mp4": bytes([0, 0, 0, 0x20]) + b"ftypM4A " + bytes(64),
    }
    for mime_type, data in uploads.items():
        sent = await bot.send_voice(CHAT, BufferedInputFile(data, "answer"))
        assert sent.voice is not None and sent.voice.mime_type == mime_type
    frame = await bot.send_voice(CHAT, BufferedInputFile(b"\xff\xfb\x90\x64" + bytes(64), "a"))
    assert frame.voice is not None and frame.voice.mime_type == "audio/mpeg"  # no ID3 tag

    refused = {
        "WAV": b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64),
        "Ogg/Vorbis": b"OggS\x00\x02" + bytes(20) + b"\x01\x1e\x01vorbis" + bytes(64),
        "FLAC": b"fLaC" + bytes(64),
        "AAC (ADTS)": b"\xff\xf1\x50\x80" + bytes(64),
        "Ogg without a header": b"OggS" + bytes(range(256)),
    }
    for name, data in refused.items():
        with pytest.raises(TelegramBadRequest, match="must be OGG/Opus, MP3 or M4A"):
            await bot.send_voice(CHAT, BufferedInputFile(data, "answer.ogg"))
        assert stand_in.calls_of("sendVoice")[-1].status == 400, name
    # sendAudio has no such check: its files are shown in the music player
    assert (await bot.send_audio(CHAT, BufferedInputFile(refused["FLAC"], "a.flac"))).audio


async def test_a_user_may_forbid_voice_notes(stand_in: BotAPIStandIn, bot: Bot) -> None:
    stand_in.voice_forbidden(CHAT)
    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_voice(CHAT, BufferedInputFile(OGG, "a.ogg"))
    assert refused.value.message == "Bad Request: VOICE_MESSAGES_FORBIDDEN"
    assert (await bot.send_audio(CHAT, BufferedInputFile(OGG, "a.ogg"))).audio is not None
    await bot.send_voice(CHAT + 1, BufferedInputFile(OGG, "a.ogg"))  # other chats are not

    stand_in.voice_forbidden(CHAT, audio=True)
    with pytest.raises(TelegramBadRequest, match="VOICE_MESSAGES_FORBIDDEN"):
        await bot.send_audio(CHAT, BufferedInputFile(OGG, "a.ogg"))
    stand_in.allow_voice(CHAT)
    assert (await bot.send_voice(CHAT, BufferedInputFile(OGG, "a.ogg"))).voice is not None
    with pytest.raises(ValueError, match="private chat"):
        stand_in.voice_forbidden(GROUP)


async def test_a_group_may_forbid_voice_notes(stand_in: BotAPIStandIn, bot: Bot) -> None:
    stand_in.no_voice_rights(GROUP)
    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_voice(GROUP, BufferedInputFile(OGG, "a.ogg"))
    assert refused.value.message == (
        "Bad Request: not enough rights to send voice notes to the chat"
    )
    assert (await bot.send_audio(GROUP, BufferedInputFile(OGG, "a.ogg"))).audio is not None

    stand_in.no_voice_rights(GROUP, audio=True)
    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_audio(GROUP, BufferedInputFile(OGG, "a.ogg"))
    assert refused.value.message == "Bad Request: not enough rights to send music to the chat"
    assert (await bot.send_message(GROUP, "text still goes")).text == "text still goes"
    with pytest.raises(ValueError, match="in a group"):
        stand_in.no_voice_rights(CHAT)
