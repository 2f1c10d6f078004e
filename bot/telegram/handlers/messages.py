"""Voice notes, audio, video notes, documents and texts: what the bot answers."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.telegram.filters import ForTheBot, strip_mention
from bot.telegram.i18n import Catalogue
from bot.telegram.media import media_of
from bot.telegram.turns import TurnRunner, tell

LISTENABLE = F.voice | F.audio | F.video_note | F.video | F.document


async def on_ask(
    message: Message, bot: Bot, lang: str, turns: TurnRunner, catalogue: Catalogue
) -> None:
    """A reply with /ask to someone's voice note: answer that voice note."""
    target = message.reply_to_message
    media = media_of(target) if target is not None else None
    if target is None or media is None:
        await tell(bot, message, catalogue.get(lang, "ask-usage"))
        return
    await turns.accept(bot, target, lang=lang, media=media, user_id=_user(message))


async def on_media(message: Message, bot: Bot, lang: str, turns: TurnRunner) -> None:
    await turns.accept(bot, message, lang=lang, media=media_of(message), user_id=_user(message))


async def on_text(message: Message, bot: Bot, lang: str, turns: TurnRunner) -> None:
    text = strip_mention(message.text or "", await bot.me())
    if text:
        await turns.accept(bot, message, lang=lang, text=text, user_id=_user(message))


async def on_other(message: Message, bot: Bot, lang: str, catalogue: Catalogue) -> None:
    """Stickers, photos and the rest: a hint in private chats, silence in groups."""
    if message.from_user is not None and message.from_user.is_bot:
        return
    await tell(bot, message, catalogue.get(lang, "unsupported"))


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
