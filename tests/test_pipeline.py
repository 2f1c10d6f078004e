"""The turn pipeline against the realtime stand-in: audio properties, both turn-detection
styles, every failure mode of the model, and bad input refused before any model call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.domain import TurnInput, TurnSetup
from bot.errors import (
    CorruptAudio,
    EmptyAudio,
    NotAudio,
    RealtimeAuthError,
    RealtimeConfigError,
    RealtimeConnectError,
    RealtimeConnectionLost,
    RealtimeResponseFailed,
    RealtimeServerError,
    RealtimeTimeout,
    SilentAudio,
    TooLong,
)
from bot.realtime.turn import TurnPipeline
from stand_ins.realtime import RealtimeStandIn, Scenario
from stand_ins.redis import free_port
from tests.audio_props import decode, dominant_hz, pcm16_samples, probe
from tests.conftest import API_KEY, make_pipeline, realtime_settings

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants


def file_turn(path: Path) -> TurnInput:
    data = path.read_bytes()

    async def fetch() -> bytes:
        return data

    return TurnInput(fetch=fetch, label=path.name)


async def ask(pipeline: TurnPipeline, turn: TurnInput):
    return await pipeline.run(turn, TurnSetup(voice="alena", instructions="Answer briefly."))


@pytest.mark.parametrize("turn_detection", ["server_vad", "manual"])
@pytest.mark.parametrize("rate", [44_100, 24_000])
async def test_tone_in_tone_out(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], turn_detection: str, rate: int
) -> None:
    realtime.scenario = Scenario(reply_hz=880, reply_seconds=2.5, reply_text="Привет, мир.")
    pipeline = make_pipeline(
        realtime_settings(realtime, turn_detection=turn_detection, output_sample_rate=rate)
    )
    result = await ask(pipeline, file_turn(audio_files["voice.ogg"]))
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert session.invalid == []
    # what the model heard: 24 kHz PCM with the 440 Hz tone dominant, the whole 3 s of it
    heard = pcm16_samples(session.input_pcm)
    assert abs(heard.size / 24_000 - 3.0) < 0.05
    assert abs(dominant_hz(heard, 24_000) - 440) < 2
    assert session.session["audio"]["output"]["voice"] == "alena"
    assert session.session["instructions"] == "Answer briefly."
    expected_td = None if turn_detection == "manual" else "server_vad"
    (update,) = [e for e in session.client_events if e["type"] == "session.update"]
    td = update["session"]["audio"]["input"]["turn_detection"]  # what was asked
    assert (td or {}).get("type") == expected_td
    assert session.event_types.count("response.create") == 1
    assert session.event_types.count("input_audio_buffer.commit") == 1
    # what the user gets: an OGG/Opus mono voice note of the reply's length and pitch
    info = probe(result.voice)
    assert (info.format_name, info.codec, info.channels, info.sample_rate) == (
        "ogg", "opus", 1, 48_000,
    )  # fmt: skip
    assert abs(info.duration - 2.5) < 0.05
    assert abs(result.voice_seconds - 2.5) < 0.01
    assert abs(dominant_hz(decode(result.voice), 48_000) - 880) < 2
    assert result.text == "Привет, мир."
    assert result.status == "completed"
    assert result.usage.output_tokens > 0


async def test_a_pause_is_shortened_so_the_server_never_splits_the_note(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    # pause.ogg: 4 s of tone with 1 s of silence in the middle; the pause is cut to 0.6 s and
    # the server's voice detection (1.5 s of silence) never commits by itself.
    pipeline = make_pipeline(realtime_settings(realtime, turn_detection="server_vad"))
    result = await ask(pipeline, file_turn(audio_files["pause.ogg"]))
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert session.session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 1500
    assert session.committed_chunks == 1
    assert session.event_types.count("response.create") == 1
    heard = len(session.input_pcm) / 2 / 24_000
    assert abs(heard - 3.6) < 0.06, heard
    assert abs(result.input_seconds - heard) < 0.01  # what is billed is what was sent
    assert result.voice
    assert session.invalid == []


async def test_pauses_with_server_vad_commit_in_pieces_and_still_one_answer(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    pipeline = make_pipeline(realtime_settings(realtime, max_pause_seconds=0, vad_silence_ms=200))
    result = await ask(pipeline, file_turn(audio_files["pause.ogg"]))
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert session.committed_chunks >= 2  # the server committed at the pause by itself
    assert session.event_types.count("response.create") == 1
    assert abs(len(session.input_pcm) / 2 / 24_000 - 4.0) < 0.06  # nothing cut
    assert result.voice
    assert session.invalid == []


async def test_a_response_the_server_starts_at_a_pause_is_cancelled_and_ignored(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    # A server whose voice detection answers at a pause (create_response ignored, or never
    # asked off): its answer to the first half is cancelled and never reaches the user, who
    # gets one answer, to the whole note.
    realtime.scenario = Scenario(
        vad_auto_response=True, honours_create_response=False, reply_seconds=1.5,
        realtime_factor=4,
    )  # fmt: skip
    pipeline = make_pipeline(realtime_settings(realtime, max_pause_seconds=0, vad_silence_ms=200))
    result = await ask(pipeline, file_turn(audio_files["pause.ogg"]))
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert session.responses == 2  # the server's own and the one asked
    assert "response.cancel" in session.event_types
    assert session.event_types.count("response.create") == 1
    # one reply's audio only: the cancelled one's never reached the voice note
    assert abs(result.voice_seconds - 1.5) < 0.05
    assert session.event_types.index("response.cancel") < session.event_types.index(
        "response.create"
    )
    assert session.invalid == []


async def test_text_output_kind_is_used_when_no_transcript(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    realtime.scenario = Scenario(text_kind="output_text", reply_text="Written answer.")
    result = await ask(
        make_pipeline(realtime_settings(realtime)), file_turn(audio_files["voice.ogg"])
    )
    assert result.text == "Written answer."


async def test_text_turn(realtime: RealtimeStandIn) -> None:
    result = await ask(make_pipeline(realtime_settings(realtime)), TurnInput(text="Hi there"))
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert "input_audio_buffer.append" not in session.event_types
    item = next(e for e in session.client_events if e["type"] == "conversation.item.create")
    assert item["item"]["content"][0] == {"type": "input_text", "text": "Hi there"}
    assert result.voice
    assert session.invalid == []


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("silent.ogg", SilentAudio),
        ("corrupt.ogg", CorruptAudio),
        ("notes.pdf", CorruptAudio),
        ("mute.mp4", NotAudio),
        ("long.ogg", TooLong),
    ],
)
async def test_bad_input_never_reaches_the_model(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], name: str, error: type
) -> None:
    pipeline = make_pipeline(realtime_settings(realtime))
    with pytest.raises(error):
        await ask(pipeline, file_turn(audio_files[name]))
    for session in realtime.sessions:
        assert "input_audio_buffer.append" not in session.event_types
        assert "response.create" not in session.event_types


async def test_empty_input(realtime: RealtimeStandIn) -> None:
    async def nothing() -> bytes:
        return b""

    with pytest.raises(EmptyAudio):
        await ask(make_pipeline(realtime_settings(realtime)), TurnInput(fetch=nothing))


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ("reject_401", RealtimeAuthError),
        ("invalid_api_key", RealtimeAuthError),
        ("reject_500", RealtimeConnectError),
        ("error_on_update", RealtimeConfigError),
        ("error_on_create", RealtimeServerError),
        ("response_failed", RealtimeResponseFailed),
        ("drop_before_created", RealtimeConnectionLost),
        ("drop_mid_response", RealtimeConnectionLost),
        ("hang_after_create", RealtimeTimeout),
        ("hang_silent", RealtimeTimeout),
    ],
)
async def test_model_failures_become_typed_errors(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], failure: str, error: type
) -> None:
    realtime.scenario = Scenario(failure=failure)  # type: ignore[arg-type]
    pipeline = make_pipeline(realtime_settings(realtime, event_timeout=1.0))
    with pytest.raises(error):
        await ask(pipeline, file_turn(audio_files["voice.ogg"]))
    assert pipeline.in_flight == 0


async def test_incomplete_response_with_audio_is_delivered(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    realtime.scenario = Scenario(failure="response_incomplete", reply_seconds=2.0)
    result = await ask(
        make_pipeline(realtime_settings(realtime)), file_turn(audio_files["voice.ogg"])
    )
    assert result.status == "incomplete"
    assert probe(result.voice).codec == "opus"


async def test_wrong_key_is_refused(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    pipeline = make_pipeline(realtime_settings(realtime, realtime_api_key="wrong"))
    with pytest.raises(RealtimeAuthError):
        await ask(pipeline, file_turn(audio_files["voice.ogg"]))
    assert realtime.sessions[0].headers["authorization"] == "Api-Key wrong"


async def test_nobody_listening_is_a_connect_error(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    settings = realtime_settings(realtime, realtime_url=f"ws://127.0.0.1:{free_port()}/v1/realtime")
    with pytest.raises(RealtimeConnectError):
        await ask(make_pipeline(settings), file_turn(audio_files["voice.ogg"]))


async def test_turn_timeout_bounds_a_slow_model(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    # Events keep coming (so the per-event timeout never fires) but the answer takes too long.
    realtime.scenario = Scenario(reply_seconds=20, realtime_factor=1.0)
    pipeline = make_pipeline(realtime_settings(realtime, turn_timeout=1.0))
    with pytest.raises(RealtimeTimeout):
        await ask(pipeline, file_turn(audio_files["voice.ogg"]))


async def test_a_handshake_refused_with_429_is_tried_again_a_moment_later(
    audio_files: dict[str, Path],
) -> None:
    # One session at a time on this server: the first turn's handshake meets a full quota.
    async with RealtimeStandIn(api_key=API_KEY, max_sessions=1) as server:
        pipeline = make_pipeline(realtime_settings(server))
        holder = await pipeline.client.connect()  # someone else's session
        turn = asyncio.create_task(ask(pipeline, file_turn(audio_files["voice.ogg"])))
        await asyncio.sleep(0.4)
        await holder.close()  # room again
        result = await asyncio.wait_for(turn, 20)
        assert result.voice
        statuses = [s.handshake_status for s in server.sessions]
        assert statuses[0] == 101 and 429 in statuses and statuses[-1] == 101
        server.assert_valid_client_events()


@pytest.mark.parametrize("cancel_honoured", [True, False])
async def test_a_reply_is_cut_at_max_reply_seconds(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], cancel_honoured: bool
) -> None:
    # What a turn reserves against the budgets is a reply of MAX_REPLY_SECONDS: a longer one
    # is cut there (its response cancelled, or left where the server ignores the cancel).
    realtime.scenario = Scenario(
        reply_seconds=6.0, realtime_factor=4.0, cancel_honoured=cancel_honoured
    )
    pipeline = make_pipeline(realtime_settings(realtime, max_reply_seconds=2.0))
    result = await ask(pipeline, file_turn(audio_files["voice.ogg"]))
    assert abs(result.voice_seconds - 2.0) < 0.02
    assert abs(probe(result.voice).duration - 2.0) < 0.05
    await realtime.wait_sessions(1)
    assert "response.cancel" in realtime.sessions[0].event_types


async def test_a_turn_leaves_no_encoder_for_the_cycle_collector(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    """Each reply's encoder (a codec context, about 1 MiB) is freed when the turn ends, not when
    a full collection finds it: a cycle through the audio callback kept one per turn alive."""
    import gc

    from bot.audio.codec import OggOpusEncoder

    def encoders() -> int:
        return sum(type(o) is OggOpusEncoder for o in gc.get_objects())

    realtime.scenario = Scenario(reply_seconds=1.0)
    pipeline = make_pipeline(realtime_settings(realtime))
    gc.collect()
    gc.disable()
    try:
        before = encoders()
        for _ in range(3):
            result = await ask(pipeline, file_turn(audio_files["voice.ogg"]))
            assert probe(result.voice).duration > 0.9
        await asyncio.sleep(0.1)  # the sessions' closing tasks
        assert encoders() == before
    finally:
        gc.enable()
