"""The run modes: long polling, webhook, worker only. Each opens Redis (``REDIS_URL``, else the
embedded server), first checks that it will not evict keys (``maxmemory-policy``), builds the
services (``bot.app``), and runs Telegram's side (``bot.telegram.runtime``: the bot, its
dispatcher and a worker whose turns answer through the Telegram ports) until SIGINT or SIGTERM.
"""

from __future__ import annotations

from bot.app import build_services
from bot.config import Settings
from bot.storage.connection import Connection
from bot.storage.redis import check_eviction_policy, open_redis
from bot.telegram.runtime import serve_polling, serve_webhook, serve_worker, telegram_refusals

__all__ = ["run", "run_polling", "run_webhook", "run_worker"]


async def run(settings: Settings, command: str) -> None:
    """Run ``command`` ("worker", else the bot: by webhook or long polling as ``BOT_MODE``
    says) until SIGINT or SIGTERM, waiting for Redis at start. Telegram refusing the token or
    out of reach is a ``ConfigError``."""
    async with open_redis(settings.redis_url, settings.data_dir, wait=True) as redis:
        with telegram_refusals(settings):
            if command == "worker":
                await run_worker(settings, redis)
            elif settings.bot_mode == "webhook":
                await run_webhook(settings, redis)
            else:
                await run_polling(settings, redis)


async def run_polling(settings: Settings, redis: Connection) -> None:
    """Long polling and a worker in one process (``serve_polling``)."""
    await check_eviction_policy(redis, allow_eviction=settings.redis_allow_eviction)
    await serve_polling(build_services(settings, redis))


async def run_worker(settings: Settings, redis: Connection) -> None:
    """Only a worker (``serve_worker``)."""
    await check_eviction_policy(redis, allow_eviction=settings.redis_allow_eviction)
    await serve_worker(build_services(settings, redis))


async def run_webhook(settings: Settings, redis: Connection) -> None:
    """Telegram's webhook and a worker (``serve_webhook``)."""
    await check_eviction_policy(redis, allow_eviction=settings.redis_allow_eviction)
    await serve_webhook(build_services(settings, redis))
