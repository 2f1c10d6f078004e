"""Voice notes, audio, video notes, documents and texts: what the bot answers.

Each handler turns the message into a job and hands it to admission; a refusal is raised and
the error router tells the user.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.core.admission import Admission
from bot.i18n import Texts
from bot.storage.chat_status import ChatStatus
from bot.telegram.filters import ForTheBot, strip_mention
from bot.telegram.media import job_of, media_of
from bot.telegram.ports import tell

HINT_SECONDS = 10
LISTENABLE = F.voice | F.audio | F.video_note | F.video | F.document


async def on_ask(message: Message, bot: Bot, lang: str, texts: Texts, admission: Admission) -> None:
    """A reply with /ask to someone's voice note: answer that voice note."""
    target = message.reply_to_message
    media = media_of(target) if target is not None else None
    if target is None or media is None:
        await tell(bot, message, texts("ask-usage"))
        return
    await admission.admit(job_of(target, lang=lang, user_id=_user(message), media=media))


async def on_media(message: Message, lang: str, admission: Admission) -> None:
    media = media_of(message)
    await admission.admit(job_of(message, lang=lang, user_id=_user(message), media=media))


async def on_text(message: Message, bot: Bot, lang: str, admission: Admission) -> None:
    text = strip_mention(message.text or "", await bot.me())
    if text:
        await admission.admit(job_of(message, lang=lang, user_id=_user(message), text=text))


async def on_other(message: Message, bot: Bot, texts: Texts, chat_status: ChatStatus) -> None:
    """Stickers, photos and the rest: a hint in private chats (at most one in a few seconds, so
    a stream of stickers does not become a stream of hints), silence in groups."""
    if message.from_user is not None and message.from_user.is_bot:
        return
    if await chat_status.first_notice(message.chat.id, "unsupported", HINT_SECONDS):
        await tell(bot, message, texts("unsupported"))


def _user(message: Message) -> int | None:
    return message.from_user.id if message.from_user else None


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="messages")
    r.message.register(on_ask, Command("ask"))
    r.message.register(on_media, LISTENABLE, ForTheBot(voice=True))
    r.message.register(on_text, F.text, ~F.text.startswith("/"), ForTheBot(voice=False))
    r.message.register(on_other, F.chat.type == "private")
    return r
