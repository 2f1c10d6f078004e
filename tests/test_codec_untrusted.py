"""The decoder against hostile input, through the real FFmpeg (PyAV): scripts and playlists that
name other files or URLs, a session description that opens sockets, every allowed container, and
a few hundred damaged voice notes.

The evidence that nothing else was opened is the kind that fails without the whitelists: a
named pipe with no writer (opening it for reading blocks until someone writes, so a decoder that
opened it would still be running), an HTTP server that counts requests, a UDP port that would be
taken.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import pytest

from bot.audio import codec
from bot.audio.codec import ALLOWED_CONTAINERS, OPEN_OPTIONS, decode_to_pcm
from bot.errors import CorruptAudio, InputError, NotAudio
from stand_ins.media import TONE_HZ, make_containers
from tests.audio_props import dominant_hz, pcm16_samples

# The bot's default MAX_INPUT_SECONDS: the decoder runs with a limit in the bot.
MAX_SECONDS = 120.0
# How long a refusal may take; one that opened a pipe or a socket would take far longer.
DEADLINE = 5.0

# What FFmpeg calls the container of each file made by stand_ins.media.make_containers.
DEMUXERS = {
    "opus.ogg": "ogg",
    "vorbis.ogg": "ogg",
    "tone.mp3": "mp3",
    "tone.m4a": "mov,mp4,m4a,3gp,3g2,mj2",
    "tone.3gp": "mov,mp4,m4a,3gp,3g2,mj2",
    "tone.wav": "wav",
    "tone.webm": "matroska,webm",
    "tone.mka": "matroska,webm",
    "tone.flac": "flac",
    "tone.aac": "aac",
    "tone.amr": "amr",
}


def make_amr(path: Path) -> Path:
    """One second of the tone as AMR-NB (8 kHz) with its "#!AMR" header. Debian's ffmpeg has no
    AMR encoder; PyAV's FFmpeg has opencore's."""
    rate = 8_000
    t = np.arange(rate) / rate
    samples = (np.sin(2 * np.pi * TONE_HZ * t) * 8_000).astype("<i2").reshape(1, -1)
    with av.open(str(path), "w", format="amr") as out:
        stream = out.add_stream("libopencore_amrnb", rate=rate, layout="mono")
        stream.bit_rate = 12_200
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.rate = rate
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def containers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("containers")
    made = make_containers(out)
    if "libopencore_amrnb" in av.codecs_available:
        made["tone.amr"] = make_amr(out / "tone.amr")
    return made


class Decoding:
    """``decode_to_pcm`` on a daemon thread, so that a decoder stuck on a pipe or a socket
    fails the test instead of hanging it."""

    def __init__(self, data: bytes) -> None:
        self.outcome: bytes | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(data,), daemon=True)
        self._thread.start()

    def _run(self, data: bytes) -> None:
        try:
            self.outcome = decode_to_pcm(data, max_seconds=MAX_SECONDS)
        except BaseException as exc:
            self.outcome = exc

    def finished(self, within: float) -> bool:
        self._thread.join(within)
        return not self._thread.is_alive()


def reader_waiting(fifo: Path) -> bool:
    """Whether someone is opening ``fifo`` for reading, and if so let them go on to end of file.

    Opening a pipe's write end without blocking succeeds only while there is a reader (ENXIO
    otherwise); a reader with no writer blocks in open() until then.
    """
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return False
        raise
    os.close(fd)
    return True


def concat_script(*lines: str) -> bytes:
    return "\n".join(["ffconcat version 1.0", *lines, ""]).encode()


# --- files named by a concat script -------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        OPEN_OPTIONS,
        {"format_whitelist": OPEN_OPTIONS["format_whitelist"]},
        {"protocol_whitelist": OPEN_OPTIONS["protocol_whitelist"]},
    ],
    ids=["both", "format_whitelist alone", "protocol_whitelist alone"],
)
def test_a_concat_script_never_opens_the_file_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, str]
) -> None:
    # Each whitelist on its own is enough: the format one stops the concat demuxer before it
    # reads its script, the protocol one stops any demuxer from opening a file.
    fifo = tmp_path / "voice.ogg"
    os.mkfifo(fifo)
    monkeypatch.chdir(tmp_path)  # the script's relative names resolve from the working folder
    monkeypatch.setattr(codec, "OPEN_OPTIONS", options)
    decoding = Decoding(concat_script("file voice.ogg"))
    finished = decoding.finished(within=DEADLINE)
    opened = reader_waiting(fifo)  # also lets a stuck decoder go
    assert finished and not opened, "the decoder opened the file the script names"
    assert isinstance(decoding.outcome, NotAudio)


def test_a_check_of_the_format_after_opening_would_come_too_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the whitelists the concat demuxer opens the named file while the input is being
    opened, before the decoder can look at ``container.format``: this is what the pipe shows."""
    fifo = tmp_path / "voice.ogg"
    os.mkfifo(fifo)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(codec, "OPEN_OPTIONS", {})
    decoding = Decoding(concat_script("file voice.ogg"))
    deadline = time.monotonic() + DEADLINE
    while not reader_waiting(fifo):
        assert time.monotonic() < deadline, "the concat demuxer did not open the pipe"
        time.sleep(0.01)
    assert decoding.finished(within=DEADLINE)
    assert isinstance(decoding.outcome, CorruptAudio)  # end of file in the pipe


@pytest.mark.parametrize(
    "line",
    ["file voice.ogg", "file 'data/voice.ogg'", "file /etc/passwd"],
    ids=["next to it", "in a folder", "absolute"],
)
def test_a_concat_script_naming_real_files_is_refused_and_logged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    containers: dict[str, Path],
    line: str,
) -> None:
    voice = containers["opus.ogg"].read_bytes()
    (tmp_path / "voice.ogg").write_bytes(voice)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "voice.ogg").write_bytes(voice)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bot.audio.codec"), pytest.raises(NotAudio):
        decode_to_pcm(concat_script(line), max_seconds=MAX_SECONDS)
    assert any(
        "not one of the allowed" in r.getMessage() and "ffconcat" in r.getMessage()
        for r in caplog.records
    ), caplog.text


# --- URLs ----------------------------------------------------------------------------------


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server answering 404 to everything; yields its URL and the paths asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()
    thread.join()


def hls_playlist(base: str) -> bytes:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"
        f"#EXTINF:1.0,\n{base}/segment0.ts\n#EXTINF:1.0,\n{base}/segment1.aac\n#EXT-X-ENDLIST\n"
    ).encode()


@pytest.mark.parametrize(
    "kind", ["media playlist", "master playlist", "concat script"], ids=lambda k: k
)
def test_a_playlist_of_urls_is_refused_and_fetches_nothing(
    web: tuple[str, list[str]], kind: str
) -> None:
    base, asked = web
    data = {
        "media playlist": hls_playlist(base),
        "master playlist": f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{base}/v.m3u8\n".encode(),
        "concat script": concat_script(f"file {base}/voice.ogg"),
    }[kind]
    decoding = Decoding(data)
    assert decoding.finished(within=DEADLINE)
    assert isinstance(decoding.outcome, InputError)
    assert asked == []


def test_the_protocol_whitelist_stops_the_hls_demuxer_fetching(
    web: tuple[str, list[str]],
) -> None:
    # FFmpeg picks its HLS demuxer only for a name ending .m3u8 or an HLS MIME type, which bytes
    # in memory have neither of; forced, it fetches its segments unless the protocol whitelist
    # says no. The server's log is the evidence both ways.
    base, asked = web
    protocols = {"protocol_whitelist": OPEN_OPTIONS["protocol_whitelist"]}
    with pytest.raises(av.error.FFmpegError):
        av.open(io.BytesIO(hls_playlist(base)), format="hls", container_options=protocols)
    assert asked == []
    with pytest.raises(av.error.FFmpegError):
        av.open(io.BytesIO(hls_playlist(base)), format="hls")
    assert asked[:1] == ["/segment0.ts"]


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def test_a_session_description_opens_no_socket() -> None:
    # Left to itself FFmpeg reads these lines as an SDP file and listens for RTP on the port
    # (and the next one, for RTCP) for ten seconds before giving up.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    sdp = (
        "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=voice\nc=IN IP4 127.0.0.1\nt=0 0\n"
        f"m=audio {port} RTP/AVP 0\n"
    ).encode()
    decoding = Decoding(sdp)
    finished = decoding.finished(within=2.0)
    taken = udp_port_taken(port)
    assert finished and not taken, f"the decoder listens on UDP {port}: {taken}"
    assert isinstance(decoding.outcome, NotAudio)


# --- what people do send ---------------------------------------------------------------------


@pytest.mark.parametrize("rate", [24_000, 16_000])
@pytest.mark.parametrize("name", sorted(DEMUXERS))
def test_each_allowed_container_still_decodes(
    containers: dict[str, Path], name: str, rate: int
) -> None:
    if name not in containers:
        pytest.skip("this PyAV has no AMR encoder")
    data = containers[name].read_bytes()
    with av.open(io.BytesIO(data)) as container:  # our own file: what FFmpeg calls it
        assert container.format.name == DEMUXERS[name]
    assert DEMUXERS[name] in ALLOWED_CONTAINERS
    samples = pcm16_samples(decode_to_pcm(data, rate=rate, max_seconds=MAX_SECONDS))
    # encoders add up to a frame of priming and padding (AAC 1024 samples, AMR 20 ms)
    assert abs(samples.size / rate - 1.0) < 0.05
    assert abs(dominant_hz(samples, rate) - TONE_HZ) < 2  # the tone where the rate says


def test_a_container_outside_the_allowlist_is_refused(
    containers: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    # AIFF is harmless, but not among what people send.
    with caplog.at_level(logging.WARNING, logger="bot.audio.codec"), pytest.raises(NotAudio):
        decode_to_pcm(containers["tone.aiff"].read_bytes())
    assert "not one of the allowed" in caplog.text and "AIFF" in caplog.text


def test_the_format_is_checked_again_should_ffmpeg_ignore_the_whitelist(
    containers: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(codec, "OPEN_OPTIONS", {})
    with caplog.at_level(logging.WARNING, logger="bot.audio.codec"), pytest.raises(NotAudio):
        decode_to_pcm(containers["tone.aiff"].read_bytes())
    assert "the container is aiff" in caplog.text


@pytest.mark.parametrize("name", ["chained.mp3", "chained.aac"])
def test_a_stream_that_changes_rate_and_channels_midway_decodes_whole(
    containers: dict[str, Path], name: str
) -> None:
    samples = pcm16_samples(decode_to_pcm(containers[name].read_bytes()))
    assert 2.0 < samples.size / 24_000 < 2.2  # both parts, each with its encoder's padding
    assert abs(dominant_hz(samples, 24_000) - TONE_HZ) < 2


# --- damaged voice notes ---------------------------------------------------------------------

FUZZ_SEED = 20_240_601
FUZZ_CASES = 400
FUZZ_DEADLINE = 2.0  # seconds per input


def damage(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One way a file gets damaged, chosen by ``rng``: its name and the damaged bytes."""
    out = bytearray(data)
    kind = rng.choice(["flips", "zeros", "truncated", "header", "prefix", "noise", "repeat", "mix"])
    if kind in ("flips", "mix"):
        for _ in range(rng.randint(1, 32)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    if kind in ("zeros", "mix"):
        start, size = rng.randrange(len(out)), rng.randint(1, 256)
        out[start : start + size] = bytes(len(out[start : start + size]))
    if kind == "noise":
        start, size = rng.randrange(len(out)), rng.randint(1, 64)
        out[start : start + size] = rng.randbytes(len(out[start : start + size]))
    if kind == "header":
        size = rng.randint(1, 64)
        out[:size] = rng.randbytes(size)
    if kind == "prefix":
        out[:0] = rng.randbytes(rng.randint(1, 64))
    if kind == "repeat":
        start = rng.randrange(len(out))
        out[start:start] = out[start : start + rng.randint(1, 512)] * rng.randint(2, 8)
    if kind in ("truncated", "mix"):
        out = out[: rng.randrange(1, len(out))]
    return kind, bytes(out)


def test_damaged_files_decode_or_fail_as_input_errors_in_bounded_time(
    containers: dict[str, Path],
) -> None:
    # Half of them voice notes (OGG/Opus as Telegram makes them), half the other containers.
    voice = containers["opus.ogg"].read_bytes()
    others = [containers[n].read_bytes() for n in sorted(DEMUXERS) if n in containers]
    others += [containers["chained.mp3"].read_bytes(), containers["chained.aac"].read_bytes()]
    rng = random.Random(FUZZ_SEED)
    outcomes: Counter[str] = Counter()
    worst = (0.0, "")
    for case in range(FUZZ_CASES):
        original = voice if case % 2 == 0 else others[case // 2 % len(others)]
        kind, data = damage(rng, original)
        started = time.perf_counter()
        try:
            pcm = decode_to_pcm(data, max_seconds=MAX_SECONDS)
        except InputError as exc:
            outcomes[type(exc).__name__] += 1
        except Exception as exc:
            pytest.fail(f"case {case} ({kind}): {exc!r}, not an InputError")
        else:
            assert len(pcm) % 2 == 0 and len(pcm) <= MAX_SECONDS * 24_000 * 2
            outcomes["decoded"] += 1
        took = time.perf_counter() - started
        worst = max(worst, (took, f"case {case} ({kind})"))
    print(f"\n{FUZZ_CASES} damaged files: {dict(outcomes)}; slowest {worst[0] * 1000:.1f} ms, "
          f"{worst[1]}")  # fmt: skip
    assert worst[0] < FUZZ_DEADLINE, worst
    assert outcomes["decoded"] > 0 and outcomes["CorruptAudio"] > 0  # both kinds were reached
