"""PCM16 mono arithmetic with numpy: levels, silence, and pauses shortened."""

from __future__ import annotations

import collections

import numpy as np

__all__ = ["SAMPLE_WIDTH", "PauseCap", "loudest_dbfs"]

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


class PauseCap:
    """Shortens every pause of a PCM16 mono stream to at most ``max_seconds``, chunk by chunk.

    A pause is a run of quiet 20 ms frames: quieter than ``below_peak_db`` under the loudest
    frame so far, and than ``ceiling_dbfs`` in any case (before any sound, only frames under
    ``floor_dbfs`` count as quiet). Of a longer run, the first and last halves of
    ``max_seconds`` are kept, so words keep their soft onsets and endings; the middle is left
    out. Speech itself is never touched: quiet consonants are far shorter than a pause.

    Why: a server VAD that commits (and may answer) at pauses never sees one longer than the
    cap, and the provider bills only the seconds sent.
    """

    def __init__(
        self,
        rate: int,
        max_seconds: float = 0.6,
        *,
        below_peak_db: float = 30.0,
        floor_dbfs: float = -60.0,
        ceiling_dbfs: float = -30.0,
    ) -> None:
        self._frame = max(1, int(rate * WINDOW_SECONDS)) * SAMPLE_WIDTH
        keep = max(0, round(max_seconds / WINDOW_SECONDS))
        self._head = (keep + 1) // 2
        self._tail: collections.deque[bytes] = collections.deque(maxlen=max(keep // 2, 1))
        self._tail_frames = keep // 2
        self._below = below_peak_db
        self._floor = floor_dbfs
        self._ceiling = ceiling_dbfs
        self._peak_energy = 0.0
        self._run = 0  # quiet frames in the current pause
        self._rest = b""  # a partial frame carried to the next chunk
        self.removed_bytes = 0

    def feed(self, pcm: bytes) -> bytes:
        """The chunk with its pauses shortened (a partial frame waits for the next chunk)."""
        data = self._rest + pcm if self._rest else pcm
        n = len(data) // self._frame
        self._rest = data[n * self._frame :]
        if n == 0:
            return b""
        samples = np.frombuffer(data, dtype="<i2", count=n * self._frame // SAMPLE_WIDTH)
        energy = np.mean(np.square(samples.reshape(n, -1), dtype=np.float64), axis=1)
        full = 32768.0**2
        out: list[bytes] = []
        for i in range(n):
            frame = data[i * self._frame : (i + 1) * self._frame]
            e = float(energy[i])
            if self._peak_energy > 0:
                level = 10 * np.log10(self._peak_energy / full) - self._below
                threshold = min(self._ceiling, max(self._floor, level))
            else:
                threshold = self._floor
            quiet = e <= 0 or 10 * np.log10(e / full) < threshold
            if not quiet:
                self._peak_energy = max(self._peak_energy, e)
                out.extend(self._tail)
                self._tail.clear()
                self._run = 0
                out.append(frame)
                continue
            self._run += 1
            if self._run <= self._head:
                out.append(frame)
            elif self._tail_frames:
                if len(self._tail) == self._tail.maxlen:
                    self.removed_bytes += self._frame
                self._tail.append(frame)
            else:
                self.removed_bytes += self._frame
        return b"".join(out)

    def finish(self) -> bytes:
        """What is held back: the end of a trailing pause (up to half the cap) and the last
        partial frame."""
        out = b"".join(self._tail) + self._rest
        self._tail.clear()
        self._rest = b""
        return out
