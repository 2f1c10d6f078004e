"""The voice studio (admins choose; anyone listens).

``/voice`` shows the provider's voices grouped by language, each with a ▶ button that plays a
sample of it; a tap on a voice sets it and opens its own screen: a sample and a button per role
(manner) the voice has, the speeds, and back to the voices. ``/voice NAME [ROLE]`` sets one at once;
``/voices`` lists them, the chat's marked; ``/speed X`` sets the speed. A chat keeps the voice
an admin chose for each language (``voice_for:LANG``), so a turn in another of those languages
is answered in its voice (``bot.core.voices``); "one voice for every language" forgets the
others. A role is kept across a change of voice only if the new voice has it.

Samples are anyone's to hear: made once by the model and then sent by their Telegram file_id
(``bot.core.samples``). Every change is the chat's admins'; anyone else's tap is refused.

Callback data: ``voice:NAME`` (set the voice), ``vs:r:ROLE``, ``vs:s:SPEED``, ``vs:one``,
``vs:list`` (admins), ``vs:h:VOICE:ROLE`` (a sample, anyone; ROLE empty: the voice's default).
"""

from __future__ import annotations

import contextlib
import html
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.chat_options import SPEED, SPEED_WORDS, VOICE_FOR
from bot.config import Settings
from bot.core.samples import VoiceSamples
from bot.domain import ChatSettings
from bot.errors import BotError, RealtimeError, SendFailed, StorageError, VoiceOnlyAdmins
from bot.i18n import Texts
from bot.provider_profiles import PROFILES, Profile, tag_language
from bot.storage.chat_settings import ChatSettingsStore
from bot.telegram.filters import IsChatAdmin, StillAdmin
from bot.telegram.handlers.common import command, edit_view, register_change, send_view
from bot.telegram.ports import tell, thread_of
from bot.telegram.voices import LANGUAGE_FLAGS, effective_role, kept_line, kept_voices, voice_label

__all__ = ["STUDIO", "VOICE_CALLBACK", "router", "voice_view", "voices_view"]

log = logging.getLogger(__name__)

VOICE_CALLBACK = "voice:"
STUDIO = "vs:"
VOICES_PER_ROW = 2  # each with its ▶: four buttons a row
PLAY = "▶"


def language_name(texts: Texts, profile: Profile, language: str) -> str:
    """A voice's language in the reader's words ("" → any language)."""
    tag = next((t for t in profile.input_languages if tag_language(t) == language), "")
    return texts(f"language-{tag}") if tag else texts("voices-any-language")


def _groups(profile: Profile) -> dict[str, list[str]]:
    """The provider's voices by language, in the order the profile lists them."""
    groups: dict[str, list[str]] = {}
    for name, about in profile.voices.items():
        groups.setdefault(about.language, []).append(name)
    return groups


def _hear(voice: str, role: str = "") -> str:
    return f"{STUDIO}h:{voice}:{role}"


def voices_view(
    texts: Texts, settings: Settings, chat: ChatSettings
) -> tuple[str, InlineKeyboardMarkup]:
    """The voices, grouped by language, each with its sample; the chat's marked."""
    profile = PROFILES[settings.realtime_provider]
    rows: list[list[InlineKeyboardButton]] = []
    for names in _groups(profile).values():
        for i in range(0, len(names), VOICES_PER_ROW):
            row = []
            for name in names[i : i + VOICES_PER_ROW]:
                about = profile.voices[name]
                label = voice_label(name, about.language, about.gender)
                if name == chat.voice:
                    label = f"✓ {label}"
                row.append(InlineKeyboardButton(text=label, callback_data=VOICE_CALLBACK + name))
                row.append(InlineKeyboardButton(text=PLAY, callback_data=_hear(name)))
            rows.append(row)
    return texts("voice-pick", voice=chat.voice), InlineKeyboardMarkup(inline_keyboard=rows)


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=STUDIO + data)


def voice_view(
    texts: Texts, settings: Settings, chat: ChatSettings
) -> tuple[str, InlineKeyboardMarkup]:
    """The chat's voice: its sample and roles, the speeds, the voices kept per language."""
    profile = PROFILES[settings.realtime_provider]
    name = chat.voice
    about = profile.voices.get(name)
    label = voice_label(name, about.language, about.gender) if about else name
    rows = [
        [
            InlineKeyboardButton(text=f"✓ {label}", callback_data=VOICE_CALLBACK + name),
            InlineKeyboardButton(text=PLAY, callback_data=_hear(name)),
        ]
    ]
    role = effective_role(profile, chat)
    for each in profile.roles(name):
        word = texts(f"role-{each}")
        rows.append(
            [
                _button(f"✓ {word}" if each == role else word, f"r:{each}"),
                InlineKeyboardButton(text=f"{PLAY} {word}", callback_data=_hear(name, each)),
            ]
        )
    speed = SPEED.show(chat.value("speed"))
    rows.append([_button(f"✓ {w}×" if w == speed else f"{w}×", f"s:{w}") for w in SPEED_WORDS])
    kept = kept_line(profile, chat)
    if kept is not None:
        rows.append([_button(texts("voice-keep-one", voice=name), "one")])
    rows.append([_button(texts("voice-all"), "list")])
    text = texts("voice-studio", voice=name, role=texts(f"role-{role or 'none'}"), speed=speed)
    if kept is not None:
        text += "\n" + texts("voice-kept", kept=kept)
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def voices_text(texts: Texts, settings: Settings, chat: ChatSettings) -> str:
    """/voices: the voices by language, the chat's marked, with the roles each has."""
    profile = PROFILES[settings.realtime_provider]
    kept = set(kept_voices(profile, chat).values())
    lines = [texts("voices-title")]
    for language, names in _groups(profile).items():
        shown = []
        for name in names:
            roles = profile.roles(name)
            item = f"<b>✓ {name}</b>" if name == chat.voice else name
            if name in kept and name != chat.voice:
                item = f"<i>{name}</i>"
            if len(roles) > 1:
                item += f" ({', '.join(texts(f'role-{r}') for r in roles)})"
            shown.append(item)
        flag = LANGUAGE_FLAGS.get(language, "🌐")
        lines.append(f"{flag} {html.escape(language_name(texts, profile, language))}: "
                     f"{', '.join(shown)}")  # fmt: skip
    lines.append(texts("voices-hint"))
    return "\n".join(lines)


async def set_voice(
    settings_store: ChatSettingsStore, profile: Profile, chat_id: int, chat: ChatSettings, name: str
) -> None:
    """``name`` becomes the chat's voice (and its language's, where it has one); the chat's
    role (in ``chat``, its settings before) stays only if the new voice has it."""
    fields = {"voice": name}
    language = profile.voices[name].language
    if language:
        fields[VOICE_FOR + language] = name
    role = chat.value("role")
    if role and role not in profile.roles(name):
        fields["role"] = ""
    await settings_store.set(chat_id, **fields)


async def on_voice(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    profile = PROFILES[settings.realtime_provider]
    name, _, role = (command.args or "").strip().lower().partition(" ")
    role = role.strip()
    if not name:
        await send_view(bot, message, voices_view(texts, settings, chat_settings))
    elif name not in profile.voices:
        voices = ", ".join(profile.voices)
        await tell(bot, message, texts("voice-unknown", voice=name, voices=voices))
    elif role and role not in profile.roles(name):
        roles = ", ".join(profile.roles(name)) or "—"
        await tell(bot, message, texts("voice-role-unknown", voice=name, role=role, roles=roles))
    else:
        await set_voice(settings_store, profile, message.chat.id, chat_settings, name)
        if role:
            await settings_store.set(message.chat.id, role=role)
        await tell(bot, message, texts("voice-set", voice=f"{name} · {role}" if role else name))


async def on_voices(
    message: Message, bot: Bot, chat_settings: ChatSettings, texts: Texts, settings: Settings
) -> None:
    await tell(bot, message, voices_text(texts, settings, chat_settings), html_text=True)


async def on_speed(
    message: Message,
    command: CommandObject,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings_store: ChatSettingsStore,
) -> None:
    speed = (command.args or "").strip().removesuffix("×").removesuffix("x").replace(",", ".")
    with contextlib.suppress(ValueError):
        speed = f"{float(speed):g}"  # "1.0", "1,25": as the speeds are written
    if speed and SPEED.accepts(speed):
        await settings_store.set(message.chat.id, speed=speed)
        await tell(bot, message, texts("speed-set", speed=speed))
    else:
        now = SPEED.show(chat_settings.value("speed"))
        await tell(bot, message, texts("speed-how", speed=now, speeds=", ".join(SPEED_WORDS)))


async def on_voice_picked(
    query: CallbackQuery,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    message = query.message
    profile = PROFILES[settings.realtime_provider]
    name = (query.data or "")[len(VOICE_CALLBACK) :]
    if not isinstance(message, Message) or name not in profile.voices:
        await query.answer()
        return
    await set_voice(settings_store, profile, message.chat.id, chat_settings, name)
    await query.answer(texts("voice-set", voice=name))
    chat = await settings_store.get(message.chat.id)
    await edit_view(bot, message, voice_view(texts, settings, chat))


async def on_studio(
    query: CallbackQuery,
    bot: Bot,
    chat_settings: ChatSettings,
    texts: Texts,
    settings_store: ChatSettingsStore,
    settings: Settings,
) -> None:
    """An admin's tap in a voice's screen: a role, a speed, one voice for all, the list."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer()
        return
    profile = PROFILES[settings.realtime_provider]
    what, _, value = (query.data or "")[len(STUDIO) :].partition(":")
    chat_id, chat = message.chat.id, chat_settings
    said = ""
    if what == "r" and value in profile.roles(chat.voice):
        await settings_store.set(chat_id, role=value)
        said = texts("role-set", role=texts(f"role-{value}"))
    elif what == "s" and SPEED.accepts(value):
        await settings_store.set(chat_id, speed=value)
        said = texts("speed-set", speed=value)
    elif what == "one":
        pairs = chat.value("voices")
        kept = [VOICE_FOR + pair[0] for pair in (pairs if isinstance(pairs, tuple) else ())]
        await settings_store.set(chat_id, **dict.fromkeys(kept, ""))
        said = texts("voice-one-set", voice=chat.voice)
    elif what == "list":
        await query.answer()
        await edit_view(bot, message, voices_view(texts, settings, chat))
        return
    else:
        await query.answer(texts("settings-menu-stale"))
        return
    await query.answer(said)
    await edit_view(bot, message, voice_view(texts, settings, await settings_store.get(chat_id)))


async def on_hear(
    query: CallbackQuery,
    bot: Bot,
    texts: Texts,
    settings: Settings,
    voice_samples: VoiceSamples | None = None,
) -> None:
    """Anyone's ▶: the voice's sample, from its file_id once it was made."""
    message = query.message
    profile = PROFILES[settings.realtime_provider]
    voice, _, role = (query.data or "")[len(STUDIO) + 2 :].partition(":")
    about = profile.voices.get(voice)
    if (
        not isinstance(message, Message)
        or about is None
        or (role and role not in profile.roles(voice))
        or voice_samples is None
    ):
        await query.answer(texts("settings-menu-stale"))
        return
    await query.answer(texts("voice-sample-coming"))
    caption = voice if not role else f"{voice} · {texts(f'role-{role}')}"
    if role and role == profile.roles(voice)[0]:
        role = ""  # the voice's default: the one sample of it, whichever ▶ asked
    chat_id, thread = message.chat.id, thread_of(message)

    async def send(sample: bytes | str, seconds: float) -> str | None:
        voice_file = (
            BufferedInputFile(sample, "sample.ogg") if isinstance(sample, bytes) else sample
        )
        try:
            sent = await bot.send_voice(
                chat_id=chat_id,
                voice=voice_file,
                caption=caption,
                duration=max(1, round(seconds)) if seconds else None,
                message_thread_id=thread,
            )
        except TelegramBadRequest as exc:
            raise SendFailed(exc.message, transient=False) from None
        return sent.voice.file_id if sent.voice is not None else None

    try:
        await bot.send_chat_action(chat_id, "record_voice", message_thread_id=thread)
        await voice_samples.play(voice, role, about.language, send)
    except (BotError, TelegramAPIError) as exc:
        log.warning("voice sample %s/%s not played: %s", voice, role or "-",
                    exc.__class__.__name__)  # fmt: skip
        passing = isinstance(exc, RealtimeError | StorageError | SendFailed | TelegramAPIError)
        text = texts("voice-sample-failed") if passing else texts.render(exc)
        with contextlib.suppress(TelegramAPIError):
            await bot.send_message(chat_id, text, message_thread_id=thread)


async def refuse_voice_pick(_: object) -> None:
    raise VoiceOnlyAdmins("not an admin of the chat")


def router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    r = Router(name="voice")
    register_change(r, on_voice, "voice")
    register_change(r, on_speed, "speed")
    r.message.register(on_voices, command("voices"))
    r.callback_query.register(on_hear, F.data.startswith(STUDIO + "h:"))
    picked = F.data.startswith(VOICE_CALLBACK) | F.data.startswith(STUDIO)
    r.callback_query.register(
        on_voice_picked, F.data.startswith(VOICE_CALLBACK), IsChatAdmin(), StillAdmin()
    )
    r.callback_query.register(on_studio, F.data.startswith(STUDIO), IsChatAdmin(), StillAdmin())
    r.callback_query.register(refuse_voice_pick, picked)
    return r
