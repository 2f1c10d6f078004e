"""Answering messages: the Telegram adapter between the dispatcher, the queue and the pipeline.

The receiver side (``accept``) checks what the message declares of itself (kind, length, size)
before anything is downloaded, and queues the turn. The worker side (``run``) downloads, runs
the turn with "recording voice…" shown, sends the voice note as a reply with the text as
caption (or after it), retries what failed for a passing reason, and turns every error into one
short message in the user's language.
"""

from __future__ import annotations

import asyncio
import logging
import time

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

from bot import metrics
from bot.core.models import TurnInput, TurnResult
from bot.core.pipeline import TurnPipeline
from bot.errors import BotError, InputError, NotAudio, RealtimeError, TooLarge, TooLong
from bot.logging import turn_context
from bot.queue.jobs import TurnJob
from bot.queue.producer import Outcome, TurnProducer
from bot.realtime.protocol import HistoryItem
from bot.storage.chat_settings import ChatSettings, ChatSettingsStore
from bot.storage.memory import ConversationMemory
from bot.storage.usage import Budgets, TurnUsage, UsageLedger
from bot.telegram.chat_status import ChatStatus
from bot.telegram.i18n import Catalogue
from bot.telegram.media import Media
from bot.telegram.texts import CAPTION_LIMIT, split_text

__all__ = ["TurnRunner", "tell", "tell_chat"]

log = logging.getLogger(__name__)

RETRY_BASE_DELAY = 1.0
VOICE_FORBIDDEN = "VOICE_MESSAGES_FORBIDDEN"


class TurnRunner:
    """Queues turns for messages (``accept``) and answers queued turns (``run``)."""

    def __init__(
        self,
        pipeline: TurnPipeline,
        catalogue: Catalogue,
        chat_status: ChatStatus,
        chat_settings: ChatSettingsStore,
        producer: TurnProducer,
        *,
        memory: ConversationMemory,
        ledger: UsageLedger,
        budgets: Budgets | None = None,
        owners: frozenset[int] = frozenset(),
        retries: int = 2,
    ) -> None:
        self.pipeline = pipeline
        self.catalogue = catalogue
        self.limits = pipeline.limits  # one set of limits: the pipeline checks them again
        self.chat_status = chat_status
        self.chat_settings = chat_settings
        self.producer = producer
        self.memory = memory
        self.ledger = ledger
        self.budgets = budgets or Budgets()
        self.owners = owners
        self.retries = retries

    # -- receiver side --------------------------------------------------------------------

    async def accept(
        self,
        bot: Bot,
        message: Message,
        *,
        lang: str,
        media: Media | None = None,
        text: str | None = None,
        user_id: int | None = None,
    ) -> None:
        """Check ``message``'s metadata and queue its turn; tell the user when it cannot be."""
        try:
            if media is not None:
                if not media.listenable:
                    raise NotAudio(f"{media.kind} is not audio")
                self.limits.check_declared(media.seconds, media.size)
        except InputError as exc:
            log.info("refused chat=%s msg=%s: %s", message.chat.id, message.message_id, exc)
            metrics.TURNS.labels(outcome="refused").inc()
            await tell(bot, message, self.error_text(lang, exc))
            return
        if user_id not in self.owners:
            over = await self.ledger.over_budget(self.budgets, message.chat.id, user_id)
            if over is not None:
                log.info("budget of the %s used up (%s) in chat %s", over.whose, over.period,
                         message.chat.id)  # fmt: skip
                metrics.TURNS.labels(outcome="over_budget").inc()
                key = f"budget-{over.whose}-{over.period}"
                when = over.resets_at.strftime("%Y-%m-%d %H:%M UTC")
                await tell(bot, message, self.catalogue.get(lang, key, resets=when))
                return
        job = TurnJob(
            chat_id=message.chat.id,
            message_id=message.message_id,
            user_id=user_id,
            chat_type=message.chat.type,
            lang=lang,
            thread_id=_thread(message),
            text=text,
            file_id=media.file_id if media else None,
            media_kind=media.kind if media else None,
            seconds=media.seconds if media else None,
            size=media.size if media else None,
        )
        queued = await self.producer.enqueue(job)
        if queued.outcome is Outcome.BUSY:
            await tell(bot, message, self.catalogue.get(lang, "busy"))
        elif queued.outcome is Outcome.RATE_LIMITED:
            await tell(
                bot, message, self.catalogue.get(lang, "rate-limited", seconds=queued.retry_after)
            )
        if queued.outcome is not Outcome.QUEUED:
            log.info("not queued %s: %s", job.label, queued.outcome.value)
            metrics.TURNS.labels(outcome=queued.outcome.value).inc()

    # -- worker side ----------------------------------------------------------------------

    async def run(self, bot: Bot, job: TurnJob) -> None:
        """Answer a queued turn; never raises for a failed turn."""
        token = turn_context.set(job.label)
        try:
            await self._run_with_retries(bot, job)
        finally:
            turn_context.reset(token)

    async def give_up(self, bot: Bot, job: TurnJob) -> None:
        """A turn that kept failing (its worker died every time): tell the user once."""
        metrics.TURNS.labels(outcome="abandoned").inc()
        await tell_chat(bot, job, self.catalogue.get(job.lang, "error-internal"))

    async def _run_with_retries(self, bot: Bot, job: TurnJob) -> None:
        attempt = 0
        while True:
            try:
                # Read together: one round trip to Redis instead of three.
                blocked, chat, history = await asyncio.gather(
                    self.chat_status.is_blocked(job.chat_id),
                    self.chat_settings.get(job.chat_id),
                    self.memory.history(job.chat_id),
                )
                if blocked:
                    log.info("skipping the turn: the chat blocked or removed the bot")
                    metrics.TURNS.labels(outcome="skipped").inc()
                    return
                await self._answer(bot, job, chat, history if chat.memory else ())
                metrics.TURNS.labels(outcome="answered").inc()
                return
            except TelegramForbiddenError:
                metrics.TURNS.labels(outcome="blocked").inc()
                return  # recorded by the request middleware; nothing more can be sent there
            except Exception as exc:
                transient = _transient(exc)
                if transient and attempt < self.retries:
                    delay = RETRY_BASE_DELAY * 2**attempt
                    attempt += 1
                    log.warning("turn failed (%s: %s); try %d of %d in %.0f s",
                                exc.__class__.__name__, exc, attempt + 1, self.retries + 1,
                                delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    continue
                await self._fail(bot, job, exc)
                return

    async def _fail(self, bot: Bot, job: TurnJob, exc: Exception) -> None:
        await self.ledger.record(job.chat_id, job.user_id, TurnUsage(failed=True))
        if isinstance(exc, RealtimeError):
            metrics.REALTIME_ERRORS.labels(type=exc.__class__.__name__).inc()
        if isinstance(exc, BotError):
            level = logging.INFO if isinstance(exc, InputError) else logging.WARNING
            log.log(level, "turn failed: %s: %s", exc.__class__.__name__, exc)
            metrics.TURNS.labels(outcome="refused" if level == logging.INFO else "failed").inc()
            text = self.error_text(job.lang, exc)
        elif isinstance(exc, TelegramAPIError):
            log.warning("turn failed on Telegram's side: %s", exc)
            metrics.TURNS.labels(outcome="failed").inc()
            text = self.catalogue.get(job.lang, "error-internal")
        else:
            log.error("turn failed unexpectedly", exc_info=exc)
            metrics.TURNS.labels(outcome="failed").inc()
            text = self.catalogue.get(job.lang, "error-internal")
        await tell_chat(bot, job, text)

    async def _answer(
        self, bot: Bot, job: TurnJob, chat: ChatSettings, history: tuple[HistoryItem, ...]
    ) -> None:
        turn = self._turn_input(bot, job)
        async with ChatActionSender.record_voice(
            bot=bot, chat_id=job.chat_id, message_thread_id=job.thread_id
        ):
            metrics.IN_FLIGHT.inc()
            try:
                result = await self.pipeline.run(
                    turn, voice=chat.voice, instructions=chat.instructions, history=history
                )
            finally:
                metrics.IN_FLIGHT.dec()
        heard = result.input_transcript if job.file_id else (job.text or "")
        text = result.text
        if heard and job.file_id and chat.shows_transcript(job.chat_type):
            text = f"{self.catalogue.get(job.lang, 'heard', text=heard)}\n\n{text}".strip()
        started = time.perf_counter()
        await self._send_reply(bot, job, result, text)
        _observe(result, upload=time.perf_counter() - started)
        if chat.memory:
            question = heard or self.catalogue.get(job.lang, "memory-voice-without-transcript")
            await self.memory.remember(job.chat_id, question, result.text)
        await self.ledger.record(
            job.chat_id,
            job.user_id,
            TurnUsage(result.input_seconds, result.voice_seconds, result.usage),
        )

    def _turn_input(self, bot: Bot, job: TurnJob) -> TurnInput:
        if job.file_id is None:
            return TurnInput(text=job.text, label=job.label)
        file_id = job.file_id
        max_bytes = self.limits.max_bytes

        async def fetch() -> bytes:
            buffer = await bot.download(file_id)
            assert buffer is not None  # no destination given: aiogram returns a BytesIO
            data = buffer.getvalue()
            if len(data) > max_bytes:
                raise TooLarge(len(data), max_bytes)
            return data

        return TurnInput(fetch=fetch, text=job.text, label=job.label)

    async def _send_reply(self, bot: Bot, job: TurnJob, result: TurnResult, text: str) -> None:
        caption = text if len(text) <= CAPTION_LIMIT else None
        reply = ReplyParameters(message_id=job.message_id, allow_sending_without_reply=True)
        duration = max(1, round(result.voice_seconds))
        sent: Message | None
        try:
            sent = await bot.send_voice(
                chat_id=job.chat_id,
                voice=BufferedInputFile(result.voice, filename="answer.ogg"),
                duration=duration,
                caption=caption or None,
                parse_mode=None,
                message_thread_id=job.thread_id,
                reply_parameters=reply,
            )
        except TelegramBadRequest as exc:
            if VOICE_FORBIDDEN not in exc.message:
                raise
            sent = await self._send_without_voice(bot, job, result, caption, reply, duration)
            if sent is None:
                caption = None  # the text goes as messages below
        if caption is None and text:
            for part in split_text(text):
                await bot.send_message(
                    chat_id=job.chat_id,
                    text=part,
                    parse_mode=None,
                    message_thread_id=job.thread_id,
                    reply_parameters=ReplyParameters(
                        message_id=sent.message_id if sent else job.message_id,
                        allow_sending_without_reply=True,
                    ),
                )

    async def _send_without_voice(
        self,
        bot: Bot,
        job: TurnJob,
        result: TurnResult,
        caption: str | None,
        reply: ReplyParameters,
        duration: int,
    ) -> Message | None:
        """The user's privacy settings forbid voice messages: the answer as an audio file with
        a one-line hint, or (if that fails too) nothing here and the text after."""
        log.info("voice messages forbidden by the user's privacy settings; sending audio")
        hint = self.catalogue.get(job.lang, "voice-forbidden")
        await tell_chat(bot, job, hint)
        try:
            return await bot.send_audio(
                chat_id=job.chat_id,
                audio=BufferedInputFile(result.voice, filename="answer.ogg"),
                duration=duration,
                caption=caption or None,
                parse_mode=None,
                message_thread_id=job.thread_id,
                reply_parameters=reply,
            )
        except TelegramBadRequest as exc:
            log.info("audio refused too (%s); sending text only", exc.message)
            return None

    def error_text(self, lang: str, exc: BotError) -> str:
        args: dict[str, object] = {}
        if isinstance(exc, TooLong):
            args = {"seconds": round(exc.seconds), "limit": round(exc.limit)}
        elif isinstance(exc, TooLarge):
            args = {"size": round(exc.size / 1e6, 1), "limit": round(exc.limit / 1e6, 1)}
        return self.catalogue.get(lang, exc.user_message, **args)


def _transient(exc: Exception) -> bool:
    if isinstance(exc, BotError):
        return exc.transient
    return isinstance(exc, TelegramServerError | TelegramNetworkError)


def _observe(result: TurnResult, *, upload: float) -> None:
    stages = {
        "download": result.marks.span_from_start("downloaded"),
        "decode": result.marks.span("downloaded", "decoded"),
        "model": result.marks.span("response_create", "response_done"),
        "encode": result.marks.span("response_done", "encoded"),
        "upload": upload,
    }
    for stage, seconds in stages.items():
        if seconds is not None:
            metrics.TURN_STAGE_SECONDS.labels(stage=stage).observe(seconds)


async def tell(bot: Bot, message: Message, text: str, *, html_text: bool = False) -> None:
    """Reply to ``message`` with a short text; a failure to send is logged, not raised."""
    await _tell(bot, message.chat.id, message.message_id, _thread(message), text, html_text)


async def tell_chat(bot: Bot, job: TurnJob, text: str) -> None:
    """Reply to a queued turn's message with a short text; never raises."""
    await _tell(bot, job.chat_id, job.message_id, job.thread_id, text, False)


async def _tell(
    bot: Bot, chat_id: int, reply_to: int, thread: int | None, text: str, html_text: bool
) -> None:
    try:
        await bot.send_message(
            chat_id=chat_id,
            text=text,
            parse_mode="HTML" if html_text else None,
            message_thread_id=thread,
            reply_parameters=ReplyParameters(message_id=reply_to, allow_sending_without_reply=True),
        )
    except TelegramAPIError as exc:
        log.info("could not send a message to chat %s: %s", chat_id, exc)


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None
