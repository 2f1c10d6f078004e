"""``python -m bench.tempo``: the reply tempo change, measured, for each candidate library.

For a provider that takes no speed (Yandex), the bot changes the reply's tempo itself, keeping
the pitch, chunk by chunk before Opus encoding (``bot.audio.tempo``). This times that path as
the bot runs it: voice-like PCM16 mono (syllables of gliding pitch with vowel formants, short
gaps and a faint noise floor; made here, no files) fed in 0.5 s chunks through the tempo
changer and ``OggOpusEncoder``, at 44.1 kHz (Yandex's output rate) and 24 kHz. Speed 1.0 is
Opus encoding alone, as with no speed chosen.

Columns: CPU time (``time.process_time``, best of ``--repeat``) per second of reply as the
model sent it, and its ratio to speed 1.0; ``tempo``: the changer's own share of it (the
total less speed 1.0's Opus cost for the output's length: 1.25 leaves less to encode);
``held``: output the changer still held when the last chunk went in (what ``finish`` has to
give, so how late the note's end would be); ``finish``: CPU of ``finish`` plus the encoder's
flush, the time between the last chunk and a ready note. Quality proxies: ``length``: output
duration against input duration / speed, on the voice-like reply; ``pitch``: dominant
frequency against the input's, on a steady voice-like tone (180 Hz and two harmonics, 4 Hz
swell); ``between harmonics``: energy of that tone's output away from the harmonics (±15 Hz),
against the whole, where splices, phase smearing and noise show (the input itself is at the
quantisation floor).

Candidates (each measured when importable; none is a dependency of the bot): FFmpeg's
``atempo`` through PyAV (the bot's own ``TempoChanger``); ``audiotsm`` (WSOLA, streaming);
``pylibrb`` (Rubber Band, realtime mode, R2 "faster" and R3 "finer" engines); ``audiostretchy``
(David Bryant's audio-stretch, TDHS, its C library through ctypes); ``pytsmod`` (WSOLA, whole
signal only: it runs at ``finish``, so it holds everything). pyrubberband needs the rubberband
command, so it is left out. To measure them all without touching the project's environment::

    .venv/bin/pip install --target /tmp/tempo-candidates audiotsm pylibrb audiostretchy \
        pytsmod scipy soundfile
    PYTHONPATH=/tmp/tempo-candidates .venv/bin/python -m bench.tempo
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bot.audio.codec import OggOpusEncoder
from bot.audio.tempo import TempoChanger

__all__ = ["CANDIDATES", "main", "speech_pcm", "steady_tone"]

RATES = (44_100, 24_000)
SPEEDS = (1.0, 0.8, 1.25, 1.5)
CHUNK_SECONDS = 0.5
TONE_HZ = 180.0
TONE_SECONDS = 4.0
HARMONIC_BAND_HZ = 15.0


class Changer(Protocol):
    def feed(self, pcm: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


# -- test audio --------------------------------------------------------------------------------

# First two formants of a few vowels (Peterson and Barney's averages for men, Hz).
_VOWELS = ((730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840), (440, 1020))


def speech_pcm(seconds: float, rate: int, seed: int = 1) -> bytes:
    """Voice-like PCM16 mono: syllables (120-300 ms) of a gliding fundamental (100-240 Hz) and
    its harmonics up to 4 kHz, shaped by a vowel's formants, with gaps between them (a longer
    pause now and then) and a noise floor at about -60 dBFS."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    out = rng.normal(0.0, 0.001, n)
    pos = 0
    while pos < n:
        length = min(n - pos, int(rng.uniform(0.12, 0.3) * rate))
        glide = rng.uniform(-0.15, 0.15)
        f0 = rng.uniform(100, 240) * (1 + glide * np.arange(length) / length)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        f1, f2 = _VOWELS[int(rng.integers(len(_VOWELS)))]
        voiced = np.zeros(length)
        for k in range(1, int(4000 // f0.max()) + 1):
            hz = k * float(f0.mean())
            gain = 1 / k + 1.5 / (1 + ((hz - f1) / 90) ** 2) + 0.8 / (1 + ((hz - f2) / 120) ** 2)
            voiced += gain * np.sin(k * phase)
        envelope = np.sin(np.pi * np.arange(length) / length) ** 0.6
        out[pos : pos + length] += 0.12 * voiced * envelope
        pos += length + int(rate * (rng.uniform(0.3, 0.6) if rng.random() < 0.1 else 0.04))
    return (np.clip(out, -1, 1) * 32767).astype("<i2").tobytes()


def steady_tone(seconds: float, rate: int, hz: float = TONE_HZ) -> bytes:
    """A fundamental and two harmonics with a 4 Hz syllable-rate swell (``bench.notes``'s
    reply signal): steady enough that anything between the harmonics is the changer's doing."""
    t = np.arange(round(seconds * rate)) / rate
    signal = (
        0.35 * np.sin(2 * np.pi * hz * t) * (0.75 + 0.25 * np.sin(2 * np.pi * 4 * t))
        + 0.15 * np.sin(2 * np.pi * 2 * hz * t)
        + 0.08 * np.sin(2 * np.pi * 3 * hz * t)
    )
    return (signal * 32767).astype("<i2").tobytes()


def _floats(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0


def _pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    """The strongest FFT bin's frequency, refined by a parabola through its neighbours."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    i = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[i - 1 : i + 2] + 1e-30)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
    return float((i + shift) * rate / samples.size)


def between_harmonics_db(samples: np.ndarray, rate: int, hz: float = TONE_HZ) -> float:
    """Energy further than HARMONIC_BAND_HZ from every harmonic of ``hz``, in dB of the whole
    (a quarter second left off each end: start-up and flush are not the steady state)."""
    edge = rate // 4
    samples = samples[edge:-edge] if samples.size > 4 * edge else samples
    power = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    nearest = np.abs(freqs - np.round(freqs / hz) * hz)
    off = (nearest > HARMONIC_BAND_HZ) | (freqs < hz / 2)
    return float(10 * np.log10(max(power[off].sum(), 1e-30) / max(power.sum(), 1e-30)))


# -- candidates: the bot's TempoChanger interface over each library ----------------------------


class AudiotsmWsola:
    """audiotsm's WSOLA, streaming through its reader/writer interface (float32 samples)."""

    def __init__(self, rate: int, speed: float) -> None:
        import audiotsm
        from audiotsm.io.array import ArrayWriter

        self._tsm: Any = audiotsm.wsola(1, speed=speed)
        self._writer: Any = ArrayWriter(1)

    def _take(self) -> bytes:
        data = self._writer.data[0]
        self._writer._data = []  # ArrayWriter only appends; what was taken goes
        return _pcm16(data)

    def feed(self, pcm: bytes) -> bytes:
        from audiotsm.io.array import ArrayReader

        reader = ArrayReader(_floats(pcm).astype(np.float32).reshape(1, -1))
        while not reader.empty:
            self._tsm.read_from(reader)
            self._tsm.write_to(self._writer)
        while True:
            written, finished = self._tsm.write_to(self._writer)
            if finished or not written:
                break
        return self._take()

    def finish(self) -> bytes:
        finished = False
        while not finished:
            _, finished = self._tsm.flush_to(self._writer)
        return self._take()


class RubberBand:
    """Rubber Band in realtime mode (pylibrb), one thread; padded and trimmed at the start as
    the library asks (``get_preferred_start_pad``, ``get_start_delay``)."""

    def __init__(self, rate: int, speed: float, *, finer: bool) -> None:
        import pylibrb

        options = pylibrb.Option.PROCESS_REALTIME | pylibrb.Option.THREADING_NEVER
        options |= pylibrb.Option.ENGINE_FINER if finer else pylibrb.Option.ENGINE_FASTER
        self._rb: Any = pylibrb.RubberBandStretcher(rate, 1, options, initial_time_ratio=1 / speed)
        self._rb.process(np.zeros((1, self._rb.get_preferred_start_pad()), dtype=np.float32))
        self._skip = int(self._rb.get_start_delay())

    def _take(self) -> bytes:
        out = self._rb.retrieve_available()[0]
        cut = min(self._skip, out.size)
        self._skip -= cut
        return _pcm16(out[cut:])

    def feed(self, pcm: bytes) -> bytes:
        self._rb.process(_floats(pcm).astype(np.float32).reshape(1, -1))
        return self._take()

    def finish(self) -> bytes:
        self._rb.process(np.zeros((1, 0), dtype=np.float32), final=True)
        parts = []
        while not self._rb.is_done():
            parts.append(self._take())
        parts.append(self._take())
        return b"".join(parts)


class Tdhs:
    """audio-stretch's time-domain harmonic scaling (audiostretchy's ctypes binding), with the
    settings audiostretchy uses: periods of 55-333 Hz, fast detection from 32 kHz."""

    def __init__(self, rate: int, speed: float) -> None:
        from audiostretchy.interface.tdhs import TDHSAudioStretch

        flags = TDHSAudioStretch.STRETCH_FAST_FLAG if rate >= 32_000 else 0
        self._ratio = 1 / speed
        self._st: Any = TDHSAudioStretch(rate // 333, rate // 55, 1, flags)
        self._flush_room = int(self._st.output_capacity(rate, self._ratio))

    def feed(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype=np.int16).copy()
        out = np.zeros(self._st.output_capacity(samples.size, self._ratio), dtype=np.int16)
        n = self._st.process_samples(samples, samples.size, out, self._ratio)
        return out[:n].astype("<i2").tobytes()

    def finish(self) -> bytes:
        out = np.zeros(self._flush_room, dtype=np.int16)
        n = self._st.flush(out)
        self._st.deinit()
        return out[:n].astype("<i2").tobytes()


class PytsmodWsola:
    """pytsmod's WSOLA: whole signals only, so all of it runs at ``finish``."""

    def __init__(self, rate: int, speed: float) -> None:
        self._speed = speed
        self._parts: list[bytes] = []

    def feed(self, pcm: bytes) -> bytes:
        self._parts.append(pcm)
        return b""

    def finish(self) -> bytes:
        import pytsmod

        return _pcm16(np.asarray(pytsmod.wsola(_floats(b"".join(self._parts)), 1 / self._speed)))


@dataclass(frozen=True)
class Candidate:
    module: str  # what must be importable
    make: Callable[[int, float], Changer]


CANDIDATES: dict[str, Candidate] = {
    "atempo (PyAV)": Candidate("av", TempoChanger),
    "audiotsm WSOLA": Candidate("audiotsm", AudiotsmWsola),
    "Rubber Band R2": Candidate("pylibrb", lambda r, s: RubberBand(r, s, finer=False)),
    "Rubber Band R3": Candidate("pylibrb", lambda r, s: RubberBand(r, s, finer=True)),
    "TDHS audiostretchy": Candidate("audiostretchy", Tdhs),
    "pytsmod WSOLA whole": Candidate("pytsmod", PytsmodWsola),
}


def installed(names: list[str]) -> tuple[list[str], list[str]]:
    """(importable, missing) among the named candidates."""
    ok: list[str] = []
    missing: list[str] = []
    for name in names:
        found = importlib.util.find_spec(CANDIDATES[name].module) is not None
        (ok if found else missing).append(name)
    return ok, missing


# -- measurement -------------------------------------------------------------------------------


@dataclass
class Run:
    cpu: float  # seconds, the whole reply: changer, encoder, finish
    finish_cpu: float
    held: float  # seconds of output not out yet when the last chunk went in
    out_samples: int


def run_once(
    make: Callable[[int, float], Changer] | None, pcm: bytes, rate: int, speed: float
) -> Run:
    """One reply as the bot handles it: chunks through the changer (none: Opus only) and the
    encoder; the note checked for a duration near the output's."""
    step = round(rate * CHUNK_SECONDS) * 2
    start = time.process_time()
    changer = make(rate, speed) if make else None
    encoder = OggOpusEncoder(rate)
    out = 0
    for i in range(0, len(pcm), step):
        part = pcm[i : i + step]
        if changer is not None:
            part = changer.feed(part)
        out += len(part) // 2
        encoder.feed(part)
    held = len(pcm) / 2 / speed - out
    tail = time.process_time()
    if changer is not None:
        rest = changer.finish()
        out += len(rest) // 2
        encoder.feed(rest)
    note = encoder.finish()
    end = time.process_time()
    if not note.startswith(b"OggS"):
        raise RuntimeError("the encoder made no Ogg file")
    return Run(end - start, end - tail, max(0.0, held) / rate, out)


def _tempo(
    make: Callable[[int, float], Changer] | None, pcm: bytes, rate: int, speed: float
) -> np.ndarray:
    """The changer's whole output for ``pcm`` fed in chunks, as floats."""
    changer = make(rate, speed) if make else None
    if changer is None:
        return _floats(pcm)
    step = round(rate * CHUNK_SECONDS) * 2
    parts = [changer.feed(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    return _floats(b"".join([*parts, changer.finish()]))


@dataclass
class Row:
    rate: int
    speed: float
    library: str
    cpu_ms_per_s: float
    ratio: float
    tempo_ms_per_s: float  # the changer's own share: less Opus on the output's length
    held_ms: float
    finish_ms: float
    length_err: float  # %
    pitch_err: float  # %
    between_db: float


def measure(
    rate: int,
    speed: float,
    library: str,
    make: Callable[[int, float], Changer] | None,
    speech: bytes,
    tone: bytes,
    repeat: int,
    opus_only: float | None,
) -> Row:
    runs = [run_once(make, speech, rate, speed) for _ in range(repeat)]
    best = min(runs, key=lambda r: r.cpu)
    seconds = len(speech) / 2 / rate
    want = seconds / speed
    tone_in = _floats(tone)
    tone_out = _tempo(make, tone, rate, speed)
    pitch_in = dominant_hz(tone_in, rate)
    cpu_per_s = best.cpu / seconds
    opus_share = (opus_only or cpu_per_s) * best.out_samples / rate / seconds
    return Row(
        rate=rate,
        speed=speed,
        library=library,
        cpu_ms_per_s=cpu_per_s * 1000,
        ratio=cpu_per_s / opus_only if opus_only else 1.0,
        tempo_ms_per_s=(cpu_per_s - opus_share) * 1000 if opus_only else 0.0,
        held_ms=best.held * 1000,
        finish_ms=min(r.finish_cpu for r in runs) * 1000,
        length_err=(best.out_samples / rate - want) / want * 100,
        pitch_err=(dominant_hz(tone_out, rate) - pitch_in) / pitch_in * 100,
        between_db=between_harmonics_db(tone_out, rate),
    )


HEADER = (
    f"{'rate':>6} {'speed':>5}  {'library':<20} {'CPU ms/s':>8} {'× 1.0':>6} {'tempo ms/s':>10} "
    f"{'held ms':>8} "
    f"{'finish ms':>9} {'length':>8} {'pitch':>8} {'between harmonics':>17}"
)


def format_row(row: Row) -> str:
    return (
        f"{row.rate:>6} {row.speed:>5.2f}  {row.library:<20} {row.cpu_ms_per_s:>8.2f} "
        f"{row.ratio:>6.2f} {row.tempo_ms_per_s:>10.2f} {row.held_ms:>8.0f} {row.finish_ms:>9.2f} "
        f"{row.length_err:>+7.2f}% {row.pitch_err:>+7.2f}% {row.between_db:>14.1f} dB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tempo",
        description="CPU and quality of the reply tempo change (keeping pitch) plus Opus "
        "encoding, per candidate library, fed in 0.5 s chunks as the bot does.",
    )
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="seconds of reply audio (default 30)"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per cell, the best counts (default 2)"
    )
    parser.add_argument(
        "--rates", type=int, nargs="+", default=list(RATES), help="output rates (44100 24000)"
    )
    parser.add_argument(
        "--speeds", type=float, nargs="+", default=list(SPEEDS), help="speeds (1.0 0.8 1.25 1.5)"
    )
    parser.add_argument(
        "--libraries",
        nargs="+",
        choices=list(CANDIDATES),
        default=list(CANDIDATES),
        metavar="NAME",
        help=f"candidates (default all importable: {', '.join(CANDIDATES)})",
    )
    args = parser.parse_args(argv)
    libraries, missing = installed(args.libraries)
    started = time.perf_counter()
    print(
        f"Reply tempo change + Opus encoding: {args.seconds:g} s of voice-like PCM16 mono in "
        f"{CHUNK_SECONDS:g} s chunks, best of {args.repeat}; CPU per second of reply"
    )
    print(HEADER)
    for rate in args.rates:
        speech = speech_pcm(args.seconds, rate)
        tone = steady_tone(TONE_SECONDS, rate)
        base = measure(rate, 1.0, "Opus only (today)", None, speech, tone, args.repeat, None)
        for speed in args.speeds:
            if speed == 1.0:
                print(format_row(base), flush=True)
                continue
            for library in libraries:
                make = CANDIDATES[library].make
                row = measure(
                    rate, speed, library, make, speech, tone, args.repeat, base.cpu_ms_per_s / 1000
                )
                print(format_row(row), flush=True)
    if missing:
        print(f"not installed, not measured: {', '.join(missing)}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
