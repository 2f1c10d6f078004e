"""Webhook requests: the secret checked, the update handled while Telegram waits, and a 503
when that cannot happen within a few seconds (Redis away), so Telegram sends it again.

Whoever can reach the port can send anything: a wrong secret of any form is a plain 401, and a
request the HTTP parser refuses (a header past its 8 KiB limit) one line in the log, never a
traceback per request."""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage

from bot.telegram.session import intake

__all__ = ["MAX_SECRET_LENGTH", "QUEUE_SECONDS", "WebhookHandler", "webhook_runner"]

log = logging.getLogger(__name__)

# Telegram waits up to a minute for an answer; past a few seconds something is wrong (Redis
# away), and an update answered 503 is sent again, while one answered 200 is gone.
QUEUE_SECONDS = 5.0
# Telegram's secret_token is 1-256 characters of A-Z, a-z, 0-9, "_" and "-" (Bot API,
# setWebhook): a longer header is wrong without comparing it.
MAX_SECRET_LENGTH = 256


class _OneLineBadRequests(logging.Filter):
    """aiohttp logs each request its HTTP parser refuses at ERROR with a traceback (its server
    logger's ``exception``): here, one WARNING line naming the client and what was wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BadHttpMessage):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "webhook: refused a malformed HTTP request from %s (%s, %d)"
            record.args = (remote, type(exc).__name__, exc.code)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


# The webhook server's own logger (aiohttp's ``logger`` option), so the filter touches nothing
# else that uses aiohttp.
HTTP_LOG = logging.getLogger(f"{__name__}.http")
HTTP_LOG.addFilter(_OneLineBadRequests())


def webhook_runner(app: web.Application) -> web.AppRunner:
    """The runner the webhook server is served with (signals are the bot's to handle)."""
    return web.AppRunner(app, handle_signals=False, logger=HTTP_LOG)


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

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """The header is the secret, compared in constant time as bytes: one with characters
        outside ASCII (which comparing ``str`` refuses with a TypeError: a 500 and a traceback)
        or longer than any secret is simply wrong, a 401."""
        if not self.secret_token:
            return True
        given = telegram_secret_token.encode("utf-8", "surrogatepass")
        if len(given) > MAX_SECRET_LENGTH:
            return False
        return hmac.compare_digest(given, self.secret_token.encode("utf-8", "surrogatepass"))

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
