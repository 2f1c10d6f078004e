"""Membership: the bot's own (removed or blocked, added back, group upgraded to a supergroup;
added to a group, it greets the group with the three things to know, in the language of whoever
added it), and others' admin rights (a promotion or demotion refreshes the chat's admin list at
once)."""

from __future__ import annotations

import logging
import time

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberUpdated, Message

from bot.config import Settings
from bot.i18n import Catalogue, pick_language
from bot.storage.admins import AdminCache
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.chat_status import ChatStatus
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.telegram.permissions import ADMIN_STATUSES

log = logging.getLogger(__name__)

GONE = {"kicked", "left"}


async def on_my_membership(
    update: ChatMemberUpdated,
    bot: Bot,
    chat_status: ChatStatus,
    catalogue: Catalogue,
    settings: Settings,
) -> None:
    if update.new_chat_member.status in GONE:
        await chat_status.mark_blocked(update.chat.id, update.new_chat_member.status)
        return
    await chat_status.mark_reachable(update.chat.id)
    added = update.old_chat_member.status in GONE
    if added and update.chat.type in ("group", "supergroup") and _allowed(update, settings):
        await _greet(update, bot, catalogue)


def _allowed(update: ChatMemberUpdated, settings: Settings) -> bool:
    """Whether the bot answers this chat (as the allowlists say): a chat it does not answer
    is told so at its first message, and not greeted."""
    if not settings.allowed_user_ids and not settings.allowed_chat_ids:
        return True
    adder = update.from_user.id
    return (
        adder in settings.admin_ids
        or adder in settings.allowed_user_ids
        or update.chat.id in settings.allowed_chat_ids
    )


async def _greet(update: ChatMemberUpdated, bot: Bot, catalogue: Catalogue) -> None:
    """The group's greeting, in the language of whoever added the bot."""
    lang = pick_language(update.from_user.language_code)
    me = await bot.me()
    text = catalogue.get(lang, "greeting", bot=me.username or "bot")
    try:
        await bot.send_message(chat_id=update.chat.id, text=text, parse_mode=None)
    except TelegramAPIError as exc:  # a group where the bot may not write: nothing to greet
        log.info("could not greet chat %s: %s", update.chat.id, exc)


async def on_member_changed(update: ChatMemberUpdated, admin_cache: AdminCache) -> None:
    """Someone became or stopped being an admin (Telegram sends ``chat_member`` updates where
    the bot is an admin itself): the chat's cached list is dropped, so their rights follow at
    once instead of when the cache expires."""
    was = update.old_chat_member.status in ADMIN_STATUSES
    now = update.new_chat_member.status in ADMIN_STATUSES
    if was == now:
        return
    await admin_cache.forget(update.chat.id)
    log.info("chat %s: user %s %s an admin; its admin list is asked again",
             update.chat.id, update.new_chat_member.user.id,
             "became" if now else "is no longer")  # fmt: skip


async def on_migrated(
    message: Message,
    settings_store: ChatSettingsStore,
    notes: NotesStore,
    reminders: ReminderStore,
) -> None:
    """A group became a supergroup with a new id: its settings, notes and reminders go along."""
    new_id = message.migrate_to_chat_id
    assert new_id is not None  # the filter asked for it
    await settings_store.migrate(message.chat.id, new_id)
    await notes.migrate(message.chat.id, new_id)
    moved = await reminders.migrate(message.chat.id, new_id, now=time.time())
    log.info("chat %s became supergroup %s; settings, notes and %d reminders moved",
             message.chat.id, new_id, moved)  # fmt: skip


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="membership")
    r.my_chat_member.register(on_my_membership)
    r.chat_member.register(on_member_changed)
    r.message.register(on_migrated, F.migrate_to_chat_id)
    return r
