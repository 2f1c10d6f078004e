"""The dispatcher: the routers, the per-update middleware, the services handlers get by
name, and the commands menu (its texts in the Fluent catalogue)."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
)

from bot.app import Services
from bot.i18n import LANGUAGES, Catalogue
from bot.telegram.commands import MENUS, Menu, menu
from bot.telegram.handlers import routers
from bot.telegram.middlewares import ChatContextMiddleware
from bot.telegram.permissions import Permissions

__all__ = ["build_dispatcher", "set_commands"]

log = logging.getLogger(__name__)

# Telegram's scope of each menu the table knows.
SCOPES: dict[
    Menu,
    BotCommandScopeDefault | BotCommandScopeAllPrivateChats | BotCommandScopeAllChatAdministrators,
] = {
    "members": BotCommandScopeDefault(),
    "private": BotCommandScopeAllPrivateChats(),
    "admins": BotCommandScopeAllChatAdministrators(),
}


def build_dispatcher(services: Services) -> Dispatcher:
    """A dispatcher whose handlers receive the services by name (``admission``,
    ``settings_store``, ``memory``, ``ledger``, ``notes``, ``reminders``, ``tool_kit``,
    ``last_answers``, ``voice_samples``, ``permissions``, ``admin_cache``, ``catalogue``,
    ``settings``)."""
    settings = services.settings
    workflow: dict[str, Any] = {
        "settings": settings,
        "catalogue": services.catalogue,
        "settings_store": services.settings_store,
        "chat_status": services.chat_status,
        "memory": services.memory,
        "ledger": services.ledger,
        "admission": services.admission,
        "stop_bus": services.stop_bus,
        "notes": services.notes,
        "reminders": services.reminders,
        "tool_kit": services.tool_kit,
        "last_answers": services.last_answers,
        "voice_samples": services.voice_samples,
        "permissions": Permissions(services.admins, settings.admin_ids),
        # Dropped when Telegram says someone's admin rights changed (handlers.membership).
        "admin_cache": services.admins,
    }
    dp = Dispatcher(**workflow)
    context = ChatContextMiddleware(
        services.settings_store,
        services.chat_status,
        services.catalogue,
        allowed_users=settings.allowed_user_ids,
        allowed_chats=settings.allowed_chat_ids,
        owners=settings.admin_ids,
    )
    dp.message.outer_middleware(context)
    dp.callback_query.outer_middleware(context)
    dp.include_routers(*routers())
    return dp


async def set_commands(bot: Bot, catalogue: Catalogue) -> None:
    """The commands menu for each scope (the table in ``bot.telegram.commands``), in English
    (default) and Russian."""
    try:
        for place in MENUS:
            for lang in LANGUAGES:
                commands = [
                    BotCommand(command=spec.name, description=catalogue.get(lang, spec.menu))
                    for spec in menu(place)
                ]
                await bot.set_my_commands(
                    commands, scope=SCOPES[place], language_code=None if lang == "en" else lang
                )
    except TelegramAPIError as exc:  # the menu is a convenience; the bot works without it
        log.warning("could not set the commands menu: %s", exc)
