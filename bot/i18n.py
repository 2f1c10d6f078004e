"""The message catalogue (Fluent files per language) and ``render``, the one place where an
outcome the user hears about becomes words in the user's language."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluent.runtime import FluentBundle, FluentResource

from bot.errors import BotError

__all__ = ["LANGUAGES", "Catalogue", "Texts", "pick_language", "render"]

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = ("ru", "en")
# People who set these languages in Telegram read Russian more easily than English.
RUSSIAN_READERS = {"ru", "uk", "be", "kk"}
# A tool's name for people: the catalogue's ``tool-name-NAME`` (``TOOL($tool)`` in a message).
TOOL_NAME = "tool-name-"


def pick_language(language_code: str | None) -> str:
    """``ru`` for ru/uk/be/kk users, ``en`` for everyone else."""
    base = (language_code or "").split("-")[0].lower()
    return "ru" if base in RUSSIAN_READERS else "en"


class Catalogue:
    """All messages in every language; a missing key is a bug and raises KeyError."""

    def __init__(self, root: Path = LOCALES) -> None:
        self._bundles: dict[str, FluentBundle] = {}
        for lang in LANGUAGES:
            tool = _ToolNames()
            functions: dict[str, Any] = {"TOOL": tool}  # Fluent takes a str as it returns it
            bundle = FluentBundle([lang], use_isolating=False, functions=functions)
            tool.bundle = bundle
            for path in sorted((root / lang).glob("*.ftl")):
                bundle.add_resource(FluentResource(path.read_text(encoding="utf-8")))
            self._bundles[lang] = bundle

    def keys(self, lang: str) -> set[str]:
        return set(self._bundles[lang]._messages)

    def get(self, lang: str, key: str, **args: Any) -> str:
        bundle = self._bundles.get(lang) or self._bundles["en"]
        message = bundle.get_message(key)
        if message.value is None:
            raise KeyError(key)
        text, errors = bundle.format_pattern(message.value, args)
        if errors:
            raise KeyError(f"{key}: {errors[0]}")
        return str(text)


class _ToolNames:
    """``TOOL($tool)``: the tool's name for people in the bundle's language (``tool-name-NAME``),
    for each name of a list ("clock, notes"); a word that names no tool stays as it is (a
    catalogue word such as "none"). Messages take the tools' names, the catalogue words them."""

    bundle: FluentBundle | None = None  # set once the bundle is made

    def __call__(self, names: object) -> str:
        return ", ".join(self._word(name) for name in str(names).split(", "))

    def _word(self, name: str) -> str:
        key = TOOL_NAME + name
        if self.bundle is None or not self.bundle.has_message(key):
            return name
        message = self.bundle.get_message(key)
        if message.value is None:
            return name
        return str(self.bundle.format_pattern(message.value, {})[0])


def render(catalogue: Catalogue, lang: str, outcome: BaseException) -> str:
    """What the user is told about ``outcome``: a ``BotError``'s catalogue message with its
    arguments, or the internal-error message for anything else (whose details stay in the log)."""
    if isinstance(outcome, BotError):
        return catalogue.get(lang, outcome.key, **outcome.arguments())
    return catalogue.get(lang, "error-internal")


@dataclass(frozen=True)
class Texts:
    """The catalogue in one user's language: ``texts("voice-set", voice=name)``."""

    catalogue: Catalogue
    lang: str

    def __call__(self, key: str, **args: Any) -> str:
        return self.catalogue.get(self.lang, key, **args)

    def render(self, outcome: BaseException) -> str:
        return render(self.catalogue, self.lang, outcome)
