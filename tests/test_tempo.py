"""The reply tempo change (``bot.audio.tempo``), by the properties of the audio it makes: the
length the speed asks for, the pitch kept, a steady tone kept steady, chunking making no
difference, output coming out while the input still goes in, and a voice note made of it that
ffprobe and ffmpeg read back at the right length."""

from __future__ import annotations

import itertools

import av.filter
import numpy as np
import pytest

from bot.audio.codec import OggOpusEncoder
from bot.audio.tempo import SPEED_RANGE, TempoChanger
from tests.audio_props import decode, dominant_hz, pcm16_samples, probe

RATES = (24_000, 44_100)
SPEEDS = (0.8, 1.25, 1.5)
SECONDS = 3.0


def tone(hz: float, seconds: float, rate: int, level: float = 0.5) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes()


def uneven_chunks(data: bytes) -> list[bytes]:
    """Pieces of 1 byte to 0.3 s, most of them odd byte counts, as a provider's deltas may be."""
    sizes = itertools.cycle([1, 3, 4801, 2, 14_401, 999, 7, 30_001, 160, 5, 26_459])
    pieces, pos = [], 0
    for size in sizes:
        if pos >= len(data):
            break
        pieces.append(data[pos : pos + size])
        pos += size
    return pieces


def stretch(rate: int, speed: float, pieces: list[bytes]) -> bytes:
    changer = TempoChanger(rate, speed)
    return b"".join([*(changer.feed(piece) for piece in pieces), changer.finish()])


def seconds_of(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def steady_part(samples: np.ndarray, rate: int) -> np.ndarray:
    """The output less a tenth of a second at each end (start-up and flush)."""
    edge = rate // 10
    return samples[edge:-edge]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("speed", SPEEDS)
@pytest.mark.parametrize("hz", [440.0, 220.0])
def test_the_length_follows_the_speed_and_the_pitch_stays(
    rate: int, speed: float, hz: float
) -> None:
    source = tone(hz, SECONDS, rate)
    out = stretch(rate, speed, uneven_chunks(source))
    assert len(out) % 2 == 0
    assert seconds_of(out, rate) == pytest.approx(SECONDS / speed, rel=0.03)
    got = dominant_hz(steady_part(pcm16_samples(out), rate), rate)
    assert got == pytest.approx(dominant_hz(pcm16_samples(source), rate), rel=0.02)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("speed", SPEEDS)
def test_a_steady_tone_stays_steady(rate: int, speed: float) -> None:
    """No clicks, gaps or level swings where pieces are joined: the level of every 10 ms stays
    within 1.5 dB of the input's, and nearly all the energy stays at the tone's frequency
    (cutting and joining the wave without lining it up fails both)."""
    out = pcm16_samples(stretch(rate, speed, uneven_chunks(tone(440.0, SECONDS, rate))))
    steady = steady_part(out, rate)
    window = rate // 100
    frames = steady[: steady.size // window * window].reshape(-1, window)
    rms_db = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) / (0.5 / np.sqrt(2)))
    assert np.abs(rms_db).max() < 1.5
    power = np.abs(np.fft.rfft(steady * np.hanning(steady.size))) ** 2
    freqs = np.fft.rfftfreq(steady.size, 1 / rate)
    away = power[np.abs(freqs - 440.0) > 15].sum() / power.sum()
    assert 10 * np.log10(away) < -30


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("speed", SPEEDS)
def test_chunks_give_the_length_of_the_whole_at_once(rate: int, speed: float) -> None:
    source = tone(440.0, SECONDS, rate)
    whole = stretch(rate, speed, [source])
    chunked = stretch(rate, speed, uneven_chunks(source))
    assert abs(seconds_of(whole, rate) - seconds_of(chunked, rate)) < 0.005


@pytest.mark.parametrize("rate", RATES)
def test_speed_one_gives_the_audio_back_unchanged(rate: int) -> None:
    source = tone(440.0, 1.0, rate) + b"\x7f\x01"
    assert stretch(rate, 1.0, uneven_chunks(source)) == source
    assert stretch(rate, 1.0, [source]) == source


def test_an_odd_byte_waits_for_its_other_half() -> None:
    changer = TempoChanger(24_000, 1.0)
    assert changer.feed(b"\x01") == b""
    assert changer.feed(b"\x02\x03") == b"\x01\x02"
    assert changer.feed(b"\x04\x05\x06") == b"\x03\x04\x05\x06"
    assert changer.finish() == b""
    changer = TempoChanger(24_000, 1.0)
    assert changer.feed(b"\x01\x02\x03") == b"\x01\x02"
    assert changer.finish() == b""  # half a sample is no sample


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("speed", SPEEDS)
def test_output_comes_while_the_input_still_arrives(rate: int, speed: float) -> None:
    """Streaming: after 2 s of a 4 s reply went in (0.1 s chunks), nearly 2 s / speed has come
    out; the changer holds back no more than a tenth of a second."""
    source = tone(220.0, 4.0, rate)
    changer = TempoChanger(rate, speed)
    step = rate // 10 * 2
    half = len(source) // 2
    out = b"".join(changer.feed(source[i : i + step]) for i in range(0, half, step))
    assert seconds_of(out, rate) > 2.0 / speed - 0.1
    rest = b"".join(changer.feed(source[i : i + step]) for i in range(half, len(source), step))
    tail = changer.finish()
    assert seconds_of(tail, rate) < 0.1
    assert seconds_of(out + rest + tail, rate) == pytest.approx(4.0 / speed, rel=0.03)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("speed", SPEEDS)
def test_the_output_makes_a_voice_note_of_its_length(rate: int, speed: float) -> None:
    changer = TempoChanger(rate, speed)
    encoder = OggOpusEncoder(rate)
    produced = 0
    for piece in uneven_chunks(tone(440.0, SECONDS, rate)):
        out = changer.feed(piece)
        produced += len(out)
        encoder.feed(out)
    out = changer.finish()
    produced += len(out)
    encoder.feed(out)
    note = encoder.finish()
    seconds = produced / 2 / rate
    assert seconds == pytest.approx(SECONDS / speed, rel=0.03)
    info = probe(note)
    assert (info.format_name, info.codec, info.channels) == ("ogg", "opus", 1)
    assert info.duration == pytest.approx(seconds, abs=0.03)
    decoded = decode(note)
    assert decoded.size / 48_000 == pytest.approx(seconds, abs=0.03)
    assert dominant_hz(steady_part(decoded, 48_000), 48_000) == pytest.approx(440.0, rel=0.02)


@pytest.mark.parametrize("speed", [0.0, -1.0, 0.49, 2.01, 4.0, float("nan"), float("inf")])
def test_a_speed_outside_the_range_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        TempoChanger(24_000, speed)


def test_the_range_ends_are_accepted() -> None:
    for speed in SPEED_RANGE:
        changer = TempoChanger(24_000, speed)
        out = changer.feed(tone(440.0, 1.0, 24_000)) + changer.finish()
        assert seconds_of(out, 24_000) == pytest.approx(1.0 / speed, rel=0.03)


@pytest.mark.parametrize("speed", [1.0, 1.25])
def test_finish_spends_the_changer_and_drops_its_graph(speed: float) -> None:
    changer = TempoChanger(24_000, speed)
    changer.feed(tone(440.0, 0.5, 24_000))
    changer.finish()
    # The filter graph and its buffers go at finish, even while the changer is still held.
    assert not any(isinstance(value, av.filter.Graph) for value in vars(changer).values())
    with pytest.raises(RuntimeError):
        changer.feed(b"\x00\x00")
    with pytest.raises(RuntimeError):
        changer.finish()
