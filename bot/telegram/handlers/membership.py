"""Membership: the bot's own (removed or blocked, added back, group upgraded to a supergroup),
and others' admin rights (a promotion or demotion refreshes the chat's admin list at once)."""

from __future__ import annotations

import logging
import time

from aiogram import F, Router
from aiogram.types import ChatMemberUpdated, Message

from bot.storage.admins import AdminCache
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.chat_status import ChatStatus
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.telegram.permissions import ADMIN_STATUSES

log = logging.getLogger(__name__)

GONE = {"kicked", "left"}


async def on_my_membership(update: ChatMemberUpdated, chat_status: ChatStatus) -> None:
    if update.new_chat_member.status in GONE:
        await chat_status.mark_blocked(update.chat.id, update.new_chat_member.status)
    else:
        await chat_status.mark_reachable(update.chat.id)


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
