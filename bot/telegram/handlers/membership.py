"""The bot's own membership: removed or blocked, added back, group upgraded to a supergroup."""

from __future__ import annotations

import logging
import time

from aiogram import F, Router
from aiogram.types import ChatMemberUpdated, Message

from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.chat_status import ChatStatus
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore

log = logging.getLogger(__name__)

GONE = {"kicked", "left"}


async def on_my_membership(update: ChatMemberUpdated, chat_status: ChatStatus) -> None:
    if update.new_chat_member.status in GONE:
        await chat_status.mark_blocked(update.chat.id, update.new_chat_member.status)
    else:
        await chat_status.mark_reachable(update.chat.id)


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
    r.message.register(on_migrated, F.migrate_to_chat_id)
    return r
