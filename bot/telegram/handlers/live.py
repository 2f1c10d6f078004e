"""What the chat sees while it is answered: /live on|off (drafts with a stop button in private
chats, a reaction in groups) and /transcript on|off (what was heard, above the answer); admins
switch them, anyone sees whether they are on. The drafts themselves and the stops are
``bot.telegram.live``'s."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import Message

from bot.config import Settings
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.telegram.filters import Switch
from bot.telegram.handlers.common import command, live_on, register_change
from bot.telegram.ports import tell

__all__ = ["router"]


async def on_live_set(
    message: Message, state: str, bot: Bot, texts: Texts, settings_store: ChatSettingsStore
) -> None:
    await settings_store.set(message.chat.id, live=state)
    await tell(bot, message, texts("live-set", state=texts(f"live-state-{state}")))


async def on_live(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, settings: Settings
) -> None:
    state = texts("live-state-on" if live_on(chat_settings, settings) else "live-state-off")
    await tell(bot, message, texts("live-usage", state=state))


async def on_transcript_set(
    message: Message, state: str, bot: Bot, texts: Texts, settings_store: ChatSettingsStore
) -> None:
    await settings_store.set(message.chat.id, transcript=state)
    await tell(bot, message, texts("transcript-set", state=texts(f"transcript-state-{state}")))


async def on_transcript(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts
) -> None:
    shown = chat_settings.shows_transcript(message.chat.type)
    state = texts("transcript-state-on" if shown else "transcript-state-off")
    await tell(bot, message, texts("transcript-usage", state=state))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="live-settings")
    register_change(r, on_live_set, "live", Switch())
    r.message.register(on_live, command("live"))
    register_change(r, on_transcript_set, "transcript", Switch())
    r.message.register(on_transcript, command("transcript"))
    return r
