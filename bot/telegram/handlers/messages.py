"""Voice notes, audio, video notes, documents and texts: what the bot answers.

Each handler turns the message into a job and hands it to admission; a refusal is raised and
the error router tells the user. The job names who asked: the sender, the chat a message was
sent on behalf of (whose limits and budgets the turn counts against) and whether the sender is
an admin of the chat.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import Message

from bot.core.admission import Admission
from bot.i18n import Texts
from bot.storage.chat_status import ChatStatus
from bot.telegram.commands import COMMANDS
from bot.telegram.filters import ForTheBot, may_ask, strip_mention
from bot.telegram.handlers.common import command
from bot.telegram.media import asker_of, job_of, media_of
from bot.telegram.permissions import Permissions
from bot.telegram.ports import tell
from bot.telegram.tool_words import echo

HINT_SECONDS = 10
LISTENABLE = F.voice | F.audio | F.video_note | F.video | F.document


async def on_ask(
    message: Message,
    bot: Bot,
    lang: str,
    texts: Texts,
    admission: Admission,
    permissions: Permissions,
) -> None:
    """A reply with /ask to a voice note: answer that voice note. The /ask's sender asks, and
    the turn counts against them (or the chat they wrote as), whoever sent the voice note, a
    linked channel's post included: a member asked for it and pays for it."""
    target = message.reply_to_message
    media = media_of(target) if target is not None else None
    if target is None or media is None:
        await tell(bot, message, texts("ask-usage"))
        return
    asker = await asker_of(message, bot, permissions)
    await admission.admit(job_of(target, lang=lang, asker=asker, media=media))


async def on_media(
    message: Message, bot: Bot, lang: str, admission: Admission, permissions: Permissions
) -> None:
    media = media_of(message)
    asker = await asker_of(message, bot, permissions)
    await admission.admit(job_of(message, lang=lang, asker=asker, media=media))


async def on_text(
    message: Message, bot: Bot, lang: str, admission: Admission, permissions: Permissions
) -> None:
    text = strip_mention(message.text or "", await bot.me())
    if text:
        asker = await asker_of(message, bot, permissions)
        await admission.admit(job_of(message, lang=lang, asker=asker, text=text))


async def on_unknown_command(message: Message, bot: Bot, texts: Texts) -> None:
    """A command the bot does not have (/cancel): said so, with /help. In a group, only one
    addressed to this bot by name (/cancel@thisbot): the others may be another bot's."""
    if message.from_user is not None and message.from_user.is_bot:
        return
    name, _, addressee = (message.text or "").split(maxsplit=1)[0][1:].partition("@")
    me = await bot.me()
    mine = bool(addressee) and addressee.lower() == (me.username or "").lower()
    if not (mine or (not addressee and message.chat.type == "private")):
        return
    if name:
        await tell(bot, message, texts("unknown-command", command=echo(name)))


async def on_other(message: Message, bot: Bot, texts: Texts, chat_status: ChatStatus) -> None:
    """Stickers, photos and the rest: a hint in private chats (at most one in a few seconds, so
    a stream of stickers does not become a stream of hints), silence in groups."""
    if message.from_user is not None and message.from_user.is_bot:
        return
    if await chat_status.first_notice(message.chat.id, "unsupported", HINT_SECONDS):
        await tell(bot, message, texts("unsupported"))


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="messages")
    # Who may ask, as for any message: not bots, not a linked channel's posts.
    r.message.register(on_ask, command("ask"), F.func(may_ask))
    # The commands' own routers take them (a caption can be a command too), wherever they are.
    others = ~command(*(spec.name for spec in COMMANDS))
    r.message.register(on_media, LISTENABLE, others, ForTheBot(voice=True))
    r.message.register(on_text, F.text, ~F.text.startswith("/"), ForTheBot(voice=False))
    r.message.register(on_unknown_command, F.text.startswith("/"), others)
    r.message.register(on_other, F.chat.type == "private", others)
    return r
