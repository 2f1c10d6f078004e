"""``python -m bench.langid``: its corpus, and a smoke run on a few utterances per language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import langid


def test_the_corpus_has_short_utterances_in_every_language() -> None:
    corpus = langid.load_corpus()
    for lang in ("ru", "kk", "uz", "en", "de", "he"):
        texts = [text for code, text in corpus if code == lang]
        assert len(texts) >= 40, lang
        assert sum(langid.bucket(text) == "1-2" for text in texts) >= 15, lang
        assert all(1 <= len(text.split()) <= 8 for text in texts), lang
    assert {code for code, _ in corpus} == {"ru", "kk", "uz", "en", "de", "he"}
    assert len(set(corpus)) == len(corpus), "no utterance twice"


def test_smoke_run_of_the_chosen_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "langid.json"
    code = langid.main(["--libs", "py3langid", "--limit", "4", "--passes", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for title in ("{ru,en}: accuracy", "{ru,kk}: accuracy", "{all six}: accuracy", "median"):
        assert title in printed
    (run,) = json.loads(out.read_text())
    assert run["name"] == "py3langid" and not run["error"]
    data = run["data"]
    assert len(data["results"]["ru,en"]) == 8
    assert len(data["results"]["all six"]) == 24
    assert 0 < data["latency_median_ms"] < 5
    assert data["rss_loaded_mib"] > 0
    right = sum(lang == got for lang, _, got, _ in data["results"]["ru,en"])
    assert right >= 7
