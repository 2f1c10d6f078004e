"""The core's ports on Telegram: the input is a file to download, the reply a voice note with
its text (as caption, or in messages after it), progress is "recording voice…".

Telegram's exceptions stop here: they become the core's ``DownloadFailed``, ``SendFailed``,
``ChatUnreachable`` (``bot.errors``), with no URL (a file URL holds the bot token) in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, Message, ReplyParameters
from aiogram.utils.chat_action import ChatActionSender

from bot.core.answering import Answering
from bot.domain import LastAnswer, Reply, TurnJob
from bot.errors import ChatUnreachable, DownloadFailed, SendFailed, TooLarge, VoiceForbidden
from bot.i18n import Catalogue, render
from bot.queue.worker import Handler
from bot.storage.chat_status import ChatStatus
from bot.telegram.live import Drafts, LiveTurns, Reaction
from bot.telegram.texts import CAPTION_LIMIT, split_text

__all__ = [
    "TelegramInput",
    "TelegramReplies",
    "send_again",
    "tell",
    "thread_of",
    "turn_handlers",
]

log = logging.getLogger(__name__)

VOICE_FORBIDDEN = "VOICE_MESSAGES_FORBIDDEN"  # the user's privacy settings (private chats)
NO_VOICE_RIGHTS = "not enough rights to send voice"  # a group's permissions for members


class TelegramInput:
    """The turn's file, downloaded through the Bot API (``getFile`` and the file server)."""

    def __init__(self, bot: Bot, file_id: str, max_bytes: int) -> None:
        self.bot = bot
        self.file_id = file_id
        self.max_bytes = max_bytes

    async def fetch(self) -> bytes:
        try:
            buffer = await self.bot.download(self.file_id)
        except TelegramForbiddenError as exc:
            raise ChatUnreachable(exc.message) from None
        except TelegramAPIError as exc:
            raise DownloadFailed(f"getFile failed: {exc.message}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            # aiohttp's text names the file URL, which holds the bot token: never repeat it.
            status = getattr(exc, "status", None)
            detail = f"HTTP {status}" if status else exc.__class__.__name__
            raise DownloadFailed(f"file download failed: {detail}") from None
        assert buffer is not None  # no destination given: aiogram returns a BytesIO
        data = buffer.read()
        if len(data) > self.max_bytes:
            raise TooLarge(len(data), self.max_bytes)
        return data


class TelegramReplies:
    """The reply to one queued turn. Remembers what it has sent, so delivering again after a
    failure sends only what is missing."""

    def __init__(
        self,
        bot: Bot,
        job: TurnJob,
        catalogue: Catalogue,
        *,
        live_turns: LiveTurns | None = None,
        reactions: bool = True,
    ) -> None:
        self.bot = bot
        self.job = job
        self.catalogue = catalogue
        self.live_turns = live_turns
        self.reactions = reactions
        self._voice_sent: Message | None = None
        self._parts_sent = 0
        self._text_only = False
        self._notice: Message | None = None  # the turn's notice, edited by later ones
        self._drafts: Drafts | None = None
        self._reaction: Reaction | None = None
        self._stop: asyncio.Event | None = None  # set when the user stops the answer

    @contextlib.asynccontextmanager
    async def progress(self, live: bool, stop: asyncio.Event) -> AsyncIterator[None]:
        job = self.job
        self._stop = stop
        if live and job.chat_type == "private" and self.live_turns is not None:
            self._drafts = Drafts(self.bot, job.chat_id, job.thread_id)
            self.live_turns.add(job.chat_id, self._drafts.draft_id, stop)
        elif live and job.chat_type != "private" and self.reactions:
            self._reaction = Reaction(self.bot, job.chat_id, job.message_id)
            await self._reaction.set()
        try:
            async with ChatActionSender.record_voice(
                bot=self.bot, chat_id=job.chat_id, message_thread_id=job.thread_id
            ):
                yield
        finally:
            if self._drafts is not None:
                await self._drafts.close()
                if self.live_turns is not None:
                    self.live_turns.remove(job.chat_id, self._drafts.draft_id)

    def draft(self, text: str) -> None:
        if self._drafts is not None:
            self._drafts.show(text)

    async def send_reply(self, reply: Reply) -> str | None:
        if not reply.voice and reply.text and self._stop is not None and self._stop.is_set():
            # A stopped answer (what was shown, no voice note) says that it was stopped.
            mark = self.catalogue.get(self.job.lang, "live-stopped-mark")
            reply = dataclasses.replace(reply, text=f"{reply.text} {mark}")
        try:
            await self._send(reply)
            if self._reaction is not None:
                await self._reaction.clear()  # the answer is here
        except TelegramForbiddenError as exc:
            raise ChatUnreachable(exc.message) from None
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise SendFailed(f"{exc.__class__.__name__}: {exc.message}") from None
        except TelegramAPIError as exc:
            raise SendFailed(f"{exc.__class__.__name__}: {exc.message}", transient=False) from None
        # The voice note's file id: /again sends it by that id (an audio file sent instead is
        # not a voice note, and Telegram refuses to send it as one).
        voice = self._voice_sent.voice if self._voice_sent is not None else None
        return voice.file_id if voice is not None else None

    async def send_notice(self, text: str) -> None:
        if self._reaction is not None:
            await self._reaction.clear()
        try:
            if self._notice is None:
                self._notice = await self.bot.send_message(
                    chat_id=self.job.chat_id,
                    text=text,
                    parse_mode=None,
                    message_thread_id=self.job.thread_id,
                    reply_parameters=_reply_to(self.job.message_id),
                )
            else:
                await self.bot.edit_message_text(
                    chat_id=self.job.chat_id,
                    message_id=self._notice.message_id,
                    text=text,
                    parse_mode=None,
                )
        except TelegramAPIError as exc:
            log.info("could not send a notice to chat %s: %s", self.job.chat_id, exc)

    async def _send(self, reply: Reply) -> None:
        caption = reply.text if len(reply.text) <= CAPTION_LIMIT else None
        if not reply.voice:
            self._text_only = True
            caption = None
        if self._voice_sent is None and not self._text_only:
            self._voice_sent = await self._send_voice(reply, caption)
            if self._voice_sent is None:
                caption = None  # neither voice nor audio: the text goes as messages below
        text = reply.text
        if self._voice_sent is None and self._text_only and reply.voice:
            text = reply.fallback or reply.text  # the voice was refused: the answer in words
        if caption is None and text:
            parts = split_text(text)
            target = self._voice_sent.message_id if self._voice_sent else self.job.message_id
            for part in parts[self._parts_sent :]:
                await self.bot.send_message(
                    chat_id=self.job.chat_id,
                    text=part,
                    parse_mode=None,
                    message_thread_id=self.job.thread_id,
                    reply_parameters=_reply_to(target),
                )
                self._parts_sent += 1

    async def _send_voice(self, reply: Reply, caption: str | None) -> Message | None:
        try:
            return await self._upload(self.bot.send_voice, "voice", reply, caption)
        except TelegramBadRequest as exc:
            if VOICE_FORBIDDEN in exc.message:
                hint = VoiceForbidden()
            elif NO_VOICE_RIGHTS in exc.message:
                hint = VoiceForbidden(key="voice-no-rights")
            else:
                raise
        # Voice notes are refused here: the answer as an audio file, with a one-line hint of
        # why, or (if audio is refused too) the text alone.
        log.info("voice notes refused in chat %s (%s); sending audio", self.job.chat_id, hint.key)
        try:
            sent = await self._upload(self.bot.send_audio, "audio", reply, caption)
        except TelegramBadRequest as exc:
            log.info("audio refused too (%s); sending text only", exc.message)
            self._text_only = True
            return None
        await self.send_notice(render(self.catalogue, self.job.lang, hint))
        return sent

    async def _upload(
        self, send: Callable[..., Awaitable[Message]], field: str, reply: Reply, caption: str | None
    ) -> Message:
        return await send(
            chat_id=self.job.chat_id,
            duration=max(1, round(reply.voice_seconds)),
            caption=caption or None,
            parse_mode=None,
            message_thread_id=self.job.thread_id,
            reply_parameters=_reply_to(self.job.message_id),
            **{field: BufferedInputFile(reply.voice, filename="answer.ogg")},
        )


# The owners hear of one kind of configuration problem at most once in this many seconds.
OWNER_ALERT_SECONDS = 24 * 3600


class TelegramOwnerAlerts:
    """``OwnerAlerts`` through private messages to the owners (``ADMIN_IDS``), once a day per
    kind (marked in Redis, so every worker process counts as one)."""

    def __init__(self, bot: Bot, owners: frozenset[int], marks: ChatStatus) -> None:
        self.bot = bot
        self.owners = owners
        self.marks = marks

    async def tell_owners(self, kind: str, text: str) -> None:
        if not self.owners:
            log.warning("no ADMIN_IDS to tell about it in Telegram")
        for owner in sorted(self.owners):
            if not await self.marks.first_notice(owner, f"owner-alert-{kind}", OWNER_ALERT_SECONDS):
                continue
            try:
                await self.bot.send_message(owner, text, parse_mode=None)
            except (TelegramAPIError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("cannot tell owner %s: %s", owner, exc.__class__.__name__)


def turn_handlers(
    bot: Bot,
    answering: Answering,
    catalogue: Catalogue,
    max_bytes: int,
    *,
    live_turns: LiveTurns | None = None,
    reactions: bool = True,
) -> tuple[Handler, Handler]:
    """The worker's handlers: answer a queued turn, or tell its user it was given up."""

    async def answer(job: TurnJob) -> None:
        source = TelegramInput(bot, job.file_id or "", max_bytes)
        sink = TelegramReplies(bot, job, catalogue, live_turns=live_turns, reactions=reactions)
        await answering.answer(job, source, sink)

    async def give_up(job: TurnJob) -> None:
        await answering.give_up(job, TelegramReplies(bot, job, catalogue))

    return answer, give_up


async def send_again(
    bot: Bot, message: Message, answer: LastAnswer, *, voice: bool, text: bool
) -> None:
    """/again: ``answer`` sent again in reply to ``message``, as the voice note already sent
    (by its file id: no upload) with ``voice``, and its text with ``text`` (the caption, or
    messages after the voice note past Telegram's caption limit). A chat that refuses the
    voice note gets the text; a failure to send is logged, not raised."""
    chat_id, thread = message.chat.id, thread_of(message)
    target = message.message_id
    words = answer.text if text else ""
    if voice and answer.voice_id:
        caption = words if len(words) <= CAPTION_LIMIT else ""
        try:
            sent = await bot.send_voice(
                chat_id=chat_id,
                voice=answer.voice_id,
                caption=caption or None,
                parse_mode=None,
                message_thread_id=thread,
                reply_parameters=_reply_to(target),
            )
        except TelegramBadRequest as exc:
            log.info("could not send the voice note again in chat %s: %s", chat_id, exc.message)
            words = answer.text  # the answer in words, rather than nothing
        except TelegramAPIError as exc:
            log.info("could not send the voice note again in chat %s: %s", chat_id, exc)
            return
        else:
            target = sent.message_id
            words = words if not caption else ""
    for part in split_text(words) if words else []:
        await _tell(bot, chat_id, target, thread, part)


def thread_of(message: Message) -> int | None:
    """The forum topic a reply to ``message`` belongs in."""
    return message.message_thread_id if message.is_topic_message else None


async def tell(bot: Bot, message: Message, text: str, *, html_text: bool = False) -> None:
    """Reply to ``message`` with a short text; a failure to send is logged, not raised."""
    await _tell(bot, message.chat.id, message.message_id, thread_of(message), text, html_text)


async def _tell(
    bot: Bot, chat_id: int, reply_to: int, thread: int | None, text: str, html_text: bool = False
) -> None:
    try:
        await bot.send_message(
            chat_id=chat_id,
            text=text,
            parse_mode="HTML" if html_text else None,
            message_thread_id=thread,
            reply_parameters=_reply_to(reply_to),
        )
    except TelegramAPIError as exc:
        log.info("could not send a message to chat %s: %s", chat_id, exc)


def _reply_to(message_id: int) -> ReplyParameters:
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
