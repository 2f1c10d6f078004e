"""A chat's settings, each declared once: the rows of ``OPTIONS``.

A ``ChatOption`` says everything the bot needs to know of one setting: its name (the field of the
chat's settings hash and the ``ChatSettings`` attribute), how the stored string becomes its value
and back (its ``Codec``) and which values it takes, its default (a constant, or taken from the bot's
``Defaults``), the command that changes it (admins only), how ``/settings`` shows it, and, for a
voice option, its key in the session (``session_field``: where its value goes in ``session.update``
is the provider profile's to say). Every layer reads the rows: the storage decodes and checks a
chat's fields by them (``settings_from``, ``check_fields``), ``/settings`` draws its lines from them
in their order, and the turn's setup gives the model the values of the session options
(``session_options``), which the provider's profile places in ``session.update``. A new voice option
is one row here, its field in the profiles of the providers that take it, and its line in each
locale; nothing else changes.

Pure values and functions, like ``bot.domain`` just below: no I/O, no adapter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain import ChatSettings, Defaults

__all__ = [
    "ANSWER",
    "ANSWER_FORMS",
    "INSTRUCTIONS",
    "LANGUAGE",
    "LIVE",
    "MEMORY",
    "MODE",
    "OPTIONS",
    "ROLE",
    "SPEED",
    "SPEED_WORDS",
    "SWITCH",
    "TEXT",
    "TIMEZONE",
    "TOOLS",
    "TOOL_FIELD",
    "TRANSCRIPT",
    "VOICE",
    "VOICES",
    "VOICE_FOR",
    "ChatOption",
    "Codec",
    "OptionFamily",
    "check_fields",
    "choice",
    "number",
    "session_options",
    "settings_from",
]

T = TypeVar("T")

# A tool's switch is the hash field "tool:NAME".
TOOL_FIELD = "tool:"


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a stored string becomes a value (``decode``, which raises ValueError for a string the
    option does not take) and a value the string stored for it (``encode``); ``words``: every
    string it takes, when they are few (a switch's, a choice's), else empty."""

    decode: Callable[[str], T]
    encode: Callable[[T], str]
    words: tuple[str, ...] = ()


def _text(stored: str) -> str:
    if not stored:
        raise ValueError("empty")
    return stored


def _switch(stored: str) -> bool:
    if stored not in ("on", "off"):
        raise ValueError(f"not on or off: {stored!r}")
    return stored == "on"


# Any text but the empty one (which reads as the default).
TEXT: Codec[str] = Codec(_text, str)
# "on" or "off", a bool.
SWITCH: Codec[bool] = Codec(_switch, lambda on: "on" if on else "off", ("on", "off"))


def choice(*words: str) -> Codec[str]:
    """One of ``words``, as it is."""

    def decode(stored: str) -> str:
        if stored not in words:
            raise ValueError(f"not one of {', '.join(words)}: {stored!r}")
        return stored

    return Codec(decode, str, words)


def number(low: float, high: float) -> Codec[float]:
    """A number from ``low`` to ``high``, both included ("1.2")."""

    def decode(stored: str) -> float:
        value = float(stored)
        if not low <= value <= high:
            raise ValueError(f"not within {low:g}–{high:g}: {stored!r}")
        return value

    return Codec(decode, lambda value: f"{value:g}")


def _known_zone(name: str) -> bool:
    """An IANA time zone this machine's database knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class ChatOption(Generic[T]):
    """One setting of a chat.

    ``default`` is the value of a chat that chose nothing (or stored a string the option does not
    take), unless ``from_defaults`` takes it from the bot's ``Defaults``; None means "the
    deployment's default", which the reader resolves (``live``: ``LIVE_ANSWERS``). ``check`` narrows
    what the codec takes (a known time zone); a check that needs what only an adapter knows (the
    provider's voices) is that adapter's, before it stores. ``command`` is the command that changes
    it; every change is the chat's admins' (``admins_only``). ``shown`` is the catalogue key of its
    line in ``/settings`` (given ``$value``; None: not shown), its value shown as the catalogue's
    words ``words`` + the stored string ("mode-" → ``mode-all``) or, without ``words``, as text, cut
    to ``preview`` characters (0: whole). ``session_field``: a voice option, whose value goes to the
    model in the session where the provider's profile places it
    (``bot.provider_profiles.Profile.session_fields``, by this key: ``speed`` is
    ``audio.output.speed`` on OpenAI, and made by the bot on Yandex); None when it is not sent (or
    sent by a field of its own: the voice, the instructions). ``menu``: the catalogue key of its
    button in the /settings menu (None: no button), given ``$value``: the stored word of a switch or
    a choice (the codec's ``words``), else the value as shown; offered in groups only when
    ``groups_only``."""

    name: str
    codec: Codec[T]
    default: T | None = None
    from_defaults: Callable[[Defaults], T] | None = None
    check: Callable[[T], bool] | None = None
    command: str | None = None
    admins_only: bool = True
    shown: str | None = None
    words: str | None = None
    preview: int = 0
    session_field: str | None = None
    menu: str | None = None
    groups_only: bool = False

    def holds(self, field: str) -> bool:
        """Whether the hash field ``field`` is this option's."""
        return field == self.name

    def decode(self, stored: str) -> T:
        """The value ``stored`` says; ValueError when the option does not take it."""
        value = self.codec.decode(stored)
        if self.check is not None and not self.check(value):
            raise ValueError(f"{self.name} does not take {stored!r}")
        return value

    def accepts(self, stored: str) -> bool:
        """Whether the option takes the string ``stored``."""
        try:
            self.decode(stored)
        except ValueError:
            return False
        return True

    def default_for(self, defaults: Defaults) -> T | None:
        return self.from_defaults(defaults) if self.from_defaults else self.default

    def read(self, raw: Mapping[str, str], defaults: Defaults) -> object:
        """The option's value in the chat's hash ``raw``: what it stored, else the default."""
        stored = raw.get(self.name)
        if stored is not None:
            try:
                return self.decode(stored)
            except ValueError:
                pass
        return self.default_for(defaults)

    def show(self, value: object) -> str:
        """``value`` as the string ``/settings`` words or shows (before escaping)."""
        return value if isinstance(value, str) else self.codec.encode(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class OptionFamily(ChatOption[T]):
    """Settings of one kind, one hash field each: ``prefix`` + a member's name (a tool's switch,
    ``tool:clock``). The value is the (member, value) pairs the chat set, sorted by member;
    fields holding a string the codec does not take are left out."""

    prefix: str = ""

    def holds(self, field: str) -> bool:
        return field.startswith(self.prefix)

    def read(self, raw: Mapping[str, str], defaults: Defaults) -> object:
        return tuple(
            sorted(
                (field.removeprefix(self.prefix), self.decode(stored))
                for field, stored in raw.items()
                if self.holds(field) and self.accepts(stored)
            )
        )


# The rows, in the order of /settings. Voice and instructions have fields of their own in the
# session (the instructions go with what the tools tell the model): no ``session_field``.
VOICE: ChatOption[str] = ChatOption(
    "voice",
    TEXT,
    from_defaults=lambda d: d.voice,
    command="voice",
    shown="settings-voice",
    menu="settings-menu-voice",
)
MODE: ChatOption[str] = ChatOption(
    "mode",
    choice("replies", "all"),
    from_defaults=lambda d: d.mode,
    command="mode",
    shown="settings-mode",
    words="mode-",
    menu="settings-menu-mode",
    groups_only=True,
)
# None: the deployment's LIVE_ANSWERS.
LIVE: ChatOption[bool] = ChatOption(
    "live",
    SWITCH,
    command="live",
    shown="settings-live",
    words="live-state-",  # each setting agrees its own words ("включены")
    menu="settings-menu-live",
)
TOOLS: OptionFamily[bool] = OptionFamily(
    "tools",
    SWITCH,
    command="tools",
    shown="settings-tools",
    menu="settings-menu-tools",
    prefix=TOOL_FIELD,
)
# None: the deployment's DEFAULT_TIMEZONE.
TIMEZONE: ChatOption[str] = ChatOption(
    "timezone",
    TEXT,
    check=_known_zone,
    command="timezone",
    shown="settings-timezone",
    menu="settings-menu-timezone",
)
INSTRUCTIONS: ChatOption[str] = ChatOption(
    "instructions",
    TEXT,
    from_defaults=lambda d: d.instructions,
    command="instructions",
    shown="settings-instructions",
    preview=300,
    menu="settings-menu-instructions",
)
MEMORY: ChatOption[bool] = ChatOption(
    "memory", SWITCH, default=True, command="memory", menu="settings-menu-memory"
)
# None: off in private chats, on in groups.
TRANSCRIPT: ChatOption[bool] = ChatOption(
    "transcript", SWITCH, command="transcript", menu="settings-menu-transcript"
)
# How answers come: a voice note and its text (the default); the voice note alone; a typed
# question answered in text only (the model asked for text: cheaper), a voice note in voice.
ANSWER_FORMS = ("voice_text", "voice", "text_for_text")
ANSWER: ChatOption[str] = ChatOption(
    "answer",
    choice(*ANSWER_FORMS),
    default=ANSWER_FORMS[0],
    command="answer",
    shown="settings-answer",
    words="answer-",
    menu="settings-menu-answer",
)

# The voice's manner (a Yandex voice's role): None, the voice's own default. Set in the voice
# picker after the voice; a role the chat's voice lacks is never sent, and kept only while the
# voice has it (the picker drops it when the voice changes to one without it).
ROLE: ChatOption[str] = ChatOption(
    "role",
    TEXT,
    command="voice",
    shown="settings-role",
    words="role-",
    session_field="role",
)
# How fast the voice speaks: sent where the provider takes a speed, else the bot changes the
# reply's tempo itself (its pitch kept).
SPEED_WORDS = ("0.8", "1", "1.25", "1.5")
_SPEED_WORD = choice(*SPEED_WORDS)
SPEED: ChatOption[float] = ChatOption(
    "speed",
    Codec(lambda stored: float(_SPEED_WORD.decode(stored)), lambda v: f"{v:g}", SPEED_WORDS),
    default=1.0,
    command="speed",
    shown="settings-speed",
    session_field="speed",
    menu="settings-menu-speed",
)


def _language_tag(stored: str) -> str:
    """``auto`` or a language tag with its region, as the providers take them (``kk-KZ``)."""
    language, _, region = stored.partition("-")
    if stored != "auto" and not (
        len(language) == 2 and language.islower() and len(region) == 2 and region.isupper()
    ):
        raise ValueError(f"not auto or a tag such as ru-RU: {stored!r}")
    return stored


# The language the model listens for: "auto" (the provider's own guess), or one fixed.
LANGUAGE: ChatOption[str] = ChatOption(
    "language",
    Codec(_language_tag, str),
    default="auto",
    command="language",
    shown="settings-language",
    words="language-",
    session_field="language",
    menu="settings-menu-language",
)
# One voice per language ("voice_for:kk" = "madi"), kept as admins pick voices: a turn in
# another language the chat keeps a voice for is answered in that voice.
VOICE_FOR = "voice_for:"
VOICES: OptionFamily[str] = OptionFamily(
    "voices",
    TEXT,
    command="voice",
    shown="settings-voices",
    prefix=VOICE_FOR,
)

OPTIONS: tuple[ChatOption[Any], ...] = (
    VOICE,
    ROLE,
    SPEED,
    LANGUAGE,
    VOICES,
    MODE,
    LIVE,
    TOOLS,
    TIMEZONE,
    INSTRUCTIONS,
    MEMORY,
    TRANSCRIPT,
    ANSWER,
)

_NAMED = frozenset(f.name for f in dataclasses.fields(ChatSettings)) - {"custom", "extra"}


def settings_from(
    raw: Mapping[str, str], defaults: Defaults, options: Sequence[ChatOption[Any]] = OPTIONS
) -> ChatSettings:
    """The settings of a chat whose hash is ``raw`` (``{}``: a chat that chose nothing): each
    option's value, its default where it stored none it takes. An option ``ChatSettings`` has
    no field for is in its ``extra``."""
    values = {option.name: option.read(raw, defaults) for option in options}
    named: dict[str, Any] = {name: v for name, v in values.items() if name in _NAMED}
    extra = {name: v for name, v in values.items() if name not in _NAMED}
    return ChatSettings(**named, custom=frozenset(raw), extra=extra)


def check_fields(fields: Mapping[str, str], options: Iterable[ChatOption[Any]] = OPTIONS) -> None:
    """ValueError unless each of ``fields`` is an option's and holds a value it takes (or the
    empty string, which reads as the default)."""
    options = tuple(options)
    for field, stored in fields.items():
        option = next((o for o in options if o.holds(field)), None)
        if option is None:
            raise ValueError(f"unknown chat setting: {field!r}")
        if stored != "" and not option.accepts(stored):
            raise ValueError(f"chat setting {field!r} does not take {stored!r}")


def session_options(
    settings: ChatSettings, options: Iterable[ChatOption[Any]] = OPTIONS
) -> dict[str, object]:
    """The values of the chat's voice options, by their ``session_field`` key (a value of None,
    the provider's default, is not given): the provider's profile places them."""
    placed: dict[str, object] = {}
    for option in options:
        if option.session_field is not None:
            value = settings.value(option.name)
            if value is not None:
                placed[option.session_field] = value
    return placed
