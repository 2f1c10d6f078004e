"""The Bot API session: every call goes through one retry policy, and chats that blocked the
bot are recorded as soon as Telegram says so."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, SendMessageDraft, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.config import Settings
from bot.retry import Attempts
from bot.storage.chat_status import ChatStatus

__all__ = ["RetryRequests", "intake", "make_bot"]

log = logging.getLogger(__name__)

# Flood control waits longer than this are not waited out inside one request.
MAX_RETRY_AFTER = 60
SERVER_ERROR_TRIES = 4
# A call meeting flood control is tried at most this many times in all.
FLOOD_TRIES = 3
# Intake (handling updates as they arrive) never waits long for one chat: one quick retry, and
# flood control waited out only when it ends within a second (Telegram's pace for one chat).
INTAKE_SERVER_ERROR_TRIES = 2
INTAKE_MAX_RETRY_AFTER = 1

_intake: contextvars.ContextVar[bool] = contextvars.ContextVar("intake", default=False)


@contextlib.contextmanager
def intake() -> Iterator[None]:
    """Marks the calls made inside as the intake's (replies to updates as they arrive): they are
    never held up by one chat's flood control, so one chat cannot delay the others."""
    token = _intake.set(True)
    try:
        yield
    finally:
        _intake.reset(token)


class RetryRequests(BaseRequestMiddleware):
    """Waits out Telegram's flood control (``retry_after``) and retries its 5xx and network
    errors with backoff, for every API call the bot makes; records chats that blocked the bot.

    It remembers which chats are under flood control. A call to such a chat from the intake
    fails at once when the flood lasts more than a second (``TelegramRetryAfter``: the notice is
    dropped, the next update of any chat is handled); the intake retries a 5xx only once. The
    worker's calls wait the flood out (up to a minute) and are retried with backoff.
    """

    def __init__(self, chat_status: ChatStatus | None = None) -> None:
        self.chat_status = chat_status
        self._flooded: dict[int, float] = {}  # chat id -> loop time its flood control ends

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        if method.__api_method__ == SendMessageDraft.__api_method__:
            # A draft is a preview: its failures are the drafter's to handle (a 429 slows the
            # drafts), never a flood mark that would hold the answer back.
            return await make_request(bot, method)
        if method.__api_method__ == GetUpdates.__api_method__:
            # Polling has its own policy for getUpdates (``bot.telegram.polling``).
            return await make_request(bot, method)
        chat_id = getattr(method, "chat_id", None)
        chat = chat_id if isinstance(chat_id, int) else None
        in_intake = _intake.get()
        limit = INTAKE_MAX_RETRY_AFTER if in_intake else MAX_RETRY_AFTER
        server_tries = INTAKE_SERVER_ERROR_TRIES if in_intake else SERVER_ERROR_TRIES

        def passing(exc: BaseException) -> bool:
            if isinstance(exc, TelegramRetryAfter):
                return exc.retry_after <= limit
            return isinstance(exc, TelegramServerError | TelegramNetworkError)

        def tries(exc: BaseException) -> int:
            return FLOOD_TRIES if isinstance(exc, TelegramRetryAfter) else server_tries

        def flood_wait(exc: BaseException) -> float | None:
            if not isinstance(exc, TelegramRetryAfter):
                return None
            # A chat's call waits on the chat's flood mark (``_wait_for_flood`` sees it end); a
            # call to no chat in particular has no mark, so the wait Telegram named is kept here.
            return 0.0 if chat is not None else float(exc.retry_after)

        async for attempt in Attempts(
            f"Telegram error on {method.__api_method__}",
            when=passing,
            first=0.5,
            after=flood_wait,
            tries=tries,
            logger=log,
        ):
            await self._wait_for_flood(method, chat, in_intake)
            with attempt:
                try:
                    return await make_request(bot, method)
                except TelegramForbiddenError as exc:
                    if self.chat_status is not None and chat is not None:
                        await self.chat_status.mark_blocked(chat, exc.message)
                    raise
                except TelegramRetryAfter as exc:
                    if chat is not None:
                        self._flooded[chat] = _now() + exc.retry_after
                    raise
        raise AssertionError("Attempts with a limit end in success or the last failure")

    async def _wait_for_flood(
        self, method: TelegramMethod[Any], chat: int | None, in_intake: bool
    ) -> None:
        if chat is None or chat not in self._flooded:
            return
        left = self._flooded[chat] - _now()
        if left <= 0:
            del self._flooded[chat]
            return
        if in_intake and left > INTAKE_MAX_RETRY_AFTER:
            raise TelegramRetryAfter(
                method=method,
                message=f"chat {chat} is under flood control for {left:.0f} s more",
                retry_after=max(1, round(left)),
            )
        await asyncio.sleep(left)


def _now() -> float:
    return asyncio.get_running_loop().time()


def make_bot(settings: Settings, chat_status: ChatStatus | None = None) -> Bot:
    """A Bot talking to ``TELEGRAM_API_URL`` (API calls and file downloads alike)."""
    assert settings.bot_token is not None  # require_telegram checked it
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    session.middleware(RetryRequests(chat_status))
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=None, link_preview_is_disabled=True),
    )
