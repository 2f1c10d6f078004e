"""How the chat's answers come, and the last one again: /answer voice_text|voice|text (admins;
/answer alone shows it, anyone) and /again [text|voice] (anyone: it changes nothing and asks
nothing of the model; the voice note goes again by its Telegram file id, no upload)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import Message

from bot.chat_options import ANSWER
from bot.domain import ChatSettings
from bot.i18n import Texts
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.last_answer import LastAnswerStore
from bot.telegram.filters import Args
from bot.telegram.handlers.common import command, register_change
from bot.telegram.ports import send_again, tell

__all__ = ["router"]

# /answer's words for the forms (``text`` is short for ``text_for_text``).
FORMS = {"voice_text": "voice_text", "voice": "voice", "text": "text_for_text"}
FORMS |= {form: form for form in ANSWER.codec.words}
GIVEN = r"(?P<form>" + "|".join(sorted(FORMS, key=len, reverse=True)) + r")"
HOW = r"(?P<how>text|voice)?"


async def on_answer_set(
    message: Message, form: str, bot: Bot, texts: Texts, settings_store: ChatSettingsStore
) -> None:
    chosen = FORMS[form.lower()]
    await settings_store.set(message.chat.id, answer=chosen)
    await tell(bot, message, texts("answer-set", form=texts(f"answer-{chosen}")))


async def on_answer(message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts) -> None:
    form = texts(f"answer-{chat_settings.answer}")
    await tell(bot, message, texts("answer-usage", form=form))


async def on_again(
    message: Message,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    last_answers: LastAnswerStore | None,
    how: str = "",
) -> None:
    answer = await last_answers.get(message.chat.id) if last_answers is not None else None
    if answer is None:
        await tell(bot, message, texts("again-none"))
        return
    how = how.lower()
    if how == "voice" and not answer.voice_id:
        # Made in text only (or sent as an audio file): there is no voice note to send, and
        # /again asks nothing of the model.
        await tell(bot, message, texts("again-no-voice"))
        return
    if how:
        voice, text = how == "voice", how == "text"
    else:
        # The chat's form; a typed /again in a chat that answers text with text: the text.
        form = chat_settings.answer
        voice = form != "text_for_text" and answer.voice_id is not None
        text = form == "voice_text" or not voice
    await send_again(bot, message, answer, voice=voice, text=text)


async def on_again_usage(message: Message, bot: Bot, texts: Texts) -> None:
    await tell(bot, message, texts("again-usage"))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="answer")
    register_change(r, on_answer_set, "answer", Args(GIVEN))
    r.message.register(on_answer, command("answer"))
    r.message.register(on_again, command("again"), Args(HOW))
    r.message.register(on_again_usage, command("again"))
    return r
