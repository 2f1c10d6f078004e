"""Per-update data: the user's language, the allowlists, and the chat's settings; a channel's
broadcasts are dropped before any handler sees them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User

from bot.errors import NotAllowed
from bot.i18n import Catalogue, Texts, pick_language
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.chat_status import ChatStatus
from bot.storage.retry import retrying
from bot.telegram.filters import broadcast
from bot.telegram.ports import tell

__all__ = ["ChatContextMiddleware"]

log = logging.getLogger(__name__)

NOT_ALLOWED_NOTICE_SECONDS = 3600

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ChatContextMiddleware(BaseMiddleware):
    """Gives handlers ``lang``, ``texts`` (the catalogue in that language) and ``chat_settings``
    (what the chat chose, or None where no handler needs them: a private chat's voice notes and
    texts); drops updates from people and chats outside the allowlists, telling such a chat so
    at most once an hour, and a channel's broadcasts (a linked channel's posts Telegram forwards
    into its discussion group, anything from Telegram's service account): no command, turn or
    refusal answers them, as each answer would cost and nobody asked."""

    def __init__(
        self,
        settings_store: ChatSettingsStore,
        chat_status: ChatStatus,
        catalogue: Catalogue,
        *,
        allowed_users: frozenset[int],
        allowed_chats: frozenset[int],
        owners: frozenset[int],
    ) -> None:
        self.settings_store = settings_store
        self.chat_status = chat_status
        self.catalogue = catalogue
        self.allowed_users = allowed_users
        self.allowed_chats = allowed_chats
        self.owners = owners

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message) and broadcast(event):
            log.debug("ignoring a broadcast in chat %s: %s", event.chat.id, event.message_id)
            return None
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        lang = pick_language(user.language_code if user else None)
        data["lang"] = lang
        data["texts"] = Texts(self.catalogue, lang)
        data["chat_settings"] = None
        if chat is None:
            return await handler(event, data)
        if not self._allowed(user, chat):
            await self._refuse(event, data, chat)
            return None
        if _needs_settings(event):
            # Waiting keeps the update unconfirmed while Redis is away: nothing accepted is lost.
            data["chat_settings"] = await retrying(self.settings_store.get, chat.id)
        return await handler(event, data)

    def _allowed(self, user: User | None, chat: Chat) -> bool:
        if not self.allowed_users and not self.allowed_chats:
            return True
        if user is not None and (user.id in self.owners or user.id in self.allowed_users):
            return True
        return chat.id in self.allowed_chats

    async def _refuse(self, event: TelegramObject, data: dict[str, Any], chat: Chat) -> None:
        log.info("ignoring chat %s: not in the allowlists", chat.id)
        text = data["texts"].render(NotAllowed())
        if isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        elif isinstance(event, Message) and await self.chat_status.first_notice(
            chat.id, "not-allowed", NOT_ALLOWED_NOTICE_SECONDS
        ):
            await tell(data["bot"], event, text)


def _needs_settings(event: TelegramObject) -> bool:
    """Settings are read for commands, callbacks and group messages (the group rules need the
    mode); a private chat's voice notes and texts go to the queue without them."""
    if not isinstance(event, Message) or event.chat.type != "private":
        return True
    return (event.text or "").startswith("/")
