"""Audio properties measured with the real ffprobe and ffmpeg commands, independent of the bot."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Probe:
    format_name: str
    codec: str
    channels: int
    sample_rate: int
    duration: float


def probe(data: bytes) -> Probe:
    """ffprobe's view of a file given as bytes (a real file: OGG's duration needs seeking)."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as file:
        file.write(data)
        file.flush()
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
             file.name],
            capture_output=True, check=True,
        )  # fmt: skip
    info = json.loads(out.stdout)
    stream = next(s for s in info["streams"] if s["codec_type"] == "audio")
    return Probe(
        format_name=info["format"]["format_name"],
        codec=stream["codec_name"],
        channels=int(stream["channels"]),
        sample_rate=int(stream["sample_rate"]),
        duration=float(info["format"].get("duration") or stream.get("duration")),
    )


def decode(data: bytes, rate: int = 48_000) -> np.ndarray:
    """PCM of a file as float samples in [-1, 1], decoded by the ffmpeg command."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"],
        input=data, capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(out.stdout, dtype="<i2").astype(np.float64) / 32768.0


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    """Frequency of the strongest FFT bin."""
    windowed = samples * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(windowed))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def pcm16_samples(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float64) / 32768.0
