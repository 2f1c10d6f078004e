"""Reply tempo changed on the bot's side, keeping the pitch: FFmpeg's ``atempo`` through PyAV.

For a provider that takes no speed (Yandex), a chat's chosen speed is applied to the reply's
PCM before Opus encoding, chunk by chunk as the reply arrives, so the voice note is still ready
right after the last audio delta.

Chosen by benchmark (``python -m bench.tempo``: 30 s of voice-like PCM16 fed in 0.5 s chunks
through the changer and ``OggOpusEncoder``, CPU per second of reply, 2-core machine). At
44.1 kHz (Yandex's rate), Opus encoding alone costs 12.9 ms per second of reply; the tempo
change's own share at speeds 0.8 / 1.25 / 1.5 was, in ms per second: ``atempo`` 2.3 / 1.8 /
1.7 (so 1.43× / 0.94× / 0.80× of today's cost in all: faster speech leaves less to encode);
audiostretchy's TDHS 6.5 / 5.8 / 5.5; audiotsm's WSOLA 19.5 / 14.6 / 12.6; Rubber Band
(pylibrb, realtime) R2 22.8 / 13.6 / 14.8 and R3 55.9 / 41.2 / 39.0; pytsmod's WSOLA takes
whole signals only (0.5-1 s at ``finish`` for 30 s, so no streaming). All kept the length
(within 0.5 %) and, but R2 (up to 1.1 % off), the pitch (within 0.1 %). On a steady voice-like
tone ``atempo`` left -41 to -47 dB of the energy between the harmonics (where splices and
phase smearing show): TDHS -38 to -44, audiotsm -36 to -41, R2 -17 to -24; only R3 did better,
and only at 44.1 kHz (-60 to -72; -34 to -39 at 24 kHz), at 12-24 times atempo's CPU and
under the GPL. So no new dependency: ``atempo`` (WSOLA, after Pavel Koshevoy's yae filter) is
in the FFmpeg the bot already loads for its codecs, and starts no thread of its own. Every
method here blocks; run it on the codec threads.
"""

from __future__ import annotations

import av
import av.error
import av.filter
import numpy as np

from bot.audio.pcm import SAMPLE_WIDTH

__all__ = ["SPEED_RANGE", "TempoChanger"]

# FFmpeg's atempo takes 0.5 to 100, but "tempo greater than 2 will skip some samples rather
# than blend them in" (ffmpeg-filters, atempo): past 2 the result is choppy. The chat speeds
# (0.8 to 1.5) sit well inside.
SPEED_RANGE = (0.5, 2.0)
# atempo gives out a frame's worth of output only once the next frame has come in, so a chunk
# pushed whole (0.5 s from the provider) would be held back whole until the next one, and
# ``finish`` would have it all to stretch and encode. Frames of 40 ms hold back 30-45 ms
# instead, for 0.35 ms more CPU per second of audio (measured at 44.1 kHz, speed 1.25).
FRAME_SECONDS = 0.04


class TempoChanger:
    """Changes the tempo of PCM16 mono at ``rate`` by ``speed`` (1.25: a quarter faster),
    keeping the pitch, fed chunk by chunk.

    ``feed`` returns what the filter has ready (``atempo`` holds back a frame and about one
    window, 30-45 ms, and so may return nothing for the first small chunks); ``finish`` returns
    the rest. Speed 1.0 passes the audio through untouched, without a filter graph.
    """

    def __init__(self, rate: int, speed: float) -> None:
        low, high = SPEED_RANGE
        if not low <= speed <= high:
            raise ValueError(f"speed {speed} outside {low}..{high}")
        if rate <= 0:
            raise ValueError(f"sample rate {rate}")
        self.rate = rate
        self.speed = speed
        self.samples_in = 0
        self.samples_out = 0
        self._frame = max(256, round(rate * FRAME_SECONDS))
        self._odd = b""
        self._finished = False
        self._graph: av.filter.Graph | None = None
        if speed != 1.0:
            graph = av.filter.Graph()
            # One thread: left at 0, FFmpeg starts a slice-thread pool of one thread per core
            # for every graph, and atempo has no slice threading to use it.
            graph.threads = 1
            graph.link_nodes(
                graph.add_abuffer(sample_rate=rate, format="s16", layout="mono"),
                graph.add("atempo", f"{speed:.6f}"),
                # atempo works on s16 itself; this pins the sink to PCM16 mono whatever it
                # negotiates, and costs nothing when no conversion is needed.
                graph.add("aformat", "sample_fmts=s16:channel_layouts=mono"),
                graph.add("abuffersink"),
            ).configure()
            # Only the graph is kept, not its filter contexts (each holds the graph): ``finish``
            # frees the graph and its buffers at once by dropping this reference.
            self._graph = graph

    def feed(self, pcm: bytes) -> bytes:
        """Tempo-change the next piece of PCM16 (any length; an odd trailing byte waits for the
        next call). Returns the PCM16 ready so far, possibly none."""
        if self._finished:
            raise RuntimeError("the tempo changer has finished")
        if self._odd:
            pcm = self._odd + pcm
        usable = len(pcm) // SAMPLE_WIDTH * SAMPLE_WIDTH
        self._odd = pcm[usable:]
        if not usable:
            return b""
        count = usable // SAMPLE_WIDTH
        self.samples_in += count
        if self._graph is None:
            self.samples_out += count
            return pcm[:usable]
        samples = np.frombuffer(pcm, dtype="<i2", count=count).reshape(1, -1)
        pts = self.samples_in - count
        for start in range(0, count, self._frame):
            part = samples[:, start : start + self._frame]
            frame = av.AudioFrame.from_ndarray(part, format="s16", layout="mono")
            frame.rate = self.rate
            frame.pts = pts + start
            self._graph.push(frame)
        return self._drain(self._graph)

    def finish(self) -> bytes:
        """The rest of the output; the changer is spent after it (an odd byte left over, half
        a sample, is dropped, as ``OggOpusEncoder`` drops it)."""
        if self._finished:
            raise RuntimeError("the tempo changer has finished")
        self._finished = True
        self._odd = b""
        graph, self._graph = self._graph, None
        if graph is None:
            return b""
        graph.push(None)
        return self._drain(graph)

    def _drain(self, graph: av.filter.Graph) -> bytes:
        parts: list[bytes] = []
        while True:
            try:
                frame = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                # EAGAIN: the filter wants more input; EOF: all flushed after ``push(None)``.
                break
            assert isinstance(frame, av.AudioFrame)  # an audio-only graph
            out = frame.to_ndarray()
            self.samples_out += out.shape[-1]
            parts.append(out.astype("<i2", copy=False).tobytes())
        return b"".join(parts)
