"""The chat's settings: /settings shows them (anyone) with an inline menu under them, a button for
each setting the chat may change (the rows of ``bot.chat_options`` with a ``menu`` key, in their
order), each showing its value. The chat's admins change a setting by pressing: a switch or a
choice changes in place; the voice and the language open their pickers (``voice.voices_view`` and
``language.language_view``, given to ``router``; their taps are their routers'); the tools open a
keyboard of their own; the instructions offer presets; a setting typed in full (the time zone)
tells its command. Anyone else's press is refused, as a command of theirs would be. The commands
stay the shortcuts.

A button's data is ``set:`` (this menu's version), then ``menu`` (the menu again), ``NAME``
(the setting's own view, or how to set it), ``NAME:VALUE`` (a switch or a choice),
``tools:TOOL:on|off`` or ``instructions:PRESET`` (``own``: how to write them). Anything else
after ``set:``, or a press this chat cannot make (the mode in a private chat, a tool the bot
does not have), is told it is out of date and changes nothing.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Filter
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)

from bot.chat_options import (
    INSTRUCTIONS,
    LANGUAGE,
    MEMORY,
    OPTIONS,
    TOOL_FIELD,
    TOOLS,
    VOICE,
    ChatOption,
)
from bot.config import DEFAULT_INSTRUCTIONS, Settings
from bot.domain import ChatSettings
from bot.i18n import LANGUAGES, Texts
from bot.provider_profiles import PROFILES
from bot.storage.chat_settings import ChatSettingsStore
from bot.storage.memory import ConversationMemory
from bot.telegram.filters import IsChatAdmin, StillAdmin
from bot.telegram.handlers.common import command, live_on, refuse
from bot.telegram.ports import thread_of
from bot.telegram.tool_words import tools_of
from bot.telegram.voices import effective_role, kept_line
from bot.tools import ToolKit

__all__ = ["PREFIX", "PRESETS", "Picker", "parse_press", "router", "settings_text"]

log = logging.getLogger(__name__)

# The version of the buttons' data: a menu laid out otherwise takes another prefix, and the
# old buttons are then told they are out of date.
PREFIX = "set:"
MENU = "menu"
# The instructions' presets, each a catalogue text ``instructions-preset-NAME-text``; the
# first is the deployment's own instructions (the chat's are emptied: the default again).
PRESETS = ("brief", "friendly", "formal")
OWN = "own"
BACK = MENU

# A picker another router draws and takes the taps of (``voice.voices_view``,
# ``language.language_view``): its text and keyboard for the reader, the deployment and the chat.
Picker = Callable[[Texts, Settings, ChatSettings], tuple[str, InlineKeyboardMarkup]]


@dataclass(frozen=True)
class Press:
    """What a button asks: the menu (``option`` None), a setting's view (``value`` empty), or a
    setting's new value (a tool's, for the tools)."""

    option: ChatOption[Any] | None
    value: str = ""
    tool: str = ""


@dataclass(frozen=True)
class View:
    """What the menu's message becomes."""

    text: str
    markup: InlineKeyboardMarkup
    html_text: bool = False


def menu_options(chat_type: str) -> tuple[ChatOption[Any], ...]:
    """The settings the menu offers in a chat of ``chat_type``, in their order."""
    private = chat_type == "private"
    return tuple(o for o in OPTIONS if o.menu is not None and not (private and o.groups_only))


def parse_press(data: str, chat_type: str, tools: Sequence[str]) -> Press | None:
    """The press ``data`` (after the prefix) stands for in a chat of ``chat_type`` with the tools
    ``tools``, or None when this menu has no such button there."""
    name, *rest = data.split(":")
    if name == MENU:
        return None if rest else Press(None)
    option = next((o for o in menu_options(chat_type) if o.name == name), None)
    if option is None or (option is TOOLS and not tools):
        return None
    if not rest:
        # A switch or a choice has no view: its button carries the value it sets.
        return None if option.codec.words and option is not TOOLS else Press(option)
    if option is TOOLS:
        if len(rest) == 2 and rest[0] in tools and rest[1] in TOOLS.codec.words:
            return Press(option, rest[1], tool=rest[0])
        return None
    if option is INSTRUCTIONS:
        return Press(option, rest[0]) if len(rest) == 1 and rest[0] in (*PRESETS, OWN) else None
    if len(rest) == 1 and rest[0] in option.codec.words and option.accepts(rest[0]):
        return Press(option, rest[0])
    return None


class Pressed(Filter):
    """A press of one of this menu's buttons that the chat can make: gives the handler
    ``press``. A press on a message the bot can no longer read is not."""

    async def __call__(self, query: CallbackQuery, tool_kit: ToolKit) -> bool | dict[str, Any]:
        data = query.data or ""
        if not isinstance(query.message, Message) or not data.startswith(PREFIX):
            return False
        press = parse_press(data[len(PREFIX) :], query.message.chat.type, tool_kit.available())
        return {"press": press} if press is not None else False


def settings_text(
    texts: Callable[..., str],
    chat_settings: ChatSettings,
    resolved: Mapping[str, object],
    options: Sequence[ChatOption[Any]] = OPTIONS,
) -> str:
    """/settings: a line for each declared option that is shown, in their order, with the value
    the chat has (``resolved`` gives it for those whose value depends on more than the chat's
    settings: a default of the deployment's, the tools available; None there leaves the line
    out: a role where the voice has none)."""
    lines = []
    for option in options:
        if option.shown is None:
            continue
        value = (
            resolved[option.name] if option.name in resolved else chat_settings.value(option.name)
        )
        if value is None:
            continue
        shown = option.show(value)
        if option.words is not None:
            shown = texts(f"{option.words}{shown}")
        else:
            if option.preview and len(shown) > option.preview:
                shown = shown[: option.preview].rstrip() + "…"
            shown = html.escape(shown)
        lines.append(texts(option.shown, value=shown))
    return texts("settings", lines="\n".join(lines))


def preset_text(texts: Texts, preset: str) -> str:
    """The instructions a chat stores for ``preset``, in the reader's language; the first
    preset's are empty: the deployment's own again."""
    return "" if preset == PRESETS[0] else texts(f"instructions-preset-{preset}-text")


def preset_of(texts: Texts, instructions: str, settings: Settings) -> str:
    """The preset ``instructions`` are (in any language), or ``OWN``."""
    if instructions == settings.default_instructions:
        return PRESETS[0]
    for preset in PRESETS[1:]:
        key = f"instructions-preset-{preset}-text"
        if any(instructions == texts.catalogue.get(lang, key) for lang in LANGUAGES):
            return preset
    return OWN


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=PREFIX + data)


def _back(texts: Texts) -> list[InlineKeyboardButton]:
    return [_button(texts("settings-menu-back"), BACK)]


def _value(
    option: ChatOption[Any],
    chat_settings: ChatSettings,
    chat_type: str,
    settings: Settings,
    tool_kit: ToolKit,
) -> object:
    """The value the chat has for ``option``: its own, else the default it gets."""
    if option.name == "live":
        return live_on(chat_settings, settings)
    if option.name == "transcript":
        return chat_settings.shows_transcript(chat_type)
    if option.name == "timezone":
        return tool_kit.timezone_for(chat_settings)
    return chat_settings.value(option.name)


def _menu_button(
    texts: Texts,
    option: ChatOption[Any],
    chat_settings: ChatSettings,
    chat_type: str,
    settings: Settings,
    tool_kit: ToolKit,
) -> InlineKeyboardButton:
    if option is TOOLS:
        available = tool_kit.available()
        on = len(tools_of(tool_kit, chat_settings))
        shown = texts("settings-menu-tools-count", on=on, all=len(available))
        return _button(texts(option.menu or "", value=shown), option.name)
    if option is INSTRUCTIONS:
        preset = preset_of(texts, chat_settings.instructions, settings)
        shown = texts(f"instructions-preset-{preset}")
        return _button(texts(option.menu or "", value=shown), option.name)
    # A switch's or a choice's stored word (each language words it), else the value as is.
    value = option.show(_value(option, chat_settings, chat_type, settings, tool_kit))
    label = texts(option.menu or "", value=value)
    words = option.codec.words
    if words and value in words:  # pressed, it takes the next of its values
        following = words[(words.index(value) + 1) % len(words)]
        return _button(label, f"{option.name}:{following}")
    return _button(label, option.name)


def main_view(
    texts: Texts, chat_settings: ChatSettings, chat_type: str, settings: Settings, tool_kit: ToolKit
) -> View:
    """/settings: the chat's settings and a button for each it may change."""
    # What the chat gets where it chose nothing, or what only the tools know.
    profile = PROFILES[settings.realtime_provider]
    resolved = {
        "live": live_on(chat_settings, settings),
        "tools": ", ".join(tools_of(tool_kit, chat_settings)) or texts("tools-none-on"),
        "timezone": tool_kit.timezone_for(chat_settings),
        # The role the voice speaks in (none shown where it has none); the voices kept for
        # other languages, where there are any.
        "role": effective_role(profile, chat_settings) or None,
        "voices": kept_line(profile, chat_settings),
    }
    if "instructions" not in chat_settings.custom and (
        settings.default_instructions == DEFAULT_INSTRUCTIONS
    ):
        # The built-in instructions are Russian: the reader gets what they say, in their words.
        resolved["instructions"] = texts("settings-instructions-default")
    rows = [
        [_menu_button(texts, option, chat_settings, chat_type, settings, tool_kit)]
        for option in menu_options(chat_type)
        if option is not TOOLS or tool_kit.available()
    ]
    text = settings_text(texts, chat_settings, resolved)
    return View(text, InlineKeyboardMarkup(inline_keyboard=rows), html_text=True)


def tools_view(texts: Texts, chat_settings: ChatSettings, tool_kit: ToolKit) -> View:
    """The tools, each a button that switches it."""
    enabled = tool_kit.enabled_for(chat_settings)
    lines = [texts("tools-title")]
    rows = []
    for name in tool_kit.available():
        on = name in enabled
        mark = "✅" if on else "⛔"
        lines.append(texts("tools-line", mark=mark, tool=name, description=texts(f"tool-{name}")))
        label = f"{mark} {texts(f'tool-name-{name}')}"  # the name people read
        rows.append([_button(label, f"{TOOLS.name}:{name}:{'off' if on else 'on'}")])
    rows.append(_back(texts))
    return View("\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))


def presets_view(texts: Texts, chat_settings: ChatSettings, settings: Settings) -> View:
    """The chat's instructions, and a button for each preset and for writing one's own."""
    current = preset_of(texts, chat_settings.instructions, settings)
    rows = []
    for preset in PRESETS:
        label = texts(f"instructions-preset-{preset}-button")
        label = f"✓ {label}" if preset == current else label
        rows.append([_button(label, f"{INSTRUCTIONS.name}:{preset}")])
    rows.append([_button(texts("settings-menu-write-own"), f"{INSTRUCTIONS.name}:{OWN}")])
    rows.append(_back(texts))
    text = texts(
        "instructions-show",
        instructions=chat_settings.instructions,
        limit=settings.max_instructions_chars,
    )
    return View(text, InlineKeyboardMarkup(inline_keyboard=rows))


class SettingsMenu:
    """The menu's presses; the voice's and the language's pickers are their routers', given
    here (their taps are those routers')."""

    def __init__(self, pickers: Mapping[str, Picker]) -> None:
        self.pickers = pickers

    def picker_view(
        self, option: ChatOption[Any], texts: Texts, chat_settings: ChatSettings, settings: Settings
    ) -> View:
        text, picker = self.pickers[option.name](texts, settings, chat_settings)
        rows = [*picker.inline_keyboard, _back(texts)]
        return View(text, InlineKeyboardMarkup(inline_keyboard=rows))

    async def on_press(
        self,
        query: CallbackQuery,
        press: Press,
        bot: Bot,
        texts: Texts,
        settings_store: ChatSettingsStore,
        settings: Settings,
        tool_kit: ToolKit,
        memory: ConversationMemory,
    ) -> None:
        message = query.message
        assert isinstance(message, Message)  # Pressed lets no other press through
        chat_id, chat_type = message.chat.id, message.chat.type
        option, value = press.option, press.value
        hint = _hint(texts, press, settings)
        if hint:  # changes nothing: says how
            await query.answer(hint, show_alert=True)
            return
        said = ""
        if option is TOOLS and value:
            await settings_store.set(chat_id, **{f"{TOOL_FIELD}{press.tool}": value})
            said = texts(f"tools-set-{value}", tool=press.tool)
        elif option is INSTRUCTIONS and value:
            await settings_store.set(chat_id, instructions=preset_text(texts, value))
            said = texts("instructions-set")
        elif option is not None and value:
            await settings_store.set(chat_id, **{option.name: value})
            if option is MEMORY and value == "off":  # as /memory off does
                await memory.forget(chat_id)
        chat_settings = await settings_store.get(chat_id)
        if option is not None and option.name in self.pickers:
            view = self.picker_view(option, texts, chat_settings, settings)
        elif option is TOOLS:
            view = tools_view(texts, chat_settings, tool_kit)
        elif option is INSTRUCTIONS:
            view = presets_view(texts, chat_settings, settings)
        else:
            view = main_view(texts, chat_settings, chat_type, settings, tool_kit)
            if option is not None:  # its button, with the new value, says what changed
                button = _menu_button(texts, option, chat_settings, chat_type, settings, tool_kit)
                said = button.text
        await query.answer(said or None)
        await show(bot, message, view)


def _hint(texts: Texts, press: Press, settings: Settings) -> str:
    """What a press that changes nothing says (how to write one's own instructions; how to set
    a setting typed in full, as the time zone), or "" for any other press."""
    option = press.option
    limit = settings.max_instructions_chars
    if option is INSTRUCTIONS and press.value == OWN:
        return texts("settings-menu-own-how", limit=limit)
    if option is INSTRUCTIONS and press.value:
        text = preset_text(texts, press.value)
        too_long = len(text) > limit  # a deployment's limit below the preset's length
        return texts("instructions-too-long", length=len(text), limit=limit) if too_long else ""
    if option is None or press.value or option in (VOICE, LANGUAGE, TOOLS, INSTRUCTIONS):
        return ""
    return texts(f"settings-menu-how-{option.name}")


async def show(bot: Bot, message: Message, view: View) -> None:
    """``message`` becomes ``view``; a failure (the message is gone, or already shows it) is
    logged, not raised: the change itself is made."""
    try:
        await bot.edit_message_text(
            chat_id=message.chat.id,
            message_id=message.message_id,
            text=view.text,
            parse_mode="HTML" if view.html_text else None,
            reply_markup=view.markup,
        )
    except TelegramAPIError as exc:
        log.info("could not edit the settings menu in chat %s: %s", message.chat.id, exc)


async def on_settings(
    message: Message,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings: Settings,
    tool_kit: ToolKit,
) -> None:
    view = main_view(texts, chat_settings, message.chat.type, settings, tool_kit)
    try:
        await bot.send_message(
            chat_id=message.chat.id,
            text=view.text,
            parse_mode="HTML",
            reply_markup=view.markup,
            message_thread_id=thread_of(message),
            reply_parameters=ReplyParameters(
                message_id=message.message_id, allow_sending_without_reply=True
            ),
        )
    except TelegramAPIError as exc:
        log.info("could not send the settings to chat %s: %s", message.chat.id, exc)


async def on_stale(query: CallbackQuery, texts: Texts) -> None:
    """A button of this menu that is no more (or never was): nothing changes."""
    await query.answer(texts("settings-menu-stale"))


def router(*, voice_view: Picker, language_view: Picker) -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only); the voice
    and language pickers are ``voice_view``'s and ``language_view``'s (their routers' handlers
    take their taps)."""
    r = Router(name="settings")
    r.message.register(on_settings, command("settings"))
    menu = SettingsMenu({VOICE.name: voice_view, LANGUAGE.name: language_view})
    # As a change by command: the admins', then, right after, the refusal for anyone else.
    r.callback_query.register(menu.on_press, Pressed(), IsChatAdmin(), StillAdmin())
    r.callback_query.register(refuse, Pressed())
    r.callback_query.register(on_stale, F.data.startswith(PREFIX))
    return r
