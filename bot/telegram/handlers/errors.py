"""The one place where an error that escaped a handler becomes a message to the user."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.types import ErrorEvent, Message

from bot.errors import BotError
from bot.telegram.i18n import Catalogue, pick_language
from bot.telegram.turns import tell

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent, bot: Bot, catalogue: Catalogue) -> None:
    exc = event.exception
    update = event.update
    message = update.message or (update.callback_query.message if update.callback_query else None)
    if isinstance(exc, BotError):
        log.warning("update %s failed: %s: %s", update.update_id, exc.__class__.__name__, exc)
        key = exc.user_message
    else:
        log.error("update %s failed", update.update_id, exc_info=exc)
        key = "error-internal"
    user = message.from_user if isinstance(message, Message) else None
    if update.callback_query is not None:
        user = update.callback_query.from_user
    lang = pick_language(user.language_code if user else None)
    if update.callback_query is not None:
        await update.callback_query.answer(catalogue.get(lang, key), show_alert=True)
    elif isinstance(message, Message):
        await tell(bot, message, catalogue.get(lang, key))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="errors")
    r.errors.register(on_error)
    return r
