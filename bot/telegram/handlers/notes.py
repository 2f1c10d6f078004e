"""The chat's notes: /notes lists them (anyone), /notes forget ID forgets one (one's own, or any
for an admin: ``bot.tools.kit.may_remove``, the rule the model's tools follow too), /notes
clear forgets them all (admins)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import Message

from bot.i18n import Texts
from bot.storage.notes import NotesStore
from bot.telegram.filters import Args
from bot.telegram.handlers.common import command, register_change, tell_long
from bot.telegram.media import sender_of
from bot.telegram.permissions import Permissions
from bot.telegram.ports import tell
from bot.telegram.tool_words import CLEAR, FORGET, echo
from bot.tools import forget_notes

__all__ = ["router"]


async def on_notes(message: Message, bot: Bot, texts: Texts, notes: NotesStore) -> None:
    kept = await notes.list(message.chat.id)
    if not kept:
        await tell(bot, message, texts("notes-empty"))
        return
    lines = [texts("notes-title")]
    lines += [texts("notes-line", id=str(note.id), text=note.text) for note in kept]
    lines.append(texts("notes-how"))
    await tell_long(bot, message, "\n".join(lines))


async def on_notes_forget(
    message: Message,
    note_id: str,
    bot: Bot,
    texts: Texts,
    notes: NotesStore,
    permissions: Permissions,
) -> None:
    # Asked only here, for a note to forget: it may ask Telegram who the admins are.
    admin = await permissions.may_change(bot, message)
    done = await forget_notes(
        notes, message.chat.id, note_id, asker=sender_of(message), admin=admin
    )
    if done.forgotten:
        await tell(bot, message, texts("notes-forgotten", text=done.forgotten[0].text))
    elif done.not_yours:
        await tell(bot, message, texts("notes-not-yours", id=str(done.not_yours[0].id)))
    else:
        await tell(bot, message, texts("notes-not-found", id=echo(note_id)))


async def on_notes_clear(message: Message, bot: Bot, texts: Texts, notes: NotesStore) -> None:
    count = await notes.clear(message.chat.id)
    await tell(bot, message, texts("notes-cleared", count=count))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="notes")
    register_change(r, on_notes_clear, "notes", Args(CLEAR))
    r.message.register(on_notes_forget, command("notes"), Args(FORGET))
    r.message.register(on_notes, command("notes"))
    return r
