"""The one place where an error that escaped a handler becomes a message to the user
(worded by ``bot.i18n.render``, like the worker's and the CLI's)."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent, Message

from bot.errors import BotError, Busy, InputError, OverBudget, RateLimited, Refusal
from bot.i18n import Catalogue, pick_language, render
from bot.storage.chat_status import ChatStatus
from bot.telegram.ports import tell

log = logging.getLogger(__name__)


# A refusal (busy, rate-limited, over budget) is told once in this many seconds per chat: a
# user who keeps sending gets one answer, not one per message.
REFUSAL_NOTICE_SECONDS = 10


async def on_error(
    event: ErrorEvent, bot: Bot, catalogue: Catalogue, chat_status: ChatStatus
) -> None:
    exc = event.exception
    update = event.update
    query = update.callback_query
    message = update.message or (query.message if query else None)
    if isinstance(exc, Refusal | InputError):
        log.info("update %s refused: %s: %s", update.update_id, exc.__class__.__name__, exc)
    elif isinstance(exc, BotError):
        log.warning("update %s failed: %s: %s", update.update_id, exc.__class__.__name__, exc)
    else:
        log.error("update %s failed", update.update_id, exc_info=exc)
    user = (
        query.from_user if query else (message.from_user if isinstance(message, Message) else None)
    )
    text = render(catalogue, pick_language(user.language_code if user else None), exc)
    if query is not None:
        await query.answer(text, show_alert=True)
    elif isinstance(message, Message):
        if isinstance(exc, Busy | RateLimited | OverBudget) and not await chat_status.first_notice(
            message.chat.id, exc.key, REFUSAL_NOTICE_SECONDS
        ):
            return
        await tell(bot, message, text)


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="errors")
    r.errors.register(on_error)
    return r
