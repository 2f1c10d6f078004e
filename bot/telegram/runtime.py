"""Telegram's side of the run modes: the Bot, its dispatcher fed by long polling or a webhook,
and a worker whose turns answer through the Telegram ports, run until ``stop`` is set (SIGINT or
SIGTERM). ``bot.run`` builds the services and picks the mode; everything that knows aiogram is
here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.webhook.aiohttp_server import setup_application
from aiohttp import web

from bot.app import Services, adopt_findings, build_clock, build_worker
from bot.config import Settings
from bot.errors import ConfigError
from bot.metrics import QUEUE_DEPTH, start_metrics_server
from bot.queue.worker import TurnWorker
from bot.telegram.dispatcher import build_dispatcher, set_commands
from bot.telegram.live import LiveTurns
from bot.telegram.polling import poll
from bot.telegram.ports import TelegramOwnerAlerts, turn_handlers
from bot.telegram.session import make_bot
from bot.telegram.webhook import WebhookHandler, webhook_runner

__all__ = ["serve_polling", "serve_webhook", "serve_worker", "telegram_refusals", "telegram_worker"]

log = logging.getLogger(__name__)


def telegram_worker(
    services: Services, bot: Bot, live_turns: LiveTurns | None = None
) -> TurnWorker:
    """A worker whose turns take their input from Telegram and reply there; with
    ``live_turns``, private chats see drafts that the user can stop. The owners hear of a
    refused key or configuration in Telegram."""
    services.answering.alerts = TelegramOwnerAlerts(
        bot, services.settings.admin_ids, services.chat_status
    )
    answer, give_up = turn_handlers(
        bot,
        services.answering,
        services.catalogue,
        services.settings.max_input_bytes,
        live_turns=live_turns,
        reactions=services.settings.group_reactions,
    )
    return build_worker(services, answer, give_up)


@contextlib.contextmanager
def telegram_refusals(settings: Settings) -> Iterator[None]:
    """Telegram refusing the token, or not reachable at start, is a configuration problem:
    ``ConfigError`` naming the variable."""
    try:
        yield
    except TelegramUnauthorizedError:
        raise ConfigError("BOT_TOKEN was refused by Telegram (Unauthorized)") from None
    except TelegramNetworkError as exc:
        raise ConfigError(
            f"TELEGRAM_API_URL cannot be reached ({settings.telegram_api_url}): {exc}"
        ) from None


async def _health(services: Services) -> tuple[bool, dict[str, Any]]:
    ok, details = await services.turn_queue.healthy()
    if ok:
        QUEUE_DEPTH.set(details["queue_depth"])
    return ok, details


class _Running:
    """What every mode runs besides its way of receiving updates: the worker (unless
    receive-only) and the metrics server; stopped in order, the worker draining last."""

    def __init__(self, services: Services, bot: Bot, *, worker: bool) -> None:
        self.services = services
        self.bot = bot
        self.stop = asyncio.Event()
        self._live = LiveTurns()
        self._worker = telegram_worker(services, bot, self._live) if worker else None
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._metrics: web.AppRunner | None = None

    async def __aenter__(self) -> _Running:
        settings = self.services.settings
        await adopt_findings(self.services)
        if settings.metrics_port:
            self._metrics = await start_metrics_server(
                settings.metrics_host, settings.metrics_port,
                lambda: _health(self.services),
            )  # fmt: skip
        if self._worker is not None:
            self._tasks.append(asyncio.create_task(self._worker.run(self.stop), name="worker"))
            # Due reminders become turns: every worker process looks, each is queued once.
            clock = build_clock(self.services)
            self._tasks.append(asyncio.create_task(clock.run(self.stop), name="reminders"))
            # Stops pressed by users reach this process's turns, whoever received them.
            self._listener = asyncio.create_task(
                self.services.stop_bus.listen(self._live.stop), name="stop-listener"
            )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop.set()
        for task in self._tasks:
            await task
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._metrics is not None:
            await self._metrics.cleanup()
        await self.services.close()
        await self.bot.session.close()

    def stop_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)


async def serve_polling(services: Services) -> None:
    """Long polling and a worker in one process, until SIGINT or SIGTERM.

    A batch of updates is confirmed to Telegram only after each was handled (a turn: queued,
    about a millisecond), so a crash loses nothing accepted."""
    settings = services.settings
    bot = make_bot(settings, services.chat_status)
    dp = build_dispatcher(services)
    me = await bot.me()
    log.info(
        "bot @%s starting (long polling, provider %s, model %s, worker %s)",
        me.username,
        settings.realtime_provider,
        settings.realtime_model,
        settings.worker_name,
    )
    await set_commands(bot, services.catalogue)
    await bot.delete_webhook(drop_pending_updates=False)
    async with _Running(services, bot, worker=True) as running:
        running.stop_on_signals()
        await poll(dp, bot, running.stop, allowed_updates=dp.resolve_used_update_types())


async def serve_worker(services: Services) -> None:
    """Only a worker: takes turns from the shared queue, until SIGINT or SIGTERM."""
    settings = services.settings
    bot = make_bot(settings, services.chat_status)
    log.info("worker %s starting (provider %s)", settings.worker_name, settings.realtime_provider)
    async with _Running(services, bot, worker=True) as running:
        running.stop_on_signals()
        await running.stop.wait()


async def serve_webhook(services: Services) -> None:
    """Serve Telegram's webhook posts at WEBHOOK_URL's path, checking the secret-token header
    (``WEBHOOK_SECRET``, or one derived from the bot token: a wrong or missing one is answered
    401), and a worker, until SIGINT or SIGTERM. Telegram gets its 200 only after the turn is
    queued, a 503 when it could not be within a few seconds, and then sends it again."""
    settings = services.settings
    bot = make_bot(settings, services.chat_status)
    dp = build_dispatcher(services)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    path = urlsplit(settings.webhook_url).path or "/"
    app = web.Application()
    WebhookHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path=path)
    setup_application(app, dp, bot=bot)
    async with _Running(services, bot, worker=True) as running:
        running.stop_on_signals()
        me = await bot.me()
        await set_commands(bot, services.catalogue)
        runner = webhook_runner(app)
        await runner.setup()
        await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
        try:
            # Listening first: Telegram posts as soon as the webhook is set.
            await bot.set_webhook(
                settings.webhook_url, secret_token=secret,
                allowed_updates=dp.resolve_used_update_types(),
            )  # fmt: skip
            log.info("bot @%s serving webhook on %s:%s%s", me.username, settings.webhook_host,
                     settings.webhook_port, path)  # fmt: skip
            await running.stop.wait()
        finally:
            await runner.cleanup()
