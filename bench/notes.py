"""Benchmark audio: voice notes made with the ffmpeg command, reply-like PCM, and checks.

A voice note here is what Telegram clients send: OGG/Opus, 48 kHz mono, about 32 kbit/s. The
signal is voice-like enough for every codec path: a fundamental with two harmonics and a 4 Hz
syllable-rate swell that never falls silent (so the stand-in's server VAD sees one utterance).
Notes are cached by their parameters in ``bench/results/cache`` (git-ignored).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "CACHE",
    "VoiceCheck",
    "dominant_hz",
    "make_note",
    "make_notes",
    "probe_voice",
    "reply_pcm",
]

CACHE = Path(__file__).resolve().parent / "results" / "cache"
OPUS_ARGS = ("-c:a", "libopus", "-b:a", "32k", "-vbr", "constrained", "-application", "voip")


def _expression(hz: float) -> str:
    return (
        f"0.35*sin(2*PI*{hz}*t)*(0.75+0.25*sin(2*PI*4*t))"
        f"+0.15*sin(2*PI*{2 * hz}*t)+0.08*sin(2*PI*{3 * hz}*t)"
    )


def make_note(seconds: float, hz: float = 220.0, cache: Path = CACHE) -> bytes:
    """An OGG/Opus voice note of ``seconds`` with fundamental ``hz``, made by ffmpeg (cached)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"note-{seconds:g}s-{hz:g}hz.ogg"
    if not path.exists():
        tmp = path.with_suffix(".tmp.ogg")
        subprocess.run(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"aevalsrc=exprs='{_expression(hz)}':s=48000:d={seconds:g}",
                "-ac", "1", *OPUS_ARGS, str(tmp),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        tmp.replace(path)
    return path.read_bytes()


def make_notes(seconds: float, frequencies: list[float], cache: Path = CACHE) -> list[bytes]:
    """One note per frequency (two ffmpeg runs at a time)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda hz: make_note(seconds, hz, cache), frequencies))


def reply_pcm(seconds: float, rate: int, hz: float = 180.0) -> bytes:
    """PCM16 mono of the same voice-like signal: what a realtime model sends back."""
    t = np.arange(round(seconds * rate), dtype=np.float64) / rate
    signal = (
        0.35 * np.sin(2 * np.pi * hz * t) * (0.75 + 0.25 * np.sin(2 * np.pi * 4 * t))
        + 0.15 * np.sin(2 * np.pi * 2 * hz * t)
        + 0.08 * np.sin(2 * np.pi * 3 * hz * t)
    )
    return (signal * 32767).astype("<i2").tobytes()


def dominant_hz(pcm: bytes | bytearray, rate: int) -> float:
    """Frequency of the strongest spectral peak of PCM16 mono."""
    samples = np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float64)
    if samples.size < 2:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum[1:]) + 1) * rate / samples.size


@dataclass(frozen=True)
class VoiceCheck:
    codec: str
    channels: int
    sample_rate: int
    format: str
    duration: float

    def problems(self, expected_seconds: float) -> list[str]:
        """What makes this not a Telegram voice note of the expected length (empty: fine)."""
        found = []
        if self.codec != "opus":
            found.append(f"codec {self.codec}")
        if self.channels != 1:
            found.append(f"{self.channels} channels")
        if self.sample_rate != 48000:
            found.append(f"{self.sample_rate} Hz")
        if "ogg" not in self.format:
            found.append(f"container {self.format}")
        if abs(self.duration - expected_seconds) > max(0.1, expected_seconds * 0.01):
            found.append(f"{self.duration:.3f} s instead of {expected_seconds:g} s")
        return found


def probe_voice(data: bytes) -> VoiceCheck:
    """ffprobe's view of an audio file given as bytes (from a file: OGG durations need seeking)."""
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        path = Path(tmp) / "voice.ogg"
        path.write_bytes(data)
        out = subprocess.run(
            [
                "ffprobe", "-v", "error", "-print_format", "json", "-show_entries",
                "stream=codec_name,channels,sample_rate:format=format_name,duration", str(path),
            ],
            capture_output=True,
            check=True,
        )  # fmt: skip
    info = json.loads(out.stdout)
    stream = info["streams"][0]
    return VoiceCheck(
        codec=stream.get("codec_name", ""),
        channels=int(stream.get("channels", 0)),
        sample_rate=int(stream.get("sample_rate", 0)),
        format=info["format"].get("format_name", ""),
        duration=float(info["format"].get("duration", 0.0)),
    )
