"""Long polling that loses nothing: a batch of updates is confirmed to Telegram (by the next
getUpdates' offset) only after every update in it was handled, which for a turn means queued.

Updates of one chat are handled one after another, in order; different chats at once, so a
burst of fifty voice notes does not wait in single file behind one another. Replies sent while
handling updates never wait for one chat's flood control (``session.intake``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update

from bot.telegram.session import intake

__all__ = ["poll"]

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


def _chat_of(update: Update) -> int | str:
    event = update.event
    chat = getattr(event, "chat", None)
    if chat is None and update.callback_query is not None and update.callback_query.message:
        chat = update.callback_query.message.chat
    return chat.id if chat is not None else f"update-{update.update_id}"


def _is_migration(update: Update) -> bool:
    message = update.message
    return message is not None and bool(message.migrate_to_chat_id or message.migrate_from_chat_id)


async def _handle(dp: Dispatcher, bot: Bot, updates: list[Update]) -> None:
    with intake():
        for update in updates:
            try:
                await dp.feed_update(bot, update)
            except Exception:
                log.exception("update %s failed", update.update_id)


async def _cancel(task: asyncio.Task[list[Update]]) -> None:
    """Cancel ``task`` and wait until it ends, however it ends (cancelled, or failed or done
    just before): only a cancellation of the caller itself is raised here."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        log.debug("getUpdates ended as polling stopped: %s", task.exception())


async def poll(
    dp: Dispatcher,
    bot: Bot,
    stop: asyncio.Event,
    *,
    allowed_updates: list[str],
    poll_seconds: int = 30,
) -> None:
    """Poll until ``stop`` is set. Updates fetched but not handled when it stops are not
    confirmed: Telegram sends them again to the next start."""
    offset: int | None = None
    backoff = 1.0
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            request = GetUpdates(
                offset=offset, timeout=poll_seconds, allowed_updates=allowed_updates
            )
            fetch = asyncio.create_task(bot(request, request_timeout=poll_seconds + 10))
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                await _cancel(fetch)
                break
            try:
                updates = fetch.result()
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except (TelegramNetworkError, TelegramServerError, TelegramConflictError) as exc:
                log.warning("getUpdates failed (%s); trying again in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            if not updates:
                continue
            # A group's move to a supergroup first: the new chat's updates in the same batch
            # must see the settings that moved with it.
            migrations = [update for update in updates if _is_migration(update)]
            if migrations:
                await _handle(dp, bot, migrations)
            by_chat: defaultdict[int | str, list[Update]] = defaultdict(list)
            for update in updates:
                if not _is_migration(update):
                    by_chat[_chat_of(update)].append(update)
            await asyncio.gather(*(_handle(dp, bot, group) for group in by_chat.values()))
            offset = updates[-1].update_id + 1
    finally:
        stopping.cancel()
    if offset is not None:
        # Confirm the last handled batch now, so a restart does not see it again.
        with contextlib.suppress(Exception):
            await bot(GetUpdates(offset=offset, timeout=0, limit=1), request_timeout=5)
