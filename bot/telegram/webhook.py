"""Webhook requests: the secret checked, the update handled while Telegram waits, and a 503
when that cannot happen within a few seconds (Redis away), so Telegram sends it again."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.telegram.session import intake

__all__ = ["QUEUE_SECONDS", "WebhookHandler"]

log = logging.getLogger(__name__)

# Telegram waits up to a minute for an answer; past a few seconds something is wrong (Redis
# away), and an update answered 503 is sent again, while one answered 200 is gone.
QUEUE_SECONDS = 5.0


class WebhookHandler(SimpleRequestHandler):
    """Answers 401 to a request without the right ``X-Telegram-Bot-Api-Secret-Token``, 200 once
    the update was handled (a turn: queued), 503 when that took longer than ``QUEUE_SECONDS``."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        secret_token: str | None,
        queue_seconds: float = QUEUE_SECONDS,
    ) -> None:
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token)
        self.queue_seconds = queue_seconds

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        update = await request.json(loads=bot.session.json_loads)
        try:
            with intake():
                async with asyncio.timeout(self.queue_seconds):
                    await self.dispatcher.feed_raw_update(bot, update, **self.data)
        except TimeoutError:
            log.warning("update %s not handled within %.0f s; answering 503 so Telegram sends "
                        "it again", update.get("update_id"), self.queue_seconds)  # fmt: skip
            return web.Response(status=503, text="Service Unavailable")
        return web.Response(text="ok")
