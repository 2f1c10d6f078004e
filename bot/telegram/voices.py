"""How a chat's voice is shown, by the voice studio and /settings alike: a voice's button, the
role its voice speaks in, the voices it keeps per language."""

from __future__ import annotations

from bot.core.voices import VoiceChoice
from bot.domain import ChatSettings
from bot.provider_profiles import Profile

__all__ = ["LANGUAGE_FLAGS", "effective_role", "kept_line", "kept_voices", "voice_label"]

# A voice's language and gender on its button, as signs anyone reads: "alena 🇷🇺 ♀".
LANGUAGE_FLAGS = {
    "ru": "🇷🇺", "kk": "🇰🇿", "uz": "🇺🇿", "en": "🇬🇧", "de": "🇩🇪", "he": "🇮🇱", "fr": "🇫🇷",
    "es": "🇪🇸", "it": "🇮🇹", "uk": "🇺🇦", "be": "🇧🇾", "tr": "🇹🇷",
}  # fmt: skip
GENDER_SIGNS = {"F": "♀", "M": "♂"}


def voice_label(name: str, language: str, gender: str) -> str:
    """A voice's button: its name, its language's flag (else the language's code) and its
    gender's sign, where known."""
    flag = LANGUAGE_FLAGS.get(language, language.upper())
    signs = " ".join(x for x in (flag, GENDER_SIGNS.get(gender, "")) if x)
    return f"{name} {signs}" if signs else name


def effective_role(profile: Profile, chat: ChatSettings) -> str:
    """The role the chat's voice speaks in: the chat's, if its voice has it, else the voice's
    default; "" where the voice (or the provider) has none."""
    roles = profile.roles(chat.voice)
    chosen = chat.value("role")
    if chosen in roles:
        return str(chosen)
    return roles[0] if roles else ""


def kept_voices(profile: Profile, chat: ChatSettings) -> dict[str, str]:
    """The chat's voice per language (the ones it keeps, its own for its own language)."""
    return VoiceChoice(profile.voice_languages).kept(chat)


def kept_line(profile: Profile, chat: ChatSettings) -> str | None:
    """ "ru alena · en john", where the chat keeps voices for two languages or more."""
    kept = kept_voices(profile, chat)
    if len(kept) < 2:
        return None
    return " · ".join(f"{LANGUAGE_FLAGS.get(lang, lang)} {voice}" for lang, voice in kept.items())
