"""The real bot (aiogram dispatcher, handlers, middlewares) running in-process against the
Bot API and Realtime stand-ins and a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from redis.asyncio import Redis

from bot.app import Services, adopt_findings, build_clock, build_services
from bot.config import Settings
from bot.storage.redis import redis_client
from bot.telegram.dispatcher import build_dispatcher
from bot.telegram.live import LiveTurns
from bot.telegram.polling import poll
from bot.telegram.runtime import telegram_worker
from bot.telegram.session import make_bot
from stand_ins.bot_api import BotAPIStandIn, Call
from stand_ins.realtime import RealtimeStandIn
from tests.conftest import realtime_settings


@dataclass
class RunningBot:
    api: BotAPIStandIn
    realtime: RealtimeStandIn
    settings: Settings
    services: Services
    bot: Bot
    dispatcher: Dispatcher
    redis: Redis


@contextlib.asynccontextmanager
async def running_bot(
    realtime: RealtimeStandIn, redis_url: str, **overrides: object
) -> AsyncIterator[RunningBot]:
    async with BotAPIStandIn() as api:
        overrides.setdefault("worker_name", "tests")
        overrides.setdefault("shutdown_grace", 5.0)
        settings = realtime_settings(
            realtime,
            bot_token=api.token,
            telegram_api_url=api.url,
            redis_url=redis_url,
            **overrides,
        )
        redis = redis_client(redis_url)
        services = build_services(settings, redis)
        await adopt_findings(services)  # as bot.run does at start
        bot = make_bot(settings)
        dp = build_dispatcher(services)
        stop = asyncio.Event()
        live = LiveTurns()
        worker = asyncio.create_task(telegram_worker(services, bot, live).run(stop))
        stops = asyncio.create_task(services.stop_bus.listen(live.stop))
        clock = asyncio.create_task(build_clock(services).run(stop))
        polling_stop = asyncio.Event()
        polling = asyncio.create_task(
            poll(
                dp,
                bot,
                polling_stop,
                allowed_updates=dp.resolve_used_update_types(),
                poll_seconds=1,
            )
        )
        try:
            yield RunningBot(api, realtime, settings, services, bot, dp, redis)
        finally:
            polling_stop.set()
            await asyncio.wait_for(polling, 10)
            stop.set()
            await asyncio.wait_for(worker, 30)
            await asyncio.wait_for(clock, 10)
            await services.close()
            stops.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stops
            await bot.session.close()
            await redis.aclose()


@contextlib.asynccontextmanager
async def receiving_bot(
    api: BotAPIStandIn, realtime: RealtimeStandIn, redis_url: str, **overrides: object
) -> AsyncIterator[RunningBot]:
    """Only the receiving side of the bot, in this process, against ``api`` (which the test
    owns, so another process can be pointed at it too): the dispatcher and long polling, no
    worker, no reminder clock, no stop listener. Turns it queues are answered by a worker
    elsewhere (e.g. a ``python -m bot worker`` subprocess on the same Redis)."""
    overrides.setdefault("worker_name", "receiver")
    settings = realtime_settings(
        realtime,
        bot_token=api.token,
        telegram_api_url=api.url,
        redis_url=redis_url,
        **overrides,
    )
    redis = redis_client(redis_url)
    services = build_services(settings, redis)
    bot = make_bot(settings)
    dp = build_dispatcher(services)
    polling_stop = asyncio.Event()
    polling = asyncio.create_task(
        poll(dp, bot, polling_stop, allowed_updates=dp.resolve_used_update_types(), poll_seconds=1)
    )
    try:
        yield RunningBot(api, realtime, settings, services, bot, dp, redis)
    finally:
        polling_stop.set()
        await asyncio.wait_for(polling, 10)
        await services.close()
        await bot.session.close()
        await redis.aclose()


def about(calls: list[Call], message: dict) -> list[Call]:
    """The calls among ``calls`` that answer or mark ``message`` (a Message dict, or an update
    holding one): a reply to it (``reply_parameters``, or the legacy ``reply_to_message_id``)
    in its chat, or a reaction on it."""
    message = message.get("message", message)
    chat, message_id = message["chat"]["id"], message["message_id"]

    def targets(call: Call) -> bool:
        if str(call.params.get("chat_id")) != str(chat):
            return False
        reply = call.params.get("reply_parameters") or {}
        replied = reply.get("message_id") if isinstance(reply, dict) else None
        if replied is None:
            replied = call.params.get("reply_to_message_id")
        if call.method.lower() == "setmessagereaction":
            replied = call.params.get("message_id")
        return replied is not None and int(replied) == message_id

    return [call for call in calls if targets(call)]
