"""The codec path: FFmpeg's libraries in-process through PyAV.

Chosen by benchmark (README, "Design choices"): no subprocess start-up, no temporary files, and
encoding fed in chunks as the reply arrives, so the voice note is ready right after the last
audio delta. Every function here blocks; run it in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import av
import av.error
import numpy as np

from bot.audio.pcm import SAMPLE_WIDTH
from bot.errors import CorruptAudio, EmptyAudio, NotAudio, TooLong

__all__ = [
    "ALLOWED_CONTAINERS",
    "CODEC_THREADS",
    "OPEN_OPTIONS",
    "OggOpusEncoder",
    "decode_chunks",
    "decode_to_pcm",
    "in_codec_thread",
    "ogg_logical_streams",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Codec work runs on its own few threads, not asyncio's default pool: PyAV holds the GIL for
# much of its work, and every extra thread contending for it lengthens the event loop's waits.
# bench/ with 50 chats at once: one pool of 2 threads gave the shortest stalls and tails (a
# pool each for decoding and encoding, 4 threads, made both longer).
CODEC_THREADS = ThreadPoolExecutor(
    max_workers=max(1, min(2, os.cpu_count() or 1)), thread_name_prefix="codec"
)

OPUS_RATE = 48_000
# Telegram's own voice notes are ~32 kbit/s Opus; speech needs no more.
OPUS_BITRATE = 32_000

# The containers people send, by FFmpeg's demuxer names (``container.format.name``): voice
# notes (OGG/Opus), MP3, M4A and phone recordings and video notes (MP4/3GP/MOV), WAV,
# WebM/Matroska, FLAC, raw AAC (ADTS) and AMR with its "#!AMR" header.
ALLOWED_CONTAINERS = frozenset(
    {"ogg", "mp3", "mov,mp4,m4a,3gp,3g2,mj2", "wav", "matroska,webm", "flac", "aac", "amr"}
)
# Left to itself FFmpeg tries every demuxer it has on the bytes, and some of them read more
# than the bytes: concat opens the files its script names (relative to the working folder),
# sdp listens for RTP from the addresses it lists, hls (and dash, where built) fetch segments.
# ``format_whitelist`` makes avformat_open_input refuse any other demuxer right after probing,
# before that demuxer's read_header opens anything. The input itself is a Python file object,
# which is no protocol, so a protocol whitelist naming none at all ("none" is no protocol)
# leaves even the allowed demuxers nothing else to open (MP4 data references, say).
OPEN_OPTIONS = {
    "format_whitelist": ",".join(sorted(ALLOWED_CONTAINERS)),
    "protocol_whitelist": "none",
}


# An Ogg page header (RFC 3533, section 6): capture pattern, version, header type (0x02: the
# first page of a logical stream), granule position, serial number, page sequence, CRC, and the
# number of segments whose lengths follow.
_OGG_PAGE = struct.Struct("<4sBBqIIIB")
_OGG_BOS = 0x02


def ogg_logical_streams(data: bytes) -> tuple[int, int]:
    """How many logical streams an Ogg file holds, from its page headers: (first pages, serial
    numbers). A plain voice note has one of each; a file chained from several (one after
    another) or multiplexed (side by side) has more. Walks page by page, skipping each body, so
    nothing inside the audio is mistaken for a page; on damage it finds the next ``OggS``, as
    FFmpeg does. Stops as soon as a second stream shows."""
    bos = 0
    serials: set[int] = set()
    pos, size = 0, len(data)
    while pos + _OGG_PAGE.size <= size:
        magic, version, flags, _, serial, _, _, segments = _OGG_PAGE.unpack_from(data, pos)
        if magic != b"OggS" or version != 0:
            pos = data.find(b"OggS", pos + 1)
            if pos < 0:
                break
            continue
        bos += bool(flags & _OGG_BOS)
        serials.add(serial)
        if bos > 1 or len(serials) > 1:
            break
        table = pos + _OGG_PAGE.size
        pos = table + segments + sum(data[table : table + segments])
    return bos, len(serials)


def _refuse_chained_ogg(data: bytes) -> None:
    """One logical stream per Ogg file, checked before any audio goes out. FFmpeg decodes a
    chained file's later streams as the same stream: a 3 s note declared as 3 s could carry ten
    minutes more, and the model would hear (and bill) audio until the length limit stopped it."""
    first_pages, serials = ogg_logical_streams(data)
    if first_pages > 1 or serials > 1:
        log.warning(
            "audio: refused, an Ogg file of more than one logical stream (chained or "
            "multiplexed: %d first pages, %d serial numbers seen)",
            first_pages,
            serials,
        )
        raise CorruptAudio("chained or multiplexed Ogg")


async def in_codec_thread(fn: Callable[..., T], *args: object) -> T:
    """Run blocking codec work on the codec threads."""
    return await asyncio.get_running_loop().run_in_executor(CODEC_THREADS, fn, *args)


def decode_chunks(
    data: bytes,
    on_chunk: Callable[[bytes], None],
    *,
    rate: int = 24_000,
    max_seconds: float | None = None,
    chunk_seconds: float = 1.0,
) -> int:
    """Decode any audio (or the sound of a video) to PCM16 mono at ``rate``, handing it to
    ``on_chunk`` in pieces of ``chunk_seconds`` as soon as each is ready (the last one shorter,
    and the one before a change of rate or channels midway). Returns the number of bytes decoded.

    Only the containers in ``ALLOWED_CONTAINERS`` are read, and nothing but ``data``: no file,
    no URL, whatever the bytes ask for.

    Raises EmptyAudio for no bytes, NotAudio when the container is not an allowed one or has no
    audio stream, CorruptAudio when FFmpeg cannot read it or it is an Ogg file of more than one
    logical stream (chained or multiplexed; refused before the first chunk), TooLong as soon as
    the decoded audio passes ``max_seconds`` (the metadata may lie; this stops a long file before
    it fills memory).
    """
    if not data:
        raise EmptyAudio("no bytes")
    limit = None if max_seconds is None else int(max_seconds * rate) * SAMPLE_WIDTH
    total = 0
    try:
        container = av.open(io.BytesIO(data), mode="r", container_options=OPEN_OPTIONS)
    except av.error.ArgumentError as exc:
        # EINVAL at opening is how FFmpeg refuses a demuxer outside format_whitelist (and a
        # URL outside protocol_whitelist). The first bytes name what it was ("ffconcat", "v=0",
        # "#EXTM3U", ...).
        log.warning(
            "audio: refused, the container is not one of the allowed ones (%s): %r...",
            exc,
            data[:16],
        )
        raise NotAudio("container not allowed") from None
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise CorruptAudio(f"cannot open: {exc}") from None
    with container:
        if container.format.name not in ALLOWED_CONTAINERS:
            # FFmpeg should have refused it already; this holds should the option be dropped.
            log.warning("audio: refused, the container is %s", container.format.name)
            raise NotAudio(f"container {container.format.name} not allowed")
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise NotAudio("no audio stream")
        if container.format.name == "ogg":
            _refuse_chained_ogg(data)
        declared = (container.duration or 0) / av.time_base
        if max_seconds is not None and declared > max_seconds + 1:
            raise TooLong(declared, max_seconds)  # the container says so: nothing to decode

        # Whole chunks out of the resampler: resampling each 20 ms Opus frame on its own
        # costs more than the decoding itself.
        def new_resampler() -> av.AudioResampler:
            return av.AudioResampler(
                format="s16", layout="mono", rate=rate, frame_size=max(1, int(rate * chunk_seconds))
            )

        resampler = new_resampler()

        def emit(frames: list[av.AudioFrame]) -> None:
            nonlocal total
            for part in frames:
                pcm = part.to_ndarray().tobytes()
                total += len(pcm)
                if limit is not None and total > limit:
                    # The container's own duration says how long the whole file is, when known.
                    declared = (container.duration or 0) / av.time_base
                    raise TooLong(max(declared, total / SAMPLE_WIDTH / rate), max_seconds or 0)
                on_chunk(pcm)

        def resample(frame: av.AudioFrame) -> None:
            nonlocal resampler
            try:
                frames = resampler.resample(frame)
            except ValueError:
                # A resampler takes frames of its first frame's rate, channels and sample format
                # only (ValueError otherwise), and a stream may change them midway (streams
                # joined end to end, damage): what the old one holds goes out, the rest through
                # a new one. Checking each frame beforehand would cost time on every frame.
                emit(resampler.resample(None))
                resampler = new_resampler()
                frames = resampler.resample(frame)
            emit(frames)

        try:
            for frame in container.decode(stream):
                assert isinstance(frame, av.AudioFrame)  # decoding an audio stream
                resample(frame)
        except av.error.FFmpegError as exc:
            # A damaged tail still leaves the part before it worth answering.
            if total < rate * SAMPLE_WIDTH // 2:
                raise CorruptAudio(f"cannot decode: {exc}") from None
            log.warning("audio: decoding stopped early, keeping %d bytes: %s", total, exc)
        emit(resampler.resample(None))
    return total


def decode_to_pcm(data: bytes, *, rate: int = 24_000, max_seconds: float | None = None) -> bytes:
    """The whole input as one PCM16 mono buffer at ``rate`` (see ``decode_chunks``)."""
    parts: list[bytes] = []
    decode_chunks(data, parts.append, rate=rate, max_seconds=max_seconds)
    return b"".join(parts)


class OggOpusEncoder:
    """Encodes PCM16 mono at ``input_rate`` to an OGG/Opus voice note, fed chunk by chunk.

    Telegram shows OGG/Opus mono as a voice message. ``feed`` encodes what it is given at once,
    so ``finish`` has only the last frame to flush.
    """

    def __init__(self, input_rate: int, *, bitrate: int = OPUS_BITRATE) -> None:
        self.input_rate = input_rate
        self.samples = 0
        self._buffer = io.BytesIO()
        container = av.open(self._buffer, mode="w", format="ogg")
        stream = container.add_stream("libopus", rate=OPUS_RATE, layout="mono")
        stream.bit_rate = bitrate
        stream.codec_context.options = {"application": "voip"}
        # Both are dropped by ``finish``: the codec context and its buffers (about 1 MiB) go at
        # once, even while something still holds this encoder.
        self._container: av.container.OutputContainer | None = container
        self._stream: av.audio.stream.AudioStream | None = stream
        self._odd = b""

    @property
    def duration(self) -> float:
        """Seconds of audio fed so far."""
        return self.samples / self.input_rate

    def feed(self, pcm: bytes) -> None:
        """Encode the next piece of PCM16 (any length; an odd trailing byte waits)."""
        if self._odd:
            pcm = self._odd + pcm
        usable = len(pcm) // SAMPLE_WIDTH * SAMPLE_WIDTH
        self._odd = pcm[usable:]
        if not usable:
            return
        samples = np.frombuffer(pcm, dtype="<i2", count=usable // SAMPLE_WIDTH)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.rate = self.input_rate
        frame.pts = self.samples
        self.samples += samples.size
        stream, container = self._parts()
        for packet in stream.encode(frame):
            container.mux(packet)

    def _parts(self) -> tuple[av.audio.stream.AudioStream, av.container.OutputContainer]:
        if self._stream is None or self._container is None:
            raise RuntimeError("the encoder has finished")
        return self._stream, self._container

    def finish(self) -> bytes:
        """Flush the encoder and return the whole OGG file; the encoder is spent after it."""
        stream, container = self._parts()
        self._stream = self._container = None
        for packet in stream.encode(None):
            container.mux(packet)
        container.close()
        return self._buffer.getvalue()
