"""/usage for everyone, /stats for the bot's owners."""

from __future__ import annotations

import asyncio
import datetime as dt
import html

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from bot.config import Settings
from bot.storage.usage import Totals, UsageLedger, day_of, month_of
from bot.telegram.chart import usage_chart
from bot.telegram.i18n import Catalogue
from bot.telegram.turns import tell

TOP = 5


def _line(catalogue: Catalogue, lang: str, label: str, totals: Totals, currency: str) -> str:
    return catalogue.get(
        lang,
        "usage-line",
        label=label,
        turns=totals.turns,
        minutes=round(totals.seconds / 60, 1),
        cost=round(totals.cost, 2),
        currency=currency,
    )


async def on_usage(
    message: Message, bot: Bot, lang: str, catalogue: Catalogue, ledger: UsageLedger
) -> None:
    now = dt.datetime.now(dt.UTC)
    currency = ledger.prices.currency
    lines = [catalogue.get(lang, "usage-title")]
    if message.from_user is not None:
        uid = message.from_user.id
        lines.append(_line(catalogue, lang, catalogue.get(lang, "usage-you-today"),
                           await ledger.totals("u", uid, day_of(now)), currency))  # fmt: skip
        lines.append(_line(catalogue, lang, catalogue.get(lang, "usage-you-month"),
                           await ledger.totals("u", uid, month_of(now)), currency))  # fmt: skip
    if message.chat.type != "private":
        cid = message.chat.id
        lines.append(_line(catalogue, lang, catalogue.get(lang, "usage-chat-today"),
                           await ledger.totals("c", cid, day_of(now)), currency))  # fmt: skip
        lines.append(_line(catalogue, lang, catalogue.get(lang, "usage-chat-month"),
                           await ledger.totals("c", cid, month_of(now)), currency))  # fmt: skip
    await tell(bot, message, "\n".join(lines))


async def on_stats(
    message: Message,
    bot: Bot,
    lang: str,
    catalogue: Catalogue,
    ledger: UsageLedger,
    settings: Settings,
) -> None:
    if message.from_user is None or message.from_user.id not in settings.admin_ids:
        await tell(bot, message, catalogue.get(lang, "stats-owners-only"))
        return
    now = dt.datetime.now(dt.UTC)
    month = month_of(now)
    currency = ledger.prices.currency
    today = await ledger.totals("all", "all", day_of(now))
    this_month = await ledger.totals("all", "all", month)
    lines = [
        f"<b>{html.escape(catalogue.get(lang, 'stats-title'))}</b>",
        html.escape(_line(catalogue, lang, catalogue.get(lang, "usage-today"), today, currency)),
        html.escape(
            _line(catalogue, lang, catalogue.get(lang, "usage-month"), this_month, currency)
        ),
        html.escape(catalogue.get(lang, "stats-failures", failures=this_month.failures)),
    ]
    for scope, title in (("c", "stats-top-chats"), ("u", "stats-top-users")):
        top = await ledger.top(scope, month, TOP)
        if top:
            lines.append(f"\n<b>{html.escape(catalogue.get(lang, title))}</b>")
            lines += [f"{html.escape(who)}: {seconds / 60:.1f} min" for who, seconds in top]
    await tell(bot, message, "\n".join(lines), html_text=True)
    series = await ledger.daily("all", "all", 30, now)
    points = [(day, totals.seconds / 60, totals.turns) for day, totals in series]
    png = await asyncio.to_thread(usage_chart, points, catalogue.get(lang, "stats-chart"))
    await bot.send_photo(
        chat_id=message.chat.id,
        photo=BufferedInputFile(png, filename="usage.png"),
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
    )


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="usage")
    r.message.register(on_usage, Command("usage"))
    r.message.register(on_stats, Command("stats"))
    return r
