"""Assembling and running the Telegram bot: services, dispatcher, commands menu, polling."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.config import Settings
from bot.core.models import Limits
from bot.core.pipeline import TurnOptions, TurnPipeline
from bot.metrics import QUEUE_DEPTH, start_metrics_server
from bot.queue.jobs import TurnJob
from bot.queue.producer import TurnProducer
from bot.queue.slots import RedisSlots, SessionSlots
from bot.queue.worker import TurnWorker, WorkerOptions
from bot.realtime.client import RealtimeClient
from bot.realtime.providers import endpoint_from_settings
from bot.storage import keys
from bot.storage.chat_settings import ChatSettingsStore, Defaults
from bot.storage.memory import ConversationMemory
from bot.storage.usage import Budgets, Prices, UsageLedger
from bot.telegram.chat_status import ChatStatus
from bot.telegram.handlers import routers
from bot.telegram.i18n import Catalogue
from bot.telegram.middlewares import ChatContextMiddleware
from bot.telegram.permissions import Permissions
from bot.telegram.polling import poll
from bot.telegram.turns import TurnRunner

__all__ = ["Services", "build_dispatcher", "build_services", "make_bot", "run_polling"]

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


@dataclass
class Services:
    """Long-lived services, handed to handlers by name as Dispatcher keyword arguments."""

    settings: Settings
    catalogue: Catalogue
    chat_settings: ChatSettingsStore
    permissions: Permissions
    turns: TurnRunner
    memory: ConversationMemory
    ledger: UsageLedger
    pipeline: TurnPipeline
    chat_status: ChatStatus
    redis: Redis

    def workflow_data(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "catalogue": self.catalogue,
            "chat_settings": self.chat_settings,
            "permissions": self.permissions,
            "turns": self.turns,
            "chat_status": self.chat_status,
            "memory": self.memory,
            "ledger": self.ledger,
        }


def build_pipeline(settings: Settings, slots: SessionSlots | None = None) -> TurnPipeline:
    """The turn pipeline for these settings (the CLI uses it too, with a local cap)."""
    client = RealtimeClient(
        endpoint_from_settings(settings),
        connect_timeout=settings.connect_timeout,
        event_timeout=settings.event_timeout,
    )
    modalities = ("text", "audio") if settings.realtime_provider == "yandex" else ("audio",)
    return TurnPipeline(
        client,
        limits=limits_from(settings),
        options=TurnOptions(
            output_rate=settings.output_sample_rate,
            turn_detection=settings.turn_detection,
            output_modalities=modalities,
            turn_timeout=settings.turn_timeout,
            transcription_model=settings.input_transcription_model,
        ),
        slots=slots,
        concurrency=settings.max_concurrent_turns,
    )


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_seconds=settings.max_input_seconds,
        max_bytes=settings.max_input_bytes,
        silence_dbfs=settings.silence_threshold_dbfs,
    )


def build_services(settings: Settings, redis: Redis) -> Services:
    catalogue = Catalogue()
    # The session cap is global: every worker on this Redis shares it.
    pipeline = build_pipeline(settings, RedisSlots(redis, settings.max_concurrent_turns))
    store = ChatSettingsStore(
        redis, Defaults(voice=settings.default_voice, instructions=settings.default_instructions)
    )
    chat_status = ChatStatus(redis)
    producer = TurnProducer(
        redis,
        max_backlog=settings.max_chat_backlog,
        rate_limit=settings.rate_limit_turns,
        rate_window=settings.rate_limit_window,
    )
    memory = ConversationMemory(redis, turns=settings.memory_turns, ttl=settings.memory_ttl)
    ledger = UsageLedger(
        redis,
        Prices(
            input_per_minute=settings.price_input_audio_per_minute,
            output_per_minute=settings.price_output_audio_per_minute,
            currency=settings.price_currency,
        ),
    )
    budgets = Budgets(**{name: getattr(settings, name) for name in Budgets.__dataclass_fields__})
    turns = TurnRunner(
        pipeline, catalogue, chat_status, store, producer,
        memory=memory, ledger=ledger, budgets=budgets, owners=settings.admin_ids,
        retries=settings.turn_retries,
    )  # fmt: skip
    return Services(
        settings=settings,
        catalogue=catalogue,
        chat_settings=store,
        permissions=Permissions(redis, settings.admin_ids),
        turns=turns,
        memory=memory,
        ledger=ledger,
        pipeline=pipeline,
        chat_status=chat_status,
        redis=redis,
    )


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


def build_dispatcher(services: Services) -> Dispatcher:
    dp = Dispatcher(**services.workflow_data())
    context = ChatContextMiddleware(
        services.chat_settings,
        services.catalogue,
        services.redis,
        services.chat_status,
        allowed_users=services.settings.allowed_user_ids,
        allowed_chats=services.settings.allowed_chat_ids,
        owners=services.settings.admin_ids,
    )
    dp.message.outer_middleware(context)
    dp.callback_query.outer_middleware(context)
    dp.include_routers(*routers())
    return dp


COMMANDS = {
    "en": {
        "start": "What this bot does",
        "help": "How to use it",
        "settings": "This chat's settings",
        "ask": "Answer the voice note you reply to",
        "voice": "Choose the voice",
        "instructions": "Show or set the instructions",
        "mode": "Group mode: all or replies",
        "reset": "Settings back to defaults",
        "forget": "Forget this conversation",
        "memory": "Conversation memory: on or off",
        "transcript": "Show what was heard: on or off",
        "usage": "Your and this chat's usage",
        "stats": "Owners: totals, top chats and users, chart",
    },
    "ru": {
        "start": "Что умеет бот",
        "help": "Как им пользоваться",
        "settings": "Настройки чата",
        "ask": "Ответить на голосовое, на которое вы отвечаете",
        "voice": "Выбрать голос",
        "instructions": "Показать или задать инструкции",
        "mode": "Режим группы: all или replies",
        "reset": "Сбросить настройки",
        "forget": "Забыть этот разговор",
        "memory": "Память разговора: on или off",
        "transcript": "Показывать, что услышано: on или off",
        "usage": "Ваш расход и расход чата",
        "stats": "Владельцам: итоги, топ чатов и людей, график",
    },
}
EVERYONE = ("start", "help", "settings", "ask", "usage")
PRIVATE = ("start", "help", "settings", "voice", "instructions", "forget", "memory",
           "transcript", "usage", "reset")  # fmt: skip
ADMINS = ("help", "settings", "ask", "voice", "instructions", "mode", "forget", "memory",
          "transcript", "usage", "reset")  # fmt: skip


async def set_commands(bot: Bot) -> None:
    """The commands menu for each scope, in English (default) and Russian."""
    scopes = (
        (BotCommandScopeDefault(), EVERYONE),
        (BotCommandScopeAllPrivateChats(), PRIVATE),
        (BotCommandScopeAllChatAdministrators(), ADMINS),
    )
    try:
        for scope, names in scopes:
            for lang, texts in COMMANDS.items():
                commands = [BotCommand(command=n, description=texts[n]) for n in names]
                await bot.set_my_commands(
                    commands, scope=scope, language_code=None if lang == "en" else lang
                )
    except TelegramAPIError as exc:  # the menu is a convenience; the bot works without it
        log.warning("could not set the commands menu: %s", exc)


def build_worker(services: Services, bot: Bot) -> TurnWorker:
    settings = services.settings

    async def handle(job: TurnJob) -> None:
        await services.turns.run(bot, job)

    async def give_up(job: TurnJob) -> None:
        await services.turns.give_up(bot, job)

    return TurnWorker(
        services.redis,
        handle,
        WorkerOptions(
            name=settings.worker_name,
            prefetch=settings.worker_prefetch,
            visibility_timeout=settings.visibility_timeout,
            shutdown_grace=settings.shutdown_grace,
        ),
        on_give_up=give_up,
    )


async def queue_health(redis: Redis) -> tuple[bool, dict[str, Any]]:
    """Redis reachable, and how many turns wait (for /healthz and the queue-depth gauge)."""
    try:
        await redis.ping()
        depth = int(await redis.xlen(keys.TURNS_STREAM))
    except (RedisError, OSError) as exc:
        return False, {"redis": f"unreachable: {exc.__class__.__name__}"}
    QUEUE_DEPTH.set(depth)
    return True, {"redis": "ok", "queue_depth": depth}


class _Running:
    """What every mode runs besides its way of receiving updates: the worker (unless
    receive-only) and the metrics server; stopped in order, the worker draining last."""

    def __init__(self, services: Services, bot: Bot, *, worker: bool) -> None:
        self.services = services
        self.bot = bot
        self.stop = asyncio.Event()
        self._worker = build_worker(services, bot) if worker else None
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics: web.AppRunner | None = None

    async def __aenter__(self) -> _Running:
        settings = self.services.settings
        if settings.metrics_port:
            self._metrics = await start_metrics_server(
                settings.webhook_host, settings.metrics_port,
                lambda: queue_health(self.services.redis),
            )  # fmt: skip
        if self._worker is not None:
            self._tasks.append(asyncio.create_task(self._worker.run(self.stop), name="worker"))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop.set()
        for task in self._tasks:
            await task
        if self._metrics is not None:
            await self._metrics.cleanup()
        await self.bot.session.close()

    def stop_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)


async def run_polling(settings: Settings, redis: Redis) -> None:
    """Long polling and a worker in one process, until SIGINT or SIGTERM.

    A batch of updates is confirmed to Telegram only after each was handled (a turn: queued,
    about a millisecond), so a crash loses nothing accepted."""
    services = build_services(settings, redis)
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
    await set_commands(bot)
    await bot.delete_webhook(drop_pending_updates=False)
    async with _Running(services, bot, worker=True) as running:
        running.stop_on_signals()
        await poll(dp, bot, running.stop, allowed_updates=dp.resolve_used_update_types())


async def run_worker(settings: Settings, redis: Redis) -> None:
    """Only a worker: takes turns from the shared queue, until SIGINT or SIGTERM."""
    services = build_services(settings, redis)
    bot = make_bot(settings, services.chat_status)
    log.info("worker %s starting (provider %s)", settings.worker_name, settings.realtime_provider)
    async with _Running(services, bot, worker=True) as running:
        running.stop_on_signals()
        await running.stop.wait()


async def run_webhook(settings: Settings, redis: Redis) -> None:
    """Serve Telegram's webhook posts at WEBHOOK_URL's path, checking the secret-token header
    (a wrong one is answered 401), and a worker, until SIGINT or SIGTERM. Telegram gets its 200
    only after the turn is queued, so an update that could not be queued is sent again."""
    services = build_services(settings, redis)
    bot = make_bot(settings, services.chat_status)
    dp = build_dispatcher(services)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    path = urlsplit(settings.webhook_url).path or "/"
    app = web.Application()
    SimpleRequestHandler(
        dispatcher=dp, bot=bot, secret_token=secret, handle_in_background=False
    ).register(app, path=path)
    setup_application(app, dp, bot=bot)
    async with _Running(services, bot, worker=True) as running:
        running.stop_on_signals()
        me = await bot.me()
        await set_commands(bot)
        runner = web.AppRunner(app, handle_signals=False)
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
