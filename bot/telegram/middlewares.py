"""Per-update data: the user's language, the allowlists, and the chat's settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import StorageError
from bot.storage import keys
from bot.storage.chat_settings import ChatSettings, ChatSettingsStore
from bot.telegram.chat_status import ChatStatus
from bot.telegram.i18n import Catalogue, pick_language
from bot.telegram.turns import tell

__all__ = ["ChatContextMiddleware"]

log = logging.getLogger(__name__)

NOT_ALLOWED_NOTICE_SECONDS = 3600

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ChatContextMiddleware(BaseMiddleware):
    """Gives handlers ``lang`` and ``chat`` (ChatSettings); drops updates from people and chats
    outside the allowlists, telling such a chat so at most once an hour."""

    def __init__(
        self,
        store: ChatSettingsStore,
        catalogue: Catalogue,
        redis: Redis,
        chat_status: ChatStatus,
        *,
        allowed_users: frozenset[int],
        allowed_chats: frozenset[int],
        owners: frozenset[int],
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.redis = redis
        self.chat_status = chat_status
        self.allowed_users = allowed_users
        self.allowed_chats = allowed_chats
        self.owners = owners

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        lang = pick_language(user.language_code if user else None)
        data["lang"] = lang
        if chat is None:
            return await handler(event, data)
        if not self._allowed(user, chat):
            await self._refuse(event, data["bot"], chat, lang)
            return None
        if isinstance(event, Message) and event.chat.type == "private":
            # A message from a private chat proves it no longer blocks the bot.
            _, data["chat"] = await asyncio.gather(
                self.chat_status.mark_reachable(chat.id), self._settings_of(chat.id)
            )
        else:
            data["chat"] = await self._settings_of(chat.id)
        return await handler(event, data)

    async def _settings_of(self, chat_id: int) -> ChatSettings:
        # Waiting keeps the update unconfirmed while Redis is away: nothing accepted is lost.
        delay = 0.2
        while True:
            try:
                return await self.store.get(chat_id)
            except StorageError as exc:
                log.warning("chat settings unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _allowed(self, user: User | None, chat: Chat) -> bool:
        if not self.allowed_users and not self.allowed_chats:
            return True
        if user is not None and (user.id in self.owners or user.id in self.allowed_users):
            return True
        return chat.id in self.allowed_chats

    async def _refuse(self, event: TelegramObject, bot: Bot, chat: Chat, lang: str) -> None:
        log.info("ignoring chat %s: not in the allowlists", chat.id)
        text = self.catalogue.get(lang, "not-allowed")
        if isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
            return
        if not isinstance(event, Message):
            return
        try:
            first = await self.redis.set(
                keys.not_allowed_notice(chat.id), "1", nx=True, ex=NOT_ALLOWED_NOTICE_SECONDS
            )
        except RedisError:
            first = False
        if first:
            await tell(bot, event, text)
