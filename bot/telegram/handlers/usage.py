"""/usage for everyone, /stats for the bot's owners (its top chats and users by name, where
Telegram gives one, the model answering now, and its chart in the reader's language). Costs
are what the ledger stored, each answer at its model's prices (``bot.storage.usage``), shown
with the currency's sign where it has a common one (RUB → ₽), else its code."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, Message

from bot.config import Settings
from bot.domain import Totals, day_of, month_of
from bot.i18n import Texts
from bot.storage.usage import UsageLedger
from bot.telegram.chart import usage_chart
from bot.telegram.handlers.common import command
from bot.telegram.media import sender_of
from bot.telegram.ports import tell, thread_of

__all__ = ["money", "router"]

log = logging.getLogger(__name__)

TOP = 5
# How long /stats waits for Telegram to name its top chats and users (the ids stay otherwise).
NAMES_TIMEOUT = 5.0
# The signs of the currencies that have one people know; any other is shown by its code.
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€", "GBP": "£", "KZT": "₸"}
# The signs written before the amount in English ("$0.52"); the rest go after it ("0.52 ₽").
SIGN_FIRST = {"$", "€", "£"}


def money(amount: float, currency: str, lang: str) -> str:
    """``amount`` in ``currency`` as the reader writes it: "$0.52", "0.52 ₽", "0,52 ₽"."""
    sign = CURRENCY_SIGNS.get(currency.upper(), currency)
    number = f"{amount:.2f}"
    if lang == "ru":
        return f"{number.replace('.', ',')} {sign}"
    return f"{sign}{number}" if sign in SIGN_FIRST else f"{number} {sign}"


def _line(texts: Texts, label: str, totals: Totals, currency: str) -> str:
    return texts(
        "usage-line",
        label=label,
        turns=totals.turns,
        minutes=round(totals.seconds / 60, 1),
        cost=money(totals.cost, currency, texts.lang),
    )


async def _name(bot: Bot, ident: str) -> str:
    """A top chat's or user's name as Telegram gives it (a group's title; a person's first
    name and @username), with its id; the id alone when Telegram names none (a user who
    never wrote to the bot in private)."""
    try:
        chat = await bot.get_chat(int(ident))
    except (TelegramAPIError, ValueError) as exc:
        log.debug("no name for %s: %s", ident, exc)
        return ident
    name = chat.title or " ".join(x for x in (chat.first_name, chat.last_name) if x)
    if chat.username:
        name = f"{name} @{chat.username}" if name else f"@{chat.username}"
    return f"{name} ({ident})" if name else ident


async def _names(bot: Bot, idents: list[str]) -> list[str]:
    """``_name`` of each, asked together, within ``NAMES_TIMEOUT``."""
    try:
        async with asyncio.timeout(NAMES_TIMEOUT):
            return list(await asyncio.gather(*(_name(bot, ident) for ident in idents)))
    except TimeoutError:
        return idents


async def on_usage(message: Message, bot: Bot, texts: Texts, ledger: UsageLedger) -> None:
    now = dt.datetime.now(dt.UTC)
    currency = ledger.prices.currency
    lines = [texts("usage-title")]
    uid = sender_of(message)  # the sender chat for anonymous admins and channels
    if uid is not None:
        lines.append(_line(texts, texts("usage-you-today"),
                           await ledger.totals("u", uid, day_of(now)), currency))  # fmt: skip
        lines.append(_line(texts, texts("usage-you-month"),
                           await ledger.totals("u", uid, month_of(now)), currency))  # fmt: skip
    if message.chat.type != "private":
        cid = message.chat.id
        lines.append(_line(texts, texts("usage-chat-today"),
                           await ledger.totals("c", cid, day_of(now)), currency))  # fmt: skip
        lines.append(_line(texts, texts("usage-chat-month"),
                           await ledger.totals("c", cid, month_of(now)), currency))  # fmt: skip
    await tell(bot, message, "\n".join(lines))


async def on_stats(
    message: Message,
    bot: Bot,
    texts: Texts,
    ledger: UsageLedger,
    settings: Settings,
) -> None:
    if message.from_user is None or message.from_user.id not in settings.admin_ids:
        await tell(bot, message, texts("stats-owners-only"))
        return
    now = dt.datetime.now(dt.UTC)
    month = month_of(now)
    currency = ledger.prices.currency
    today = await ledger.totals("all", "all", day_of(now))
    this_month = await ledger.totals("all", "all", month)
    lines = [
        f"<b>{html.escape(texts('stats-title'))}</b>",
        html.escape(_line(texts, texts("usage-today"), today, currency)),
        html.escape(_line(texts, texts("usage-month"), this_month, currency)),
        html.escape(texts("stats-failures", failures=this_month.failures)),
        # Costs are stored per answer at its model's prices; the model answering now:
        html.escape(texts("stats-model", model=settings.realtime_model)),
    ]
    for scope, title in (("c", "stats-top-chats"), ("u", "stats-top-users")):
        top = await ledger.top(scope, month, TOP)
        if top:
            lines.append(f"\n<b>{html.escape(texts(title))}</b>")
            names = await _names(bot, [who for who, _ in top])
            lines += [
                html.escape(texts("stats-top-line", who=name, minutes=round(seconds / 60, 1)))
                for name, (_, seconds) in zip(names, top, strict=True)
            ]
    await tell(bot, message, "\n".join(lines), html_text=True)
    series = await ledger.daily("all", "all", 30, now)
    points = [(day, totals.seconds / 60, totals.turns) for day, totals in series]
    png = await asyncio.to_thread(
        usage_chart,
        points,
        texts("stats-chart"),
        minutes=texts("stats-chart-minutes"),
        answers=texts("stats-chart-answers"),
    )
    await bot.send_photo(
        chat_id=message.chat.id,
        photo=BufferedInputFile(png, filename="usage.png"),
        message_thread_id=thread_of(message),
    )


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="usage")
    r.message.register(on_usage, command("usage"))
    r.message.register(on_stats, command("stats"))
    return r
