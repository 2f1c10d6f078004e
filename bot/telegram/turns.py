"""Answering a message: the Telegram adapter over the turn pipeline.

Checks the limits the message declares before anything is downloaded, runs the turn with the
"recording voice…" action shown, sends the voice note as a reply with the text as caption (or
after it), and turns every error into one short message in the user's language.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import BufferedInputFile, Message, ReplyParameters
from aiogram.utils.chat_action import ChatActionSender

from bot.core.models import Limits, TurnInput, TurnResult
from bot.core.pipeline import TurnPipeline
from bot.errors import BotError, InputError, NotAudio, TooLarge, TooLong
from bot.logging import turn_context
from bot.storage.chat_settings import ChatSettings
from bot.telegram.chat_status import ChatStatus
from bot.telegram.i18n import Catalogue
from bot.telegram.media import Media
from bot.telegram.texts import CAPTION_LIMIT, split_text

__all__ = ["TurnRunner", "tell"]

log = logging.getLogger(__name__)


class TurnRunner:
    """Runs turns for messages; turns of one chat run one after another, in arrival order."""

    def __init__(
        self, pipeline: TurnPipeline, catalogue: Catalogue, limits: Limits, chat_status: ChatStatus
    ) -> None:
        self.pipeline = pipeline
        self.chat_status = chat_status
        self.catalogue = catalogue
        self.limits = limits
        self._chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def answer(
        self,
        bot: Bot,
        message: Message,
        *,
        chat: ChatSettings,
        lang: str,
        media: Media | None = None,
        text: str | None = None,
    ) -> None:
        """Answer ``message`` (a reply to it) from ``media`` or ``text``; never raises."""
        label = f"chat={message.chat.id} msg={message.message_id}"
        token = turn_context.set(label)
        lock = self._chat_locks.setdefault(message.chat.id, asyncio.Lock())
        try:
            async with lock:
                if await self.chat_status.is_blocked(message.chat.id):
                    log.info("skipping the turn: the chat blocked or removed the bot")
                    return
                await self._answer(bot, message, chat, lang, media, text, label)
        finally:
            turn_context.reset(token)

    async def _answer(
        self,
        bot: Bot,
        message: Message,
        chat: ChatSettings,
        lang: str,
        media: Media | None,
        text: str | None,
        label: str,
    ) -> None:
        try:
            turn = self._turn_input(bot, media, text, label)
            async with ChatActionSender.record_voice(
                bot=bot, chat_id=message.chat.id, message_thread_id=_thread(message)
            ):
                result = await self.pipeline.run(
                    turn, voice=chat.voice, instructions=chat.instructions
                )
            await self._send_reply(bot, message, result)
        except TelegramForbiddenError:
            pass  # recorded by the request middleware; nothing more can be sent there
        except BotError as exc:
            level = logging.INFO if isinstance(exc, InputError) else logging.WARNING
            log.log(level, "turn failed: %s: %s", exc.__class__.__name__, exc)
            await tell(bot, message, self._error_text(lang, exc))
        except TelegramAPIError as exc:
            log.warning("turn failed on Telegram's side: %s", exc)
            await tell(bot, message, self.catalogue.get(lang, "error-internal"))
        except Exception:
            log.exception("turn failed unexpectedly")
            await tell(bot, message, self.catalogue.get(lang, "error-internal"))

    def _turn_input(self, bot: Bot, media: Media | None, text: str | None, label: str) -> TurnInput:
        if media is None:
            return TurnInput(text=text, label=label)
        if not media.listenable:
            raise NotAudio(f"{media.kind} is not audio")
        self.limits.check_declared(media.seconds, media.size)
        max_bytes = self.limits.max_bytes

        async def fetch() -> bytes:
            buffer = await bot.download(media.file_id)
            assert buffer is not None  # no destination given: aiogram returns a BytesIO
            data = buffer.getvalue()
            if len(data) > max_bytes:
                raise TooLarge(len(data), max_bytes)
            return data

        return TurnInput(fetch=fetch, text=text, label=label)

    async def _send_reply(self, bot: Bot, message: Message, result: TurnResult) -> None:
        text = result.text
        caption = text if len(text) <= CAPTION_LIMIT else None
        sent = await bot.send_voice(
            chat_id=message.chat.id,
            voice=BufferedInputFile(result.voice, filename="answer.ogg"),
            duration=max(1, round(result.voice_seconds)),
            caption=caption or None,
            parse_mode=None,
            message_thread_id=_thread(message),
            reply_parameters=ReplyParameters(
                message_id=message.message_id, allow_sending_without_reply=True
            ),
        )
        if caption is None and text:
            for part in split_text(text):
                await bot.send_message(
                    chat_id=message.chat.id,
                    text=part,
                    parse_mode=None,
                    message_thread_id=_thread(message),
                    reply_parameters=ReplyParameters(
                        message_id=sent.message_id, allow_sending_without_reply=True
                    ),
                )

    def _error_text(self, lang: str, exc: BotError) -> str:
        args: dict[str, object] = {}
        if isinstance(exc, TooLong):
            args = {"seconds": round(exc.seconds), "limit": round(exc.limit)}
        elif isinstance(exc, TooLarge):
            args = {"size": round(exc.size / 1e6, 1), "limit": round(exc.limit / 1e6, 1)}
        return self.catalogue.get(lang, exc.user_message, **args)


async def tell(bot: Bot, message: Message, text: str, *, html_text: bool = False) -> None:
    """Reply to ``message`` with a short text; a failure to send is logged, not raised."""
    try:
        await bot.send_message(
            chat_id=message.chat.id,
            text=text,
            parse_mode="HTML" if html_text else None,
            message_thread_id=_thread(message),
            reply_parameters=ReplyParameters(
                message_id=message.message_id, allow_sending_without_reply=True
            ),
        )
    except TelegramForbiddenError as exc:
        log.info("chat blocked the bot or removed it: %s", exc.message)
    except TelegramAPIError as exc:
        log.warning("could not send a message: %s", exc)


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None
