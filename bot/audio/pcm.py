"""PCM16 mono arithmetic with numpy: levels and silence."""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLE_WIDTH", "loudest_dbfs"]

SAMPLE_WIDTH = 2
# Level windows of 20 ms: short enough to catch one spoken syllable in a long silent note.
WINDOW_SECONDS = 0.02


def loudest_dbfs(pcm: bytes | bytearray, rate: int) -> float:
    """RMS level of the loudest 20 ms window, in dB relative to full scale (-inf for silence)."""
    samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // SAMPLE_WIDTH)
    if samples.size == 0:
        return float("-inf")
    window = max(1, int(rate * WINDOW_SECONDS))
    usable = samples.size // window * window
    frames = samples[:usable].reshape(-1, window) if usable else samples.reshape(1, -1)
    energy = np.mean(np.square(frames, dtype=np.float64), axis=1)
    peak = float(np.sqrt(energy.max()))
    if peak == 0.0:
        return float("-inf")
    return 20.0 * float(np.log10(peak / 32768.0))
