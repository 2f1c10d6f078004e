"""The real bot (aiogram dispatcher, handlers, middlewares) running in-process against the
Bot API and Realtime stand-ins and a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from redis.asyncio import Redis

from bot.config import Settings
from bot.telegram.app import Services, build_dispatcher, build_services, build_worker, make_bot
from tests.conftest import realtime_settings
from tests.stand_ins.bot_api import BotAPIStandIn
from tests.stand_ins.realtime import RealtimeStandIn


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
        redis = Redis.from_url(redis_url, decode_responses=True)
        services = build_services(settings, redis)
        bot = make_bot(settings)
        dp = build_dispatcher(services)
        stop = asyncio.Event()
        worker = asyncio.create_task(build_worker(services, bot).run(stop))
        polling = asyncio.create_task(
            dp.start_polling(
                bot,
                handle_as_tasks=False,
                polling_timeout=1,
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=dp.resolve_used_update_types(),
            )
        )
        try:
            yield RunningBot(api, realtime, settings, services, bot, dp, redis)
        finally:
            with contextlib.suppress(RuntimeError):
                await dp.stop_polling()
            await asyncio.wait_for(polling, 10)
            stop.set()
            await asyncio.wait_for(worker, 30)
            await bot.session.close()
            await redis.aclose()
