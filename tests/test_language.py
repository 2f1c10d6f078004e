"""``bot.language``: the language of a short utterance among a chat's candidate languages."""

from __future__ import annotations

import ast
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import language
from bot.language import guess_language, warm_up

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "data" / "short_utterances.tsv"
RU_EN = {"ru", "en"}
RU_KK = {"ru", "kk"}
ALL = {"ru", "kk", "uz", "en", "de", "he"}


def _corpus() -> list[tuple[str, str]]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [(lang, text) for lang, text in (line.split("\t", 1) for line in lines if line)]


@pytest.fixture(scope="module", autouse=True)
def _loaded() -> None:
    warm_up(RU_EN, RU_KK, ALL)


@pytest.mark.parametrize(
    ("text", "candidates", "expected"),
    [
        # Russian and English: the script decides between them; the model among Cyrillic ones.
        ("Привет", RU_EN, "ru"),
        ("Какая сегодня погода?", RU_EN, "ru"),
        ("Какая сегодня погода?", RU_KK, "ru"),
        ("Поставь будильник на семь", RU_KK, "ru"),
        ("Спасибо", RU_KK, "ru"),
        ("Расскажи короткую сказку про кота", ALL, "ru"),
        ("What time is it?", RU_EN, "en"),
        ("Tell me a joke", {"en", "de"}, "en"),
        ("Set a timer for ten minutes, please", ALL, "en"),
        # Mixed scripts go to the model: a Russian request naming an English band is Russian.
        ("Включи Imagine Dragons", RU_EN, "ru"),
        # Kazakh with its own letters (a rule) ...
        ("Сәлем, қалайсың?", RU_KK, "kk"),
        ("Бүгін ауа райы қандай?", RU_KK, "kk"),
        ("Қайырлы таң", ALL, "kk"),
        # ... and without them (the model).
        ("Жарайды", RU_KK, "kk"),
        ("Сау бол", RU_KK, "kk"),
        ("Мен дайынмын", RU_KK, "kk"),
        ("Анама хабарлас", RU_KK, "kk"),
        ("Мама, мен жолдамын", RU_KK, "kk"),
        # Uzbek: Latin with and without oʻ/gʻ, and Cyrillic.
        ("Yoʻq", {"uz", "en"}, "uz"),
        ("Onamga qo'ng'iroq qil", {"uz", "en", "de"}, "uz"),
        ("Bugun havo qanday?", {"uz", "en"}, "uz"),
        ("Menga yordam bering", {"uz", "en", "de"}, "uz"),
        ("Bugun havo qanday?", ALL, "uz"),
        ("Раҳмат", {"uz", "ru"}, "uz"),
        ("Бугун ҳаво қандай?", ALL, "uz"),
        # German.
        ("Wie wird das Wetter heute?", {"de", "en"}, "de"),
        ("Guten Morgen", {"de", "en"}, "de"),
        ("Erzähl mir einen Witz", ALL, "de"),
        ("Wie spät ist es?", {"de", "ru"}, "de"),
        # Hebrew.
        ("מה השעה?", {"he", "en"}, "he"),
        ("שלום", {"he", "ru"}, "he"),
        ("תזכיר לי לקנות לחם", ALL, "he"),
        # English words with an apostrophe are not taken for Uzbek oʻ.
        ("It's five o'clock", {"uz", "en"}, "en"),
    ],
)
def test_guesses_the_language_among_the_candidates(
    text: str, candidates: set[str], expected: str
) -> None:
    assert guess_language(text, candidates) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "123", "12:30", "👍", "🎉🎉🎉", "?!", "+7 999 123-45-67"]
)
@pytest.mark.parametrize("candidates", [RU_EN, RU_KK, ALL])
def test_no_letters_is_no_language(text: str, candidates: set[str]) -> None:
    assert guess_language(text, candidates) is None


def test_no_candidates_is_no_language_and_one_is_that_one() -> None:
    assert guess_language("Привет", set()) is None
    assert guess_language("Привет", {"en"}) == "en"
    assert guess_language("Hello", ["ru"]) == "ru"
    assert guess_language("👍", {"ru"}) is None


def test_candidate_codes_are_read_in_any_case() -> None:
    assert guess_language("Привет, как дела?", ["RU", "En "]) == "ru"


def test_a_text_in_no_candidate_script_is_no_language() -> None:
    assert guess_language("שלום", RU_EN) is None
    assert guess_language("Привет", {"en", "de"}) is None
    assert guess_language("Good morning", RU_KK) is None
    assert guess_language("你好", ALL) is None


def test_unsure_on_a_word_shared_by_the_candidates() -> None:
    # "Да" is Russian "yes" and a Kazakh particle; "Салом" is Uzbek Cyrillic with no Uzbek
    # letter; "Hi" carries nothing that tells English from German.
    assert guess_language("Да", RU_KK) is None
    assert guess_language("Салом", {"ru", "uz"}) is None
    assert guess_language("Hi", {"en", "de"}) is None


@pytest.mark.parametrize(
    "candidates", [RU_EN, RU_KK, {"kk", "uz"}, {"en", "de"}, {"de", "he"}, {"uz", "ru", "en"}, ALL]
)
def test_never_answers_outside_the_candidates(candidates: set[str]) -> None:
    for _, text in _corpus():
        assert guess_language(text, candidates) in {*candidates, None}, text


def _accuracy(candidates: set[str]) -> tuple[float, float]:
    """(share of the corpus answered right, share of the answers that are right)."""
    items = [(lang, text) for lang, text in _corpus() if lang in candidates]
    answers = [(lang, guess_language(text, candidates)) for lang, text in items]
    given = [(lang, got) for lang, got in answers if got is not None]
    right = sum(lang == got for lang, got in given)
    return right / len(items), right / len(given)


def test_corpus_accuracy_ru_en() -> None:
    accuracy, precision = _accuracy(RU_EN)
    assert accuracy >= 0.95
    assert precision >= 0.98


def test_corpus_accuracy_ru_kk() -> None:
    # Measured: 105 of 108 right (97%), no wrong answer; three "not sure".
    accuracy, precision = _accuracy(RU_KK)
    assert accuracy >= 0.94
    assert precision >= 0.98


def test_corpus_accuracy_all_six() -> None:
    # Measured: 282 of 311 right (91%), no wrong answer; the rest "not sure".
    accuracy, precision = _accuracy(ALL)
    assert accuracy >= 0.87
    assert precision >= 0.97


def test_fast_once_loaded() -> None:
    texts = [text for _, text in _corpus()]
    took = []
    for text in texts:
        started = time.perf_counter()
        guess_language(text, ALL)
        took.append(time.perf_counter() - started)
    assert statistics.median(took) < 0.002


def test_same_answers_from_many_threads() -> None:
    items = [text for _, text in _corpus()]
    expected = [guess_language(text, {"ru", "kk", "uz"}) for text in items]
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: [guess_language(t, {"ru", "kk", "uz"}) for t in items],
                             range(8)))  # fmt: skip
    assert all(run == expected for run in runs)


def test_loads_the_model_once_when_first_calls_race(monkeypatch: pytest.MonkeyPatch) -> None:
    from py3langid.langid import LanguageIdentifier

    loads = []
    load = LanguageIdentifier.from_model_file

    def counted(*args: object, **kwargs: object) -> object:
        loads.append(1)
        time.sleep(0.05)  # widen the window in which a second thread could load it again
        return load(*args, **kwargs)

    monkeypatch.setattr(LanguageIdentifier, "from_model_file", counted)
    monkeypatch.setattr(language, "_model", None)
    monkeypatch.setattr(language, "_detectors", {})
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: guess_language("Жарайды, рахмет", RU_KK), range(6)))
    assert loads == [1]
    assert answers == ["kk"] * 6


def test_imports_nothing_from_bot() -> None:
    tree = ast.parse((ROOT / "bot" / "language.py").read_text(encoding="utf-8"))
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name == "bot" or name.startswith("bot.")]
