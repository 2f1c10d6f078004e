"""The conversation's memory: /forget (admins) forgets it, /memory on|off (admins) switches it,
/memory shows whether it is on (anyone)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import Message

from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.memory import ConversationMemory
from bot.telegram.filters import Switch
from bot.telegram.handlers.common import command, register_change
from bot.telegram.ports import tell

__all__ = ["router"]


async def on_forget(message: Message, bot: Bot, texts: Texts, memory: ConversationMemory) -> None:
    await memory.forget(message.chat.id)
    await tell(bot, message, texts("forget-done"))


async def on_memory_set(
    message: Message,
    state: str,
    bot: Bot,
    texts: Texts,
    settings_store: ChatSettingsStore,
    memory: ConversationMemory,
) -> None:
    await settings_store.set(message.chat.id, memory=state)
    if state == "off":
        await memory.forget(message.chat.id)
    await tell(bot, message, texts("memory-set", state=texts(f"state-{state}")))


async def on_memory(message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts) -> None:
    state = texts("state-on" if chat_settings.memory else "state-off")
    await tell(bot, message, texts("memory-usage", state=state))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="memory")
    register_change(r, on_forget, "forget")
    register_change(r, on_memory_set, "memory", Switch())
    r.message.register(on_memory, command("memory"))
    return r
