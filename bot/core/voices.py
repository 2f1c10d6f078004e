"""A voice that follows the language: a chat may keep one voice per language (the voice
picker keeps the one an admin chose for each language), and a turn in another of those
languages is answered in that language's voice.

The turn's language is, in this order: the one the chat fixed for listening (``/language``);
the language of the typed text itself; for a voice note, the language of the same person's
previous turn (a voice note's language is known only once the model has heard it, after its
voice was chosen: the first voice note in a new language may still be answered in the old
voice). The guess is made only among the languages the chat keeps voices for, and only where
there are two or more of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.ports import LanguageGuess
from bot.domain import ChatSettings
from bot.provider_profiles import tag_language

__all__ = ["VoiceChoice"]


@dataclass(frozen=True)
class VoiceChoice:
    """Picks a turn's voice by its language. ``languages``: each voice's language (ISO 639-1;
    "" for a voice of any language, which is never switched from or to by language)."""

    languages: Mapping[str, str]
    guess: LanguageGuess | None = None

    def kept(self, chat: ChatSettings) -> dict[str, str]:
        """The chat's voice per language: the ones it keeps, and its own voice for its own
        language (which wins there)."""
        pairs = chat.value("voices")
        kept = {
            language: voice
            for language, voice in (pairs if isinstance(pairs, tuple) else ())
            if self.languages.get(voice) == language
        }
        own = self.languages.get(chat.voice, "")
        if own:
            kept[own] = chat.voice
        return kept

    def follows(self, chat: ChatSettings) -> bool:
        """Whether the chat keeps voices for two languages or more."""
        return len(self.kept(chat)) >= 2

    def fixed(self, chat: ChatSettings) -> str | None:
        """The language the chat fixed for listening, as ISO 639-1; None for auto."""
        tag = chat.value("language")
        return tag_language(tag) if isinstance(tag, str) and tag != "auto" else None

    def language_of(self, text: str, chat: ChatSettings) -> str | None:
        """The language of ``text`` among those the chat keeps voices for; None when the chat
        keeps fewer than two, or the guess is unsure."""
        kept = self.kept(chat)
        if self.guess is None or len(kept) < 2 or not text.strip():
            return None
        return self.guess(text, kept)

    def voice_for(self, chat: ChatSettings, language: str | None) -> str:
        """The voice for a turn in ``language``: the one the chat keeps for it, else its own."""
        if language is None:
            return chat.voice
        return self.kept(chat).get(language, chat.voice)
