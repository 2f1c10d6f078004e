"""/usage for everyone, /stats for the bot's owners."""

from __future__ import annotations

import asyncio
import datetime as dt
import html

from aiogram import Bot, Router
from aiogram.types import BufferedInputFile, Message

from bot.config import Settings
from bot.domain import Totals, day_of, month_of
from bot.i18n import Texts
from bot.storage.usage import UsageLedger
from bot.telegram.chart import usage_chart
from bot.telegram.handlers.common import command
from bot.telegram.media import sender_of
from bot.telegram.ports import tell, thread_of

__all__ = ["router"]

TOP = 5


def _line(texts: Texts, label: str, totals: Totals, currency: str) -> str:
    return texts(
        "usage-line",
        label=label,
        turns=totals.turns,
        minutes=round(totals.seconds / 60, 1),
        cost=round(totals.cost, 2),
        currency=currency,
    )


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
    ]
    for scope, title in (("c", "stats-top-chats"), ("u", "stats-top-users")):
        top = await ledger.top(scope, month, TOP)
        if top:
            lines.append(f"\n<b>{html.escape(texts(title))}</b>")
            lines += [f"{html.escape(who)}: {seconds / 60:.1f} min" for who, seconds in top]
    await tell(bot, message, "\n".join(lines), html_text=True)
    series = await ledger.daily("all", "all", 30, now)
    points = [(day, totals.seconds / 60, totals.turns) for day, totals in series]
    png = await asyncio.to_thread(usage_chart, points, texts("stats-chart"))
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
