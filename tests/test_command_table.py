"""The table of commands and the feature routers: every command a router takes is a row of the
table and every row has a router; the table's menu and /help lines exist in every language; and
the routers hold their own refusals, so the bot behaves the same whatever order they come in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Router
from aiogram.filters import Command

from bot.i18n import LANGUAGES, Catalogue, Texts
from bot.telegram import dispatcher
from bot.telegram.commands import COMMANDS, MENUS, help_list, menu, spec
from bot.telegram.handlers import feature_routers, routers
from bot.telegram.handlers.common import register_change
from stand_ins.realtime import RealtimeStandIn
from tests.bot_harness import RunningBot, running_bot

GROUP = -100_555
ADMIN = 11
MEMBER = 22
REFUSED = "Only the chat's admins"


def commands_of(router: Router) -> set[str]:
    """The commands ``router``'s message handlers take (``Command`` filters, not negated)."""
    names: set[str] = set()
    for handler in router.message.handlers:
        for flt in handler.filters or []:
            if isinstance(flt.callback, Command):
                names |= {c for c in flt.callback.commands if isinstance(c, str)}
    return names


def test_every_routed_command_is_in_the_table_and_every_row_is_routed() -> None:
    routed = [commands_of(router) for router in routers()]
    assert set().union(*routed) == {command.name for command in COMMANDS}
    # One router a command: none relies on another's handlers.
    assert sum(len(names) for names in routed) == len(COMMANDS)


def test_menus_and_help_lines_exist_in_every_language() -> None:
    catalogue = Catalogue()
    for lang in LANGUAGES:
        for command in COMMANDS:
            assert catalogue.get(lang, command.menu)
        texts = Texts(catalogue, lang)
        for section in ("use", "settings"):
            assert help_list(texts, section).startswith("/")
    assert all(menu(place) for place in MENUS)
    assert "stats" not in {c.name for place in MENUS for c in menu(place)}  # owners': no menu


def test_a_change_needs_a_row_that_says_so() -> None:
    async def handler() -> None: ...

    with pytest.raises(ValueError, match="changes nothing"):
        register_change(Router(), handler, "usage")
    with pytest.raises(KeyError):
        register_change(Router(), handler, "greeting")
    assert spec("mode").changes


@pytest.fixture
async def app(
    realtime: RealtimeStandIn, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningBot]:
    # Every router in reverse: the features', and messages before them all.
    monkeypatch.setattr(dispatcher, "routers", lambda: list(reversed(routers())))
    assert len(feature_routers()) > 1
    async with running_bot(realtime, redis_url) as running:
        running.api.chat_admins[GROUP] = [
            {"status": "creator", "user": {"id": ADMIN, "is_bot": False, "first_name": "Ann"}}
        ]
        yield running


async def say(app: RunningBot, text: str, user_id: int, chat_id: int = GROUP) -> str:
    before = len([c for c in app.api.calls_of("sendMessage") if c.ok])
    kind = {"chat_type": "supergroup", "chat_title": "Team"} if chat_id == GROUP else {}
    app.api.push_message("text", chat_id=chat_id, user_id=user_id, text=text, **kind)
    calls = await app.api.wait_for(
        "sendMessage", count=before + 1, timeout=10, predicate=lambda c: c.ok
    )
    return calls[before].params["text"]


async def test_routers_in_reverse_order_refuse_members_and_let_admins_change(
    app: RunningBot,
) -> None:
    assert REFUSED in await say(app, "/mode all", MEMBER)
    assert "every voice note" in await say(app, "/mode all", ADMIN)
    assert REFUSED in await say(app, "/memory off", MEMBER)
    assert "off" in await say(app, "/memory off", ADMIN)
    assert REFUSED in await say(app, "/timezone Europe/Berlin", MEMBER)
    assert "Europe/Berlin" in await say(app, "/timezone Europe/Berlin", ADMIN)
    assert REFUSED in await say(app, "/reminders clear", MEMBER)
    # Reading stays anyone's.
    assert "every voice note" in await say(app, "/settings", MEMBER)
    # The voice keyboard: an admin's, refused to a member's tap.
    assert "Choose a voice" in await say(app, "/voice", ADMIN)
    picker = app.api.calls_of("sendMessage")[-1].result
    app.api.push_callback(
        chat_id=GROUP, user_id=MEMBER, data="voice:filipp", message=picker, chat_type="supergroup"
    )
    (tap,) = await app.api.wait_for("answerCallbackQuery", timeout=10)
    assert REFUSED in tap.params["text"]
    # In a private chat a command is still a command, not a message to hint about.
    assert "Choose a voice" in await say(app, "/voice", 5, chat_id=5)


def test_readme_lists_the_tables_commands_with_who_may_change_them() -> None:
    """README's command table and the command table name the same commands, and agree on who
    may change what: "owners" for the owners' commands, "admins" wherever some form changes
    the chat, "anyone" alone where nothing does."""
    import re
    from pathlib import Path

    from bot.telegram.commands import COMMANDS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.replace("\\|", "/").strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`/"):
            continue
        for name in re.findall(r"`/([a-z_]+)", cells[0]):
            rows[name] = f"{cells[1]} | {cells[2]}"
    assert sorted(rows) == sorted(command.name for command in COMMANDS)
    for command in COMMANDS:
        who, what = rows[command.name].split(" | ", 1)
        if command.who == "owners":
            assert who == "owners", command.name
        elif command.changes:  # the admins' forms are named in the row
            assert "admins" in who or "(admins)" in what, command.name
        else:
            assert who == "anyone", command.name


def test_menus_list_what_each_place_uses() -> None:
    """The settings /settings's buttons reach stay out of the menus (typed, they still work):
    a short menu per place, each naming only what can be used there."""

    names = {place: [command.name for command in menu(place)] for place in MENUS}
    assert names["private"] == [
        "start", "help", "settings", "voice", "notes", "reminders", "again", "usage", "reset",
    ]  # fmt: skip
    assert names["members"] == [
        "start", "help", "settings", "ask", "notes", "reminders", "again", "usage",
    ]  # fmt: skip
    assert names["admins"] == [
        "help", "settings", "ask", "voice", "notes", "reminders", "again", "usage", "reset",
    ]  # fmt: skip
