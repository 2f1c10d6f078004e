"""Every command the bot knows, in one table: where the menu offers it, to whom, whether some of
its forms change the chat (those are the admins'), and its lines in /help.

The table drives the commands menu of every scope and language (``menu``), /help's lists
(``help_list``) and the commands the feature routers may register (``spec``: a name not in the
table is a bug; a change registered for a command the table says changes nothing, too).

Telegram shows one menu per place: ``members`` (the default scope: a group's members), ``private``
(private chats) and ``admins`` (a group's administrators).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from bot.i18n import Texts

__all__ = [
    "ADMINS",
    "COMMANDS",
    "EVERYONE",
    "MENUS",
    "PRIVATE",
    "CommandSpec",
    "HelpLine",
    "Menu",
    "help_list",
    "menu",
    "spec",
]

Scope = Literal["private", "groups", "both"]
Who = Literal["everyone", "admins", "owners"]
Menu = Literal["members", "private", "admins"]
Section = Literal["use", "settings"]

MENUS: tuple[Menu, ...] = ("members", "private", "admins")


class HelpLine(NamedTuple):
    """A line of /help: its section ("use": what anyone may do, in /help itself; "settings":
    what the chat's admins set, behind its "More" button) and its place in that section. Its
    text is the catalogue's ``help-SECTION-NAME``."""

    section: Section
    place: int


@dataclass(frozen=True)
class CommandSpec:
    """One command. ``scope`` and ``who`` say which menus offer it (``owners``: none; the group
    admins' menu leaves out a command with ``admins_menu`` False); ``changes``: some of its
    forms change the chat, and only the chat's admins may use those (``IsChatAdmin``, then
    ``StillAdmin``), anyone else is refused; ``menu``: the catalogue key of its menu line."""

    name: str
    scope: Scope
    who: Who
    changes: bool = False
    help: tuple[HelpLine, ...] = ()
    admins_menu: bool = True
    menu: str = ""
    # False: left out of every menu, as /settings's buttons reach it (or another command does
    # the same); typed, it works, and /help lists it.
    in_menus: bool = True

    def __post_init__(self) -> None:
        if not self.menu:
            object.__setattr__(self, "menu", f"menu-{self.name}")

    def offered_in(self, place: Menu) -> bool:
        """Whether the menu of ``place`` lists this command."""
        if self.who == "owners" or not self.in_menus:
            return False
        if place == "private":
            return self.scope != "groups"
        if self.scope == "private":
            return False
        if place == "members":
            return self.who == "everyone"
        return self.admins_menu


def _use(place: int) -> HelpLine:
    return HelpLine("use", place)


def _setting(place: int) -> HelpLine:
    return HelpLine("settings", place)


# In the order the menus list them.
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "both", "everyone", admins_menu=False),
    CommandSpec("help", "both", "everyone"),
    CommandSpec("settings", "both", "everyone", help=(_use(1),)),
    CommandSpec("ask", "groups", "everyone"),
    CommandSpec("voice", "both", "admins", changes=True, help=(_setting(1),)),
    CommandSpec("voices", "both", "everyone", help=(_setting(1),), in_menus=False),
    CommandSpec("speed", "both", "admins", changes=True, help=(_setting(16),), in_menus=False),
    CommandSpec("language", "both", "admins", changes=True, help=(_setting(17),), in_menus=False),
    CommandSpec(
        "instructions",
        "both",
        "admins",
        changes=True,
        help=(_setting(2),),
        in_menus=False,
    ),
    CommandSpec("mode", "groups", "admins", changes=True, help=(_setting(3),), in_menus=False),
    CommandSpec("forget", "both", "admins", changes=True, help=(_setting(6),), in_menus=False),
    CommandSpec("memory", "both", "admins", changes=True, help=(_setting(7),), in_menus=False),
    CommandSpec("transcript", "both", "admins", changes=True, help=(_setting(8),), in_menus=False),
    CommandSpec("live", "both", "admins", changes=True, help=(_setting(9),), in_menus=False),
    CommandSpec("answer", "both", "admins", changes=True, help=(_setting(15),), in_menus=False),
    CommandSpec(
        "tools",
        "both",
        "admins",
        changes=True,
        help=(_use(2), _setting(10)),
        in_menus=False,
    ),
    CommandSpec("timezone", "both", "admins", changes=True, help=(_setting(11),), in_menus=False),
    # Its settings line is /notes clear's and /reminders clear's.
    CommandSpec("notes", "both", "everyone", changes=True, help=(_use(3), _setting(12))),
    CommandSpec("reminders", "both", "everyone", changes=True, help=(_use(4),)),
    CommandSpec("again", "both", "everyone", help=(_use(6),)),
    CommandSpec("usage", "both", "everyone", help=(_use(5),)),
    # /reset starts a new conversation (as /forget); /reset settings, the defaults again.
    CommandSpec("reset", "both", "admins", changes=True, help=(_setting(4),)),
    CommandSpec("stats", "both", "owners"),
)

_BY_NAME = {command.name: command for command in COMMANDS}


def spec(name: str) -> CommandSpec:
    """The table's row of ``/name``; KeyError when the table has none."""
    return _BY_NAME[name]


def menu(place: Menu) -> tuple[CommandSpec, ...]:
    """The commands the menu of ``place`` lists, in order."""
    return tuple(command for command in COMMANDS if command.offered_in(place))


def help_list(texts: Texts, section: Section) -> str:
    """The lines of /help's ``section``, one a command (or two, where a command has two)."""
    lines = sorted(
        (line.place, command.name)
        for command in COMMANDS
        for line in command.help
        if line.section == section
    )
    return "\n".join(texts(f"help-{section}-{name}") for _, name in lines)


# The menus' commands by name.
EVERYONE = tuple(command.name for command in menu("members"))
PRIVATE = tuple(command.name for command in menu("private"))
ADMINS = tuple(command.name for command in menu("admins"))
