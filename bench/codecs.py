"""The audio path choice, measured: each candidate decode and encode path on the same audio.

Decode: a voice note (OGG/Opus 48 kHz mono) to PCM16 mono 24 kHz. Encode: reply PCM16 mono at
44.1 kHz to an OGG/Opus voice note (48 kHz mono, 32 kbit/s, ``application voip``). Paths:

- ``pyav``: FFmpeg's libraries in-process, as ``bot.audio.codec`` does (``decode_to_pcm``;
  ``OggOpusEncoder`` fed in 100 ms chunks as deltas arrive, or fed the whole reply at once);
- ``ffmpeg pipes``: an ffmpeg subprocess, bytes in and out through pipes;
- ``ffmpeg files``: an ffmpeg subprocess reading and writing files, as the reference flow does;
- ``pydub``: ``AudioSegment.from_file`` on a BytesIO plus ``set_frame_rate``/``set_channels``/
  ``set_sample_width``; ``export(format="ogg", codec="libopus")``.

Each cell is the median of N runs: wall time, and CPU time (this process's plus the children's).
Every output is checked once (decoded length; ffprobe of encoded notes) before it is timed.

A bot decodes and encodes for many chats at once, in worker threads (``asyncio.to_thread``), so
one more row per direction runs 12 of the shortest jobs at once on a pool as large as
``asyncio.to_thread``'s default: whether a path scales across cores or queues on the GIL shows
there.
"""

from __future__ import annotations

import functools
import io
import os
import resource
import statistics
import subprocess
import tempfile
import time
import warnings
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.notes import make_note, probe_voice, reply_pcm
from bot.audio.codec import OggOpusEncoder, decode_to_pcm

__all__ = ["DECODERS", "ENCODERS", "Cell", "run_codecs"]

INPUT_RATE = 24_000
REPLY_RATE = 44_100
CHUNK_SECONDS = 0.1
AT_ONCE = 12
# The size of asyncio's default executor, which asyncio.to_thread uses.
POOL_SIZE = min(32, (os.cpu_count() or 1) + 4)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ffmpeg(*args: str, data: bytes = b"") -> bytes:
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", *args],
        input=data,
        capture_output=True,
        check=True,
    )
    return done.stdout


# -- decoders: OGG/Opus bytes -> PCM16 mono 24 kHz ------------------------------------------


def decode_pyav(data: bytes) -> bytes:
    return decode_to_pcm(data, rate=INPUT_RATE)


def decode_ffmpeg_pipes(data: bytes) -> bytes:
    return _ffmpeg(
        "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(INPUT_RATE), "pipe:1", data=data
    )


def decode_ffmpeg_files(data: bytes) -> bytes:
    with tempfile.TemporaryDirectory(prefix="bench-codec-") as tmp:
        source, converted = Path(tmp) / "input.oga", Path(tmp) / "converted.wav"
        source.write_bytes(data)
        _ffmpeg(
            "-y", "-i", str(source), "-ac", "1", "-ar", str(INPUT_RATE),
            "-sample_fmt", "s16", str(converted),
        )  # fmt: skip
        with wave.open(str(converted), "rb") as wf:
            return wf.readframes(wf.getnframes())


def _pydub() -> Any:
    with warnings.catch_warnings():
        # pydub imports audioop, deprecated since Python 3.11 (gone in 3.13).
        warnings.simplefilter("ignore")
        from pydub import AudioSegment
    return AudioSegment


def decode_pydub(data: bytes) -> bytes:
    segment = _pydub().from_file(io.BytesIO(data), format="ogg")
    segment = segment.set_frame_rate(INPUT_RATE).set_channels(1).set_sample_width(2)
    return bytes(segment.raw_data)


# -- encoders: PCM16 mono 44.1 kHz -> OGG/Opus voice note ---------------------------------


@dataclass
class _Extra:
    """Side figures of one encode run (PyAV chunked only)."""

    values: dict[str, float] = field(default_factory=dict)


def encode_pyav_chunks(pcm: bytes, extra: _Extra) -> bytes:
    encoder = OggOpusEncoder(REPLY_RATE)
    step = round(REPLY_RATE * CHUNK_SECONDS) * 2
    longest = 0.0
    for i in range(0, len(pcm), step):
        t = time.perf_counter()
        encoder.feed(pcm[i : i + step])
        longest = max(longest, time.perf_counter() - t)
    t = time.perf_counter()
    voice = encoder.finish()
    extra.values["tail_ms"] = (time.perf_counter() - t) * 1000
    extra.values["longest_chunk_ms"] = longest * 1000
    return voice


def encode_pyav_whole(pcm: bytes, extra: _Extra) -> bytes:
    encoder = OggOpusEncoder(REPLY_RATE)
    encoder.feed(pcm)
    return encoder.finish()


OPUS_OUT = ("-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-application", "voip")


def encode_ffmpeg_pipes(pcm: bytes, extra: _Extra) -> bytes:
    return _ffmpeg(
        "-f", "s16le", "-ar", str(REPLY_RATE), "-ac", "1", "-i", "pipe:0",
        *OPUS_OUT, "-f", "ogg", "pipe:1", data=pcm,
    )  # fmt: skip


def encode_ffmpeg_files(pcm: bytes, extra: _Extra) -> bytes:
    with tempfile.TemporaryDirectory(prefix="bench-codec-") as tmp:
        output, answer = Path(tmp) / "output.wav", Path(tmp) / "answer.ogg"
        with wave.open(str(output), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(REPLY_RATE)
            wf.writeframes(pcm)
        _ffmpeg("-y", "-i", str(output), *OPUS_OUT, str(answer))
        return answer.read_bytes()


def encode_pydub(pcm: bytes, extra: _Extra) -> bytes:
    segment = _pydub()(data=pcm, sample_width=2, frame_rate=REPLY_RATE, channels=1)
    out = io.BytesIO()
    segment.export(
        out,
        format="ogg",
        codec="libopus",
        bitrate="32k",
        parameters=["-application", "voip", "-ar", "48000"],
    )
    return out.getvalue()


DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "PyAV": decode_pyav,
    "ffmpeg pipes": decode_ffmpeg_pipes,
    "ffmpeg files": decode_ffmpeg_files,
    "pydub": decode_pydub,
}
ENCODERS: dict[str, Callable[[bytes, _Extra], bytes]] = {
    "PyAV 100 ms chunks": encode_pyav_chunks,
    "PyAV whole": encode_pyav_whole,
    "ffmpeg pipes": encode_ffmpeg_pipes,
    "ffmpeg files": encode_ffmpeg_files,
    "pydub": encode_pydub,
}


@dataclass
class Cell:
    """Medians of one path on one input."""

    wall_ms: float
    cpu_ms: float
    runs: int
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "wall_ms": self.wall_ms,
            "cpu_ms": self.cpu_ms,
            "runs": self.runs,
            **self.extra,
        }


def _timed(fn: Callable[[], bytes]) -> tuple[float, float]:
    cpu, children, wall = time.process_time(), _children_cpu(), time.perf_counter()
    fn()
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu + _children_cpu() - children
    return wall * 1000, cpu * 1000


def _at_once(fn: Callable[[], bytes]) -> tuple[float, float]:
    """``fn`` run AT_ONCE times on a pool of POOL_SIZE threads."""
    with ThreadPoolExecutor(POOL_SIZE) as pool:
        return _timed(lambda: b"".join(pool.map(lambda _: fn(), range(AT_ONCE))))


def _check_decoded(path: str, pcm: bytes, seconds: float) -> None:
    got = len(pcm) / 2 / INPUT_RATE
    if abs(got - seconds) > max(0.05, seconds * 0.005):
        raise RuntimeError(f"decode by {path}: {got:.3f} s of PCM from a {seconds:g} s note")


def _check_encoded(path: str, voice: bytes, seconds: float) -> None:
    problems = probe_voice(voice).problems(seconds)
    if problems:
        raise RuntimeError(f"encode by {path}: {', '.join(problems)}")


def run_codecs(
    note_seconds: list[float],
    reply_seconds: list[float],
    runs: int,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """{"decode": {"5s": {path: cell}}, "encode": {"10s": {path: cell}}} as plain dicts."""
    out: dict[str, dict[str, dict[str, Any]]] = {"decode": {}, "encode": {}}
    for seconds in note_seconds:
        note = make_note(seconds)
        progress(f"decode {seconds:g} s note")
        for path, decoder in DECODERS.items():
            _check_decoded(path, decoder(note), seconds)
        samples: dict[str, list[tuple[float, float]]] = {path: [] for path in DECODERS}
        for _ in range(runs):  # paths take turns, so a slow moment hits them alike
            for path, decoder in DECODERS.items():
                samples[path].append(_timed(functools.partial(decoder, note)))
        out["decode"][f"{seconds:g}s"] = {
            path: _cell(values).as_dict() for path, values in samples.items()
        }
    if note_seconds:
        seconds = min(note_seconds)
        note = make_note(seconds)
        progress(f"decode {AT_ONCE} × {seconds:g} s notes at once")
        samples = {path: [] for path in DECODERS}
        for _ in range(max(1, (runs + 1) // 2)):
            for path, decoder in DECODERS.items():
                samples[path].append(_at_once(functools.partial(decoder, note)))
        out["decode"][f"{AT_ONCE} × {seconds:g}s at once, {POOL_SIZE} threads"] = {
            path: _cell(values).as_dict() for path, values in samples.items()
        }
    for seconds in reply_seconds:
        pcm = reply_pcm(seconds, REPLY_RATE)
        progress(f"encode {seconds:g} s reply")
        for path, encoder in ENCODERS.items():
            _check_encoded(path, encoder(pcm, _Extra()), seconds)
        timings: dict[str, list[tuple[float, float]]] = {path: [] for path in ENCODERS}
        extras: dict[str, list[_Extra]] = {path: [] for path in ENCODERS}
        for _ in range(runs):
            for path, encoder in ENCODERS.items():
                extra = _Extra()
                timings[path].append(_timed(functools.partial(encoder, pcm, extra)))
                extras[path].append(extra)
        out["encode"][f"{seconds:g}s"] = {
            path: _cell(timings[path], extras[path]).as_dict() for path in ENCODERS
        }
    if reply_seconds:
        seconds = min(reply_seconds)
        pcm = reply_pcm(seconds, REPLY_RATE)
        progress(f"encode {AT_ONCE} × {seconds:g} s replies at once")
        timings = {path: [] for path in ENCODERS}
        for _ in range(max(1, (runs + 1) // 2)):
            for path, encoder in ENCODERS.items():
                job = functools.partial(lambda e, p: e(p, _Extra()), encoder, pcm)
                timings[path].append(_at_once(job))
        out["encode"][f"{AT_ONCE} × {seconds:g}s at once, {POOL_SIZE} threads"] = {
            path: _cell(values).as_dict() for path, values in timings.items()
        }
    return out


def _cell(values: list[tuple[float, float]], extras: list[_Extra] | None = None) -> Cell:
    keys = sorted({key for extra in extras or [] for key in extra.values})
    return Cell(
        wall_ms=statistics.median(v[0] for v in values),
        cpu_ms=statistics.median(v[1] for v in values),
        runs=len(values),
        extra={
            key: statistics.median(e.values[key] for e in extras or [] if key in e.values)
            for key in keys
        },
    )
