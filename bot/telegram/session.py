"""The Bot API session: every call goes through one retry policy, and chats that blocked the
bot are recorded as soon as Telegram says so."""

from __future__ import annotations

import asyncio
import logging
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
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.config import Settings
from bot.storage.chat_status import ChatStatus

__all__ = ["RetryRequests", "make_bot"]

log = logging.getLogger(__name__)

# Flood control waits longer than this are not waited out inside one request.
MAX_RETRY_AFTER = 60
SERVER_ERROR_TRIES = 4


class RetryRequests(BaseRequestMiddleware):
    """Waits out Telegram's flood control (``retry_after``) and retries its 5xx and network
    errors with backoff, for every API call the bot makes; records chats that blocked the bot."""

    def __init__(self, chat_status: ChatStatus | None = None) -> None:
        self.chat_status = chat_status

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await make_request(bot, method)
            except TelegramForbiddenError as exc:
                chat_id = getattr(method, "chat_id", None)
                if self.chat_status is not None and isinstance(chat_id, int):
                    await self.chat_status.mark_blocked(chat_id, exc.message)
                raise
            except TelegramRetryAfter as exc:
                if exc.retry_after > MAX_RETRY_AFTER or isinstance(method, GetUpdates):
                    raise
                log.warning(
                    "flood control on %s: waiting %s s", method.__api_method__, exc.retry_after
                )
                await asyncio.sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError) as exc:
                if attempt >= SERVER_ERROR_TRIES or isinstance(method, GetUpdates):
                    raise
                delay = 0.5 * 2 ** (attempt - 1)
                log.warning(
                    "Telegram error on %s (%s); retrying in %.1f s",
                    method.__api_method__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)


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
