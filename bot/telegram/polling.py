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
from typing import Literal

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update

from bot.retry import Attempts
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


def _passing(exc: BaseException) -> bool:
    return isinstance(
        exc, TelegramRetryAfter | TelegramNetworkError | TelegramServerError | TelegramConflictError
    )


def _retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, TelegramRetryAfter) else None


def _level(exc: BaseException) -> int:
    # Flood control on getUpdates is Telegram's pace, waited out without a warning.
    return logging.DEBUG if isinstance(exc, TelegramRetryAfter) else logging.WARNING


async def _fetch(
    bot: Bot,
    request: GetUpdates,
    stop: asyncio.Event,
    stopping: asyncio.Task[Literal[True]],
    request_timeout: int,
) -> list[Update] | None:
    """The next batch of updates, tried again until Telegram gives it: after flood control
    the wait it names, after a network error, 5xx or conflict a wait of 1 s doubling up to
    ``MAX_BACKOFF``. ``None`` when ``stop`` is set first (``stopping`` waits for it)."""
    async for attempt in Attempts(
        "getUpdates failed",
        when=_passing,
        first=1.0,
        most=MAX_BACKOFF,
        after=_retry_after,
        level=_level,
        logger=log,
    ):
        if stop.is_set():
            return None
        fetch = asyncio.create_task(bot(request, request_timeout=request_timeout))
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not fetch.done():
            await _cancel(fetch)
            return None
        with attempt:
            return fetch.result()
    raise AssertionError("Attempts without a stop or a limit end only in success")


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
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            request = GetUpdates(
                offset=offset, timeout=poll_seconds, allowed_updates=allowed_updates
            )
            updates = await _fetch(bot, request, stop, stopping, poll_seconds + 10)
            if updates is None:
                break
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
