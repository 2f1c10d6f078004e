"""The one place where an error that escaped a handler becomes a message to the user
(worded by ``bot.i18n.render``, like the worker's and the CLI's)."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.types import ErrorEvent, Message, ReactionTypeEmoji

from bot import metrics
from bot.errors import BotError, Busy, InputError, OverBudget, RateLimited, Refusal, StorageError
from bot.i18n import Catalogue, pick_language, render
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.chat_status import ChatStatus
from bot.telegram.ports import tell
from bot.tools import ToolKit

log = logging.getLogger(__name__)


# A refusal a sender meets again and again when sending fast (the chat's backlog full, the rate
# limit, a used-up budget) is told on every refused message, but in words only on the first of
# this many seconds per sender in a chat: that reply says why and that a mark on the sender's
# next messages means the same. Each later one gets the mark (a reaction on that very message:
# one cheap call, no notification, and the sender sees which messages were not taken), so a
# flood of notes is not answered by a flood of texts. Where the bot may not react, the message
# is told in words after all.
REFUSAL_NOTICE_SECONDS = 10
NOT_TAKEN = "🙈"


async def on_error(
    event: ErrorEvent,
    bot: Bot,
    catalogue: Catalogue,
    chat_status: ChatStatus,
    settings_store: ChatSettingsStore,
    tool_kit: ToolKit,
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
    lang = pick_language(user.language_code if user else None)
    if isinstance(exc, OverBudget) and message is not None:
        exc = await in_chat_zone(exc, message.chat.id, settings_store, tool_kit)
    text = render(catalogue, lang, exc)
    if query is not None:
        await query.answer(text, show_alert=True)
    elif isinstance(message, Message):
        if isinstance(exc, Busy | RateLimited | OverBudget):
            marked = catalogue.get(lang, "refused-marked")
            await tell_refusal(bot, message, exc, text, marked, chat_status)
        else:
            await tell(bot, message, text)


async def in_chat_zone(
    refusal: OverBudget, chat_id: int, settings_store: ChatSettingsStore, tool_kit: ToolKit
) -> OverBudget:
    """``refusal`` with its reset (a UTC midnight) shown in the chat's time zone: the one it
    chose, else the bot's DEFAULT_TIMEZONE (also when its settings cannot be read now)."""
    try:
        zone = tool_kit.timezone_for(await settings_store.get(chat_id))
    except StorageError as exc:
        log.info("settings of chat %s unread (%s): the reset in the default zone", chat_id, exc)
        zone = tool_kit.default_timezone
    return refusal.shown_in(zone)


async def tell_refusal(
    bot: Bot, message: Message, refusal: Refusal, text: str, marked: str, chat_status: ChatStatus
) -> None:
    """Tell the sender of ``message`` that it was not taken: in words (``text``, and ``marked``:
    what the mark means) if it is their first such refusal in the chat for a while, else with
    the mark on it."""
    sender = message.sender_chat or message.from_user
    what = f"{refusal.key}:{sender.id if sender else 0}"
    if await chat_status.first_notice(message.chat.id, what, REFUSAL_NOTICE_SECONDS):
        await tell(bot, message, f"{text}\n\n{marked}")
        how = "message"
    else:
        try:
            await bot.set_message_reaction(
                chat_id=message.chat.id,
                message_id=message.message_id,
                reaction=[ReactionTypeEmoji(emoji=NOT_TAKEN)],
            )
            how = "mark"
        except TelegramRetryAfter:  # under flood control: no word of any kind gets there now
            log.info("chat %s is under flood control: refusal not told", message.chat.id)
            how = "unsent"
        except TelegramAPIError as exc:
            log.info("no reaction in chat %s (%s): telling the refusal", message.chat.id, exc)
            await tell(bot, message, text)
            how = "message"
    metrics.REFUSAL_NOTICES.labels(reason=refusal.reason, how=how).inc()


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="errors")
    r.errors.register(on_error)
    return r
