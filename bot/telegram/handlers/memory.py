"""The conversation's memory: /forget and /reset (admins) start a new conversation, /memory
on|off (admins) switches memory, /memory shows whether it is on (anyone). /reset settings
(admins) asks before it puts the chat's settings back to the defaults: a button confirms
(the chat's admins' only, like the command), another cancels."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.last_answer import LastAnswerStore
from bot.storage.memory import ConversationMemory
from bot.telegram.filters import Args, IsChatAdmin, StillAdmin, Switch
from bot.telegram.handlers.common import command, refuse, register_change
from bot.telegram.ports import tell, thread_of

__all__ = ["RESET_CANCEL", "RESET_SETTINGS", "router"]

# /reset's argument that asks for the settings' defaults, and its buttons' data.
SETTINGS = r"settings"
RESET_SETTINGS = "reset:settings"
RESET_CANCEL = "reset:cancel"


async def forget_conversation(
    chat_id: int, memory: ConversationMemory, last_answers: LastAnswerStore | None
) -> None:
    """The conversation so far, gone: the model's memory and the answer /again would repeat."""
    await memory.forget(chat_id)
    if last_answers is not None:
        await last_answers.forget(chat_id)


async def on_forget(
    message: Message,
    bot: Bot,
    texts: Texts,
    memory: ConversationMemory,
    last_answers: LastAnswerStore | None,
) -> None:
    await forget_conversation(message.chat.id, memory, last_answers)
    await tell(bot, message, texts("forget-done"))


async def on_reset(
    message: Message,
    bot: Bot,
    texts: Texts,
    memory: ConversationMemory,
    last_answers: LastAnswerStore | None,
) -> None:
    """/reset: a new conversation, as other assistants' /reset is (the settings stay)."""
    await forget_conversation(message.chat.id, memory, last_answers)
    await tell(bot, message, texts("reset-new"))


async def on_reset_settings(message: Message, bot: Bot, texts: Texts) -> None:
    """/reset settings: asks first; the button does it."""
    buttons = [
        InlineKeyboardButton(text=texts("reset-confirm-yes"), callback_data=RESET_SETTINGS),
        InlineKeyboardButton(text=texts("reset-confirm-no"), callback_data=RESET_CANCEL),
    ]
    await bot.send_message(
        chat_id=message.chat.id,
        text=texts("reset-confirm"),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[buttons]),
        message_thread_id=thread_of(message),
    )


async def on_reset_pressed(
    query: CallbackQuery, bot: Bot, texts: Texts, settings_store: ChatSettingsStore
) -> None:
    """A press on /reset settings' question (the chat's admins'): the defaults, or nothing."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer()
        return
    if query.data == RESET_SETTINGS:
        await settings_store.reset(message.chat.id)
        said = texts("reset-done")
    else:
        said = texts("reset-cancelled")
    await query.answer(said)
    await bot.edit_message_text(chat_id=message.chat.id, message_id=message.message_id, text=said)


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
    await tell(bot, message, texts("memory-set", state=texts(f"memory-state-{state}")))


async def on_memory(message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts) -> None:
    state = texts("memory-state-on" if chat_settings.memory else "memory-state-off")
    await tell(bot, message, texts("memory-usage", state=state))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="memory")
    register_change(r, on_forget, "forget")
    register_change(r, on_reset_settings, "reset", Args(SETTINGS))
    register_change(r, on_reset, "reset")
    pressed = F.data.in_({RESET_SETTINGS, RESET_CANCEL})
    r.callback_query.register(on_reset_pressed, pressed, IsChatAdmin(), StillAdmin())
    r.callback_query.register(refuse, pressed)
    register_change(r, on_memory_set, "memory", Switch())
    r.message.register(on_memory, command("memory"))
    return r
