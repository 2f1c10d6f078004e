"""``python -m bench.pauses``: input seconds billed before and after the pause cap, on speech.

The speech fixtures are spoken by espeak-ng (Russian and English sentences), joined by the
pauses people leave in voice notes (thinking between sentences, holding the button before and
after), with a faint noise floor, and encoded as Telegram voice notes (OGG/Opus 48 kHz mono).
Each is decoded as the bot decodes it and sent through ``PauseCap`` as the pipeline does (1 s
chunks); the table gives the seconds sent without and with the cap, the longest pause left
(what a server VAD sees), and the cap's CPU time per second of audio.

Needs espeak-ng (``apt-get install espeak-ng``) and ffmpeg.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.audio.codec import decode_chunks
from bot.audio.pcm import PauseCap
from bot.realtime.providers import PROFILES

RATE = 24_000
FRAME = RATE // 50  # 20 ms
# A frame counts as a pause (for the "longest pause" column) below this level: a server VAD's
# idea of silence, the stand-in's threshold (RMS 0.02 of full scale, about -34 dBFS).
PAUSE_RMS = 0.02

# (name, language, [(sentence, pause after in seconds)], leading silence)
FIXTURES: list[tuple[str, str, list[tuple[str, float]], float]] = [
    ("ru_question", "ru", [("Какая завтра погода в Казани?", 0.4)], 0.3),
    ("ru_thinking", "ru", [
        ("Слушай, мне нужно заказать столик на вечер.", 1.3),
        ("Наверное, на четверых, часов на семь.", 2.1),
        ("И напомни мне потом позвонить маме.", 0.8),
    ], 0.6),
    ("en_list", "en", [
        ("I need a few things from the shop.", 0.9),
        ("Milk, bread, and some apples.", 1.6),
        ("Oh, and coffee. Definitely coffee.", 3.0),
    ], 0.5),
    ("ru_story", "ru", [
        ("Вчера я ездил на дачу, и знаешь, что случилось?", 1.1),
        ("Соседская собака опять прокопала ход под забором.", 0.7),
        ("Я думаю поставить сетку поглубже.", 1.8),
        ("Как лучше это сделать, чтобы не тратить много денег?", 1.2),
        ("Ну и вообще, что посоветуешь по огороду на осень?", 0.6),
    ], 1.0),
]  # fmt: skip


def _speak(text: str, lang: str, out: Path) -> np.ndarray:
    voice = "ru" if lang == "ru" else "en-us"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(out), text], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)  # fmt: skip
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(out), "-f", "s16le",
         "-ac", "1", "-ar", str(RATE), "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype="<i2").astype(np.float64)


def make_fixture(work: Path, lang: str, parts: list[tuple[str, float]], lead: float) -> bytes:
    """The note as Telegram would carry it: OGG/Opus bytes."""
    pieces = [np.zeros(int(lead * RATE))]
    for i, (sentence, pause) in enumerate(parts):
        pieces.append(_speak(sentence, lang, work / f"s{i}.wav"))
        pieces.append(np.zeros(int(pause * RATE)))
    pcm = np.concatenate(pieces)
    rng = np.random.default_rng(7)
    pcm += rng.normal(0.0, 32768 * 10 ** (-58 / 20), pcm.size)  # a quiet room's noise floor
    wav = work / "note.raw"
    wav.write_bytes(np.clip(pcm, -32768, 32767).astype("<i2").tobytes())
    ogg = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(RATE),
         "-ac", "1", "-i", str(wav), "-c:a", "libopus", "-b:a", "32k", "-application", "voip",
         "-ar", "48000", "-f", "ogg", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return ogg


def longest_pause(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2")
    n = samples.size // FRAME
    if n == 0:
        return 0.0
    frames = samples[: n * FRAME].reshape(n, FRAME).astype(np.float64) / 32768.0
    quiet = np.sqrt(np.mean(frames**2, axis=1)) < PAUSE_RMS
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best * 0.02


def measure(ogg: bytes, cap_seconds: float) -> dict[str, float]:
    chunks: list[bytes] = []
    decode_chunks(ogg, chunks.append, rate=RATE)
    before = b"".join(chunks)
    cap = PauseCap(RATE, cap_seconds)
    started = time.process_time()
    after = b"".join(cap.feed(chunk) for chunk in chunks) + cap.finish()
    cpu = time.process_time() - started
    seconds_before = len(before) / 2 / RATE
    return {
        "before": seconds_before,
        "after": len(after) / 2 / RATE,
        "pause_before": longest_pause(before),
        "pause_after": longest_pause(after),
        "cpu_ms_per_s": cpu * 1000 / seconds_before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pauses", description=__doc__)
    parser.add_argument("--cap", type=float, default=0.6, help="MAX_PAUSE_SECONDS (0.6)")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        print(f"needs {', '.join(missing)}: apt-get install {' '.join(missing)}", file=sys.stderr)
        return 2
    yandex = PROFILES["yandex"]
    price = yandex.prices(yandex.model).input_per_minute / 60
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, lang, parts, lead in FIXTURES:
            rows.append((name, measure(make_fixture(work, lang, parts, lead), args.cap)))
    print(f"Input seconds billed, speech fixtures (espeak-ng), pause cap {args.cap:.1f} s")
    print(f"{'note':<12} {'sent before':>11} {'after':>7} {'saved':>7} {'longest pause':>14} "
          f"{'→ after':>8} {'cap CPU ms/s':>12}")  # fmt: skip
    total_before = total_after = 0.0
    for name, m in rows:
        total_before += m["before"]
        total_after += m["after"]
        saved = 1 - m["after"] / m["before"]
        print(f"{name:<12} {m['before']:>10.2f}s {m['after']:>6.2f}s {saved:>6.0%} "
              f"{m['pause_before']:>13.2f}s {m['pause_after']:>7.2f}s "
              f"{m['cpu_ms_per_s']:>12.2f}")  # fmt: skip
    saved = 1 - total_after / total_before
    print(f"{'all':<12} {total_before:>10.2f}s {total_after:>6.2f}s {saved:>6.0%}")
    print(f"Yandex input audio at {price:.3f} RUB/s: {total_before * price:.2f} RUB before, "
          f"{total_after * price:.2f} RUB after, for these {len(rows)} notes")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
