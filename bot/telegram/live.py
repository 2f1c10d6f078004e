"""Live answers on Telegram: the reply's text streamed into a draft with a stop button (private
chats), a reaction that acknowledges the message (groups), and the stops users press.

A draft shows "Thinking…" at once, then the text as it grows, at most every ``DRAFT_INTERVAL``;
a 429 on a draft slows the drafts, never the answer. A stop arrives at whichever process
receives updates; it is passed to every worker (``bot.storage.stops``), and the one that shows
that draft sets its turn's stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.types import (
    MessageGenerationStopped,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    ReactionTypePaid,
)

from bot.retry import Attempts
from bot.storage.stops import StopBus

__all__ = ["DRAFT_INTERVAL", "Drafts", "LiveTurns", "Reaction", "router"]

log = logging.getLogger(__name__)

# Telegram animates a draft's changes; a few updates a second read smoothly and stay far from
# its limits.
DRAFT_INTERVAL = 0.3
DRAFT_LIMIT = 4096
ACK_EMOJI = "👀"
ReactionType = ReactionTypeEmoji | ReactionTypeCustomEmoji | ReactionTypePaid


class LiveTurns:
    """The drafts this process shows, by (chat, draft id), each with its turn's stop."""

    def __init__(self) -> None:
        self._stops: dict[tuple[int, int], asyncio.Event] = {}

    def add(self, chat_id: int, draft_id: int, stop: asyncio.Event) -> None:
        self._stops[(chat_id, draft_id)] = stop

    def remove(self, chat_id: int, draft_id: int) -> None:
        self._stops.pop((chat_id, draft_id), None)

    def stop(self, chat_id: int, draft_id: int) -> None:
        """A user pressed stop: stop the turn, if this process shows its draft."""
        stop = self._stops.get((chat_id, draft_id))
        if stop is not None:
            log.info("chat %s stopped draft %s", chat_id, draft_id)
            stop.set()


class Drafts:
    """One turn's draft in a private chat, kept to a pace Telegram accepts."""

    def __init__(self, bot: Bot, chat_id: int, thread_id: int | None) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.thread_id = thread_id
        self.draft_id = secrets.randbelow(2**31 - 1) + 1  # non-zero, as the Bot API asks
        self.calls = 0
        self._latest = ""
        self._shown: str | None = None
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="drafts")

    def show(self, text: str) -> None:
        """The reply's text so far; shown at the next moment the pace allows."""
        self._latest = text[:DRAFT_LIMIT]
        self._wake.set()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        await self._send("")  # "Thinking…" at once
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._latest != self._shown:
                await self._send(self._latest)
            await asyncio.sleep(DRAFT_INTERVAL)

    async def _send(self, text: str) -> None:
        """Show ``text``; under flood control, the latest text once Telegram allows it."""
        try:
            async for attempt in Attempts(
                f"drafts of chat {self.chat_id} slowed by flood control",
                when=_flooded,
                first=DRAFT_INTERVAL,
                after=_retry_after,
                level=logging.INFO,
                logger=log,
            ):
                with attempt:
                    if attempt.again:
                        text = self._latest
                    self.calls += 1
                    await self.bot.send_message_draft(
                        chat_id=self.chat_id,
                        draft_id=self.draft_id,
                        text=text,
                        parse_mode=None,
                        message_thread_id=self.thread_id,
                        can_stop=True,
                        keep_on_stop=True,
                    )
                    self._shown = text
        except TelegramAPIError as exc:
            log.info("draft refused in chat %s: %s", self.chat_id, exc.message)


def _flooded(exc: BaseException) -> bool:
    return isinstance(exc, TelegramRetryAfter)


def _retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, TelegramRetryAfter) else None


class Reaction:
    """A reaction on the message being answered in a group: set at once, gone with the answer.
    Where the bot may not react, it is skipped."""

    def __init__(self, bot: Bot, chat_id: int, message_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.message_id = message_id
        self.shown = False

    async def set(self) -> None:
        self.shown = await self._react([ReactionTypeEmoji(emoji=ACK_EMOJI)])

    async def clear(self) -> None:
        if self.shown:
            self.shown = False
            await self._react([])

    async def _react(self, reaction: list[ReactionType]) -> bool:
        try:
            await self.bot.set_message_reaction(
                chat_id=self.chat_id, message_id=self.message_id, reaction=reaction
            )
            return True
        except TelegramAPIError as exc:
            log.info("no reaction in chat %s: %s", self.chat_id, exc.message)
            return False


async def on_stopped(update: MessageGenerationStopped, stop_bus: StopBus) -> None:
    await stop_bus.publish(update.chat.id, update.draft_id)


def router() -> Router:
    """A new router with this module's handler (a router joins one dispatcher only)."""
    r = Router(name="live")
    r.stopped_message_generation.register(on_stopped)
    return r
