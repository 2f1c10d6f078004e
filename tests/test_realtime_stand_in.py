"""Self-tests of the Realtime stand-in, driven by a raw websockets client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
import orjson
import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import Field, TypeAdapter
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from stand_ins.realtime import (
    PROFILES,
    Failure,
    ProfileName,
    RealtimeStandIn,
    Scenario,
    ScriptedCall,
    validate_client_event,
)
from tests.conftest import PROFILE_ENV, realtime_profile, realtime_settings

MODEL_QUERY = "?model=gpt://folder/speech-realtime-250923"
AUTH: dict[ProfileName, str] = {
    "yandex": "Api-Key test-key",
    "yandex-field": "Api-Key test-key",
    "openai": "Bearer test-key",
}
IN_RATE = 24000

SERVER_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(
    Annotated[RealtimeServerEvent, Field(discriminator="type")]
)


def tone(seconds: float, hz: float = 300.0, amplitude: float = 0.3, rate: int = IN_RATE) -> bytes:
    """PCM16 LE of a sine tone, loud enough to count as speech."""
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype("<i2").tobytes()


def silence(seconds: float, rate: int = IN_RATE) -> bytes:
    return bytes(2 * round(seconds * rate))


def session_update(
    *,
    turn_detection: dict[str, Any] | None,
    out_rate: int = 44100,
    in_rate: int = IN_RATE,
    transcription: bool = False,
) -> dict[str, Any]:
    audio_in: dict[str, Any] = {
        "format": {"type": "audio/pcm", "rate": in_rate},
        "turn_detection": turn_detection,
    }
    if transcription:
        audio_in["transcription"] = {"model": "whisper-1", "language": "ru"}
    return {
        "type": "session.update",
        "event_id": "evt_update",
        "session": {
            "type": "realtime",
            "instructions": "Answer briefly.",
            "output_modalities": ["audio"],
            "audio": {
                "input": audio_in,
                "output": {"format": {"type": "audio/pcm", "rate": out_rate}, "voice": "marina"},
            },
        },
    }


SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "create_response": False,
}


async def send(ws: ClientConnection, event: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(event).decode())


async def append(ws: ClientConnection, pcm: bytes, chunk_ms: int = 100) -> None:
    step = IN_RATE * chunk_ms // 1000 * 2
    for i in range(0, len(pcm), step):
        audio = base64.b64encode(pcm[i : i + step]).decode()
        await send(ws, {"type": "input_audio_buffer.append", "audio": audio})


async def recv_until(
    ws: ClientConnection, event_type: str, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Receive events up to and including the first one of event_type."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            event = orjson.loads(await ws.recv())
            events.append(event)
            if event["type"] == event_type:
                return events


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == event_type]


@pytest.fixture
async def stand_in() -> AsyncIterator[RealtimeStandIn]:
    async with RealtimeStandIn() as server:
        yield server


def open_ws(
    server: RealtimeStandIn,
    auth: str = "Api-Key test-key",
    query: str = MODEL_QUERY,
    **options: Any,
) -> connect:
    return connect(
        server.url + query,
        additional_headers={"Authorization": auth},
        max_size=None,
        compression=None,
        **options,
    )


async def test_manual_commit_turn_at_44100(
    stand_in: RealtimeStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stand_in.scenario = Scenario(reply_hz=440.0, reply_seconds=1.0, reply_text="Hi there, friend.")
    spoken = tone(0.5) + silence(0.3)
    async with open_ws(stand_in) as ws:
        created = await recv_until(ws, "session.created")
        assert created[-1]["session"]["audio"]["output"]["format"]["rate"] == 24000
        await send(ws, session_update(turn_detection=None))
        updated = (await recv_until(ws, "session.updated"))[-1]
        assert updated["session"]["audio"]["input"]["turn_detection"] is None
        assert updated["session"]["audio"]["output"]["format"]["rate"] == 44100
        await append(ws, spoken)
        await send(ws, {"type": "input_audio_buffer.commit"})
        before_commit = await recv_until(ws, "input_audio_buffer.committed")
        assert [e["type"] for e in before_commit] == ["input_audio_buffer.committed"]
        await send(ws, {"type": "response.create"})
        events = await recv_until(ws, "response.done")

    pcm = b"".join(
        base64.b64decode(e["delta"]) for e in of_type(events, "response.output_audio.delta")
    )
    assert len(pcm) == 44100 * 2
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.fft.rfftfreq(samples.size, 1 / 44100)[int(np.argmax(spectrum))]
    assert abs(peak_hz - 440.0) <= 2.0
    text = "".join(e["delta"] for e in of_type(events, "response.output_audio_transcript.delta"))
    assert text == "Hi there, friend."
    assert of_type(events, "response.output_audio_transcript.done")[0]["transcript"] == text
    assert not of_type(events, "response.output_text.delta")
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_token_details"]["audio_tokens"] > 0

    await stand_in.wait_sessions(1)
    rec = stand_in.sessions[0]
    assert rec.invalid == []
    assert rec.path == "/v1/realtime" + MODEL_QUERY
    assert rec.headers["authorization"] == "Api-Key test-key"
    assert bytes(rec.input_pcm) == spoken
    assert rec.committed_chunks == 1
    assert rec.event_types[0] == "session.update"
    assert rec.event_types[-2:] == ["input_audio_buffer.commit", "response.create"]
    assert rec.session["audio"]["input"]["turn_detection"] is None
    assert rec.session["instructions"] == "Answer briefly."
    assert rec.closed_by_client
    assert rec.t_response_create is not None
    assert rec.t_response_done_sent is not None
    assert rec.t_connected <= rec.t_response_create <= rec.t_response_done_sent
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_vad_commits_at_pauses_then_client_commit_is_empty(
    stand_in: RealtimeStandIn,
) -> None:
    async with open_ws(stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, session_update(turn_detection=SERVER_VAD, transcription=True))
        await recv_until(ws, "session.updated")
        # Two phrases separated by a pause longer than silence_duration_ms, then exactly the
        # closing silence: the server commits twice and leaves nothing for the client.
        await append(ws, tone(0.5) + silence(0.4) + tone(0.3) + silence(0.2), chunk_ms=20)
        events = await recv_until(ws, "input_audio_buffer.committed")
        events += await recv_until(ws, "input_audio_buffer.committed")
        events += await recv_until(ws, "conversation.item.input_audio_transcription.completed")
        await send(ws, {"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
        error = (await recv_until(ws, "error"))[-1]

    types = [e["type"] for e in events]
    assert types == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
    ]
    started = of_type(events, "input_audio_buffer.speech_started")
    stopped = of_type(events, "input_audio_buffer.speech_stopped")
    committed = of_type(events, "input_audio_buffer.committed")
    assert [e["audio_start_ms"] for e in started] == [0, 900 - 300]
    assert [e["audio_end_ms"] for e in stopped] == [700, 1400]
    assert [e["item_id"] for e in started] == [e["item_id"] for e in committed]
    assert committed[1]["previous_item_id"] == committed[0]["item_id"]
    transcription = of_type(events, "conversation.item.input_audio_transcription.completed")
    assert transcription[0]["transcript"] == "What the user said."
    assert "usage" not in transcription[0]
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["code"] == "input_audio_buffer_commit_empty"
    assert error["error"]["event_id"] == "evt_commit"

    await stand_in.wait_sessions(1)
    rec = stand_in.sessions[0]
    assert rec.committed_chunks == 2
    assert rec.invalid == []


async def test_bad_key_gets_401_and_is_recorded(stand_in: RealtimeStandIn) -> None:
    with pytest.raises(InvalidStatus) as excinfo:
        async with open_ws(stand_in, auth="Api-Key wrong-key"):
            pass
    assert excinfo.value.response.status_code == 401
    async with open_ws(stand_in, auth="bearer test-key") as ws:
        await recv_until(ws, "session.created")
    await stand_in.wait_sessions(2)
    assert stand_in.sessions[0].headers["authorization"] == "Api-Key wrong-key"
    assert stand_in.sessions[0].client_events == []
    assert stand_in.sessions[1].closed_by_client


@pytest.mark.parametrize("profile", ["yandex", "openai"])
async def test_server_events_validate_against_openai_types(profile: ProfileName) -> None:
    out_rate = 44100 if profile == "yandex" else 24000
    scenario = Scenario(text_kind="both", reply_seconds=0.35, transcript_delay=0.0)
    async with (
        RealtimeStandIn(profile=profile, scenario=scenario) as stand_in,
        open_ws(stand_in, auth=AUTH[profile]) as ws,
    ):
        events = await recv_until(ws, "session.created")
        update = session_update(turn_detection=SERVER_VAD, out_rate=out_rate, transcription=True)
        await send(ws, update)
        events += await recv_until(ws, "session.updated")
        await append(ws, tone(0.4) + silence(0.25))
        events += await recv_until(ws, "conversation.item.input_audio_transcription.completed")
        await send(ws, {"type": "input_audio_buffer.commit"})
        events += await recv_until(ws, "error")
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hello"}],
        }
        await send(ws, {"type": "conversation.item.create", "item": item})
        events += await recv_until(ws, "conversation.item.done")
        await send(ws, {"type": "response.create"})
        events += await recv_until(ws, "response.done")
        await send(ws, {"type": "response.cancel"})
        events += await recv_until(ws, "error")
        await send(ws, {"type": "no.such.event"})
        events += await recv_until(ws, "error")
        await ws.close()
        await stand_in.wait_sessions(1)

    assert events[-1]["error"]["code"] == "unknown_event"
    assert len({e["event_id"] for e in events}) == len(events)
    kinds = {e["type"] for e in events}
    assert {"response.output_text.delta", "response.output_audio_transcript.delta"} <= kinds
    for event in events:
        patched = copy.deepcopy(event)
        # Yandex's documented deviations, and only these and only for Yandex, are patched out:
        # the output rate it was asked for, and transcripts without usage.
        if profile == "yandex" and patched["type"] in ("session.created", "session.updated"):
            patched["session"]["audio"]["output"]["format"]["rate"] = 24000
        if patched["type"] == "conversation.item.input_audio_transcription.completed":
            if profile == "yandex":
                assert "usage" not in patched
                patched["usage"] = {"type": "duration", "seconds": 0.4}
            else:
                assert patched["usage"]["type"] == "duration"
        SERVER_EVENT_ADAPTER.validate_python(patched)
    invalid = stand_in.sessions[0].invalid
    assert len(invalid) == 1
    assert invalid[0].startswith("no.such.event: ")


@pytest.mark.parametrize("yandex", ["yandex", "yandex-field"])
def test_validate_client_event_keeps_to_each_profile(yandex: ProfileName) -> None:
    bot_like = session_update(turn_detection=SERVER_VAD)
    bot_like["session"]["output_modalities"] = ["text", "audio"]
    # Yandex (both variants): 44100 both ways and both modalities, as its examples ask.
    assert validate_client_event(bot_like, yandex) is None
    as_examples = session_update(turn_detection=SERVER_VAD, in_rate=44100)
    del as_examples["session"]["type"]
    as_examples["session"]["audio"]["input"]["languages"] = ["kk-KZ"]
    as_examples["session"]["audio"]["input"]["format"]["channels"] = 1
    as_examples["session"]["audio"]["output"]["role"] = "friendly"
    assert validate_client_event(as_examples, yandex) is None
    assert as_examples["session"]["audio"]["input"]["format"]["rate"] == 44100  # not modified
    for side, rate in (("input", 16000), ("output", 48000)):
        odd = session_update(turn_detection=None)
        odd["session"]["audio"][side]["format"]["rate"] = rate
        assert validate_client_event(odd, yandex) == (
            f"Invalid value: {rate}. Supported values are: 24000, 44100."
        )
    semantic = session_update(turn_detection={"type": "semantic_vad", "eagerness": "auto"})
    assert validate_client_event(semantic, yandex) is not None
    assert validate_client_event(session_update(turn_detection=None), yandex) is None
    g711 = session_update(turn_detection=None)
    g711["session"]["audio"]["output"]["format"] = {"type": "audio/pcmu"}
    assert validate_client_event(g711, yandex) is not None
    for unsupported in ("input_audio_buffer.clear", "output_audio_buffer.clear"):
        assert validate_client_event({"type": unsupported}, yandex) is not None
    # Only the field variant refuses an assistant message (history as the model's own words).
    assistant = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Earlier answer."}],
        },
    }
    assert validate_client_event(assistant, yandex) == (
        "MessageContentItemOutputText not supported yet" if yandex == "yandex-field" else None
    )
    user = copy.deepcopy(assistant)
    user["item"].update(role="user", content=[{"type": "input_text", "text": "Earlier."}])
    assert validate_client_event(user, yandex) is None

    # OpenAI: 24000 only, one modality, no fields of its own, session.type required.
    assert validate_client_event(bot_like, "openai") == (
        "Invalid value: 44100. Supported values are: 24000."
    )
    ga = session_update(turn_detection=SERVER_VAD, out_rate=24000, transcription=True)
    assert validate_client_event(ga, "openai") is None
    both = copy.deepcopy(ga)
    both["session"]["output_modalities"] = ["text", "audio"]
    assert validate_client_event(both, "openai") == (
        "Invalid modalities: ['text', 'audio']. Supported combinations are: ['text'] and ['audio']."
    )
    languages = copy.deepcopy(ga)
    languages["session"]["audio"]["input"]["languages"] = ["ru-RU"]
    assert validate_client_event(languages, "openai") == (
        "Unknown parameter: 'session.audio.input.languages'."
    )
    untyped = copy.deepcopy(ga)
    del untyped["session"]["type"]
    assert validate_client_event(untyped, "openai") == (
        "Missing required parameter: 'session.type'."
    )
    for td in (None, {"type": "semantic_vad", "eagerness": "low"}):
        manual = copy.deepcopy(ga)
        manual["session"]["audio"]["input"]["turn_detection"] = td
        assert validate_client_event(manual, "openai") is None
    assert validate_client_event({"type": "input_audio_buffer.clear"}, "openai") is None
    assert validate_client_event({"type": "output_audio_buffer.clear"}, "openai") is not None
    huge = {"type": "input_audio_buffer.append", "audio": "A" * (21 * 1024 * 1024)}
    assert validate_client_event(huge, "openai") is not None
    assert validate_client_event(huge, "yandex") is None

    # Both: the GA types' shapes.
    for profile in ("yandex", "openai"):
        assert validate_client_event({"type": "input_audio_buffer.append"}, profile) == (
            "Missing required parameter: 'audio'."
        )
        assert validate_client_event({"type": "response.create"}, profile) is None


async def test_paced_reply_and_cancel(stand_in: RealtimeStandIn) -> None:
    stand_in.scenario = Scenario(
        reply_seconds=0.6, time_to_first_audio=0.1, realtime_factor=2.0, chunk_ms=100
    )
    async with open_ws(stand_in) as ws:
        await recv_until(ws, "session.created")
        t0 = time.perf_counter()
        await send(ws, {"type": "response.create"})
        await recv_until(ws, "response.output_audio.delta")
        t_first = time.perf_counter()
        await recv_until(ws, "response.done")
        t_done = time.perf_counter()
        # Six chunks at twice real time: the last goes out 5 * 0.05 s after the first.
        assert 0.08 <= t_first - t0 < 1.0
        assert 0.2 <= t_done - t_first < 1.5

        await send(ws, {"type": "response.create"})
        await recv_until(ws, "response.output_audio.delta")
        await send(ws, {"type": "response.cancel"})
        events = await recv_until(ws, "response.done")
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "client_cancelled"
    assert len(of_type(events, "response.output_audio.delta")) < 5


@pytest.mark.parametrize(
    ("failure", "status", "reason"),
    [
        ("response_failed", "failed", None),
        ("response_incomplete", "incomplete", "max_output_tokens"),
    ],
)
async def test_unsuccessful_responses(
    stand_in: RealtimeStandIn, failure: Failure, status: str, reason: str | None
) -> None:
    stand_in.scenario = Scenario(failure=failure)
    async with open_ws(stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, {"type": "response.create"})
        events = await recv_until(ws, "response.done")
    done = events[-1]["response"]
    assert done["status"] == status
    deltas = of_type(events, "response.output_audio.delta")
    if status == "failed":
        assert done["status_details"]["error"]["type"] == "server_error"
        assert not deltas
    else:
        assert done["status_details"]["reason"] == reason
        assert 0 < len(deltas) < 10


async def test_drop_mid_response_closes_without_close_frame(stand_in: RealtimeStandIn) -> None:
    stand_in.scenario = Scenario(failure="drop_mid_response")
    async with open_ws(stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, {"type": "response.create"})
        with pytest.raises(ConnectionClosedError) as excinfo:
            await recv_until(ws, "response.done")
    assert excinfo.value.rcvd is None
    await stand_in.wait_sessions(1)
    assert not stand_in.sessions[0].closed_by_client


async def test_invalid_api_key_error_then_close(stand_in: RealtimeStandIn) -> None:
    stand_in.scenario = Scenario(failure="invalid_api_key")
    async with open_ws(stand_in) as ws:
        events = await recv_until(ws, "error")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert events[-1]["error"]["code"] == "invalid_api_key"


async def test_stop_is_prompt_while_sessions_hang() -> None:
    server = RealtimeStandIn(scenario=Scenario(failure="hang_after_create"))
    await server.start()
    async with open_ws(server) as ws:
        await recv_until(ws, "session.created")
        await send(ws, {"type": "response.create"})
        server.scenario = Scenario(failure="hang_silent")
        async with open_ws(server) as silent_ws:
            t0 = time.perf_counter()
            await server.stop()
            assert time.perf_counter() - t0 < 2.0
            with pytest.raises(ConnectionClosed):
                await silent_ws.recv()
        with pytest.raises(ConnectionClosed):
            await recv_until(ws, "response.done")
    await server.wait_sessions(2, timeout=1.0)
    assert server.sessions[0].t_response_create is not None
    assert server.sessions[1].server_event_types == []
    assert not any(s.closed_by_client for s in server.sessions)


@pytest.fixture
async def openai_stand_in() -> AsyncIterator[RealtimeStandIn]:
    async with RealtimeStandIn(profile="openai") as server:
        yield server


async def test_openai_refuses_other_rates_and_keeps_the_session(
    openai_stand_in: RealtimeStandIn,
) -> None:
    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        await recv_until(ws, "session.created")
        # What the Yandex examples ask (44100 out) is an invalid_request_error at OpenAI.
        await send(ws, session_update(turn_detection=SERVER_VAD, out_rate=44100))
        refused = await recv_until(ws, "error")
        await send(ws, session_update(turn_detection=SERVER_VAD, in_rate=16000, out_rate=24000))
        refused += await recv_until(ws, "error")
        await send(ws, session_update(turn_detection=SERVER_VAD, out_rate=24000))
        accepted = await recv_until(ws, "session.updated")

    assert [e["type"] for e in refused] == ["error", "error"]  # no session.updated between
    first, second = (e["error"] for e in refused)
    assert first["type"] == second["type"] == "invalid_request_error"
    assert first["code"] == second["code"] == "invalid_value"
    assert first["param"] == "session.audio.output.format.rate"
    assert second["param"] == "session.audio.input.format.rate"
    assert first["event_id"] == "evt_update"
    assert [e["type"] for e in accepted] == ["session.updated"]
    audio = accepted[0]["session"]["audio"]
    assert audio["input"]["format"]["rate"] == audio["output"]["format"]["rate"] == 24000
    await openai_stand_in.wait_sessions(1)
    rec = openai_stand_in.sessions[0]
    assert rec.profile == "openai"
    assert len(rec.invalid) == 2
    assert rec.invalid[0] == ("session.update: Invalid value: 44100. Supported values are: 24000.")
    assert rec.session["audio"]["output"]["format"]["rate"] == 24000
    with pytest.raises(AssertionError, match="refused 2 client event"):
        openai_stand_in.assert_valid_client_events()


async def test_openai_refuses_what_only_yandex_takes(openai_stand_in: RealtimeStandIn) -> None:
    yandex_style = session_update(turn_detection=SERVER_VAD, out_rate=24000)
    yandex_style["session"]["audio"]["input"]["languages"] = ["ru-RU"]
    both = session_update(turn_detection=SERVER_VAD, out_rate=24000)
    both["session"]["output_modalities"] = ["text", "audio"]
    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        await recv_until(ws, "session.created")
        errors = []
        for event in (yandex_style, both, {"type": "output_audio_buffer.clear"}):
            await send(ws, event)
            errors += await recv_until(ws, "error")
    assert [e["error"]["code"] for e in errors] == [
        "unknown_parameter",
        "invalid_value",
        "unknown_event",
    ]
    assert errors[0]["error"]["param"] == "session.audio.input.languages"
    assert errors[1]["error"]["param"] == "session.output_modalities"
    await openai_stand_in.wait_sessions(1)
    assert len(openai_stand_in.sessions[0].invalid) == 3


@pytest.mark.parametrize(
    ("profile", "auth", "status"),
    [
        ("yandex", "Api-Key test-key", 101),
        ("yandex", "api-key test-key", 101),
        ("yandex", "Bearer test-key", 101),
        ("yandex", "BEARER test-key", 101),
        ("yandex", "Token test-key", 401),
        ("yandex", "Api-Key other-key", 401),
        ("openai", "Bearer test-key", 101),
        ("openai", "bearer test-key", 101),
        ("openai", "Api-Key test-key", 401),
        ("openai", "Bearer other-key", 401),
    ],
)
async def test_auth_header_per_profile(profile: ProfileName, auth: str, status: int) -> None:
    async with RealtimeStandIn(profile=profile) as server:
        if status == 101:
            async with open_ws(server, auth=auth) as ws:
                await recv_until(ws, "session.created")
        else:
            with pytest.raises(InvalidStatus) as excinfo:
                async with open_ws(server, auth=auth):
                    pass
            assert excinfo.value.response.status_code == status
        await server.wait_sessions(1)
    assert server.sessions[0].handshake_status == status


async def test_no_auth_header_is_401() -> None:
    async with RealtimeStandIn() as server:
        with pytest.raises(InvalidStatus) as excinfo:
            async with connect(server.url + MODEL_QUERY):
                pass
    assert excinfo.value.response.status_code == 401


def test_quotas_default_to_the_profile() -> None:
    yandex, openai = RealtimeStandIn(), RealtimeStandIn(profile="openai")
    assert (yandex.max_sessions, yandex.max_creations_per_second) == (10, 10)
    assert (openai.max_sessions, openai.max_creations_per_second) == (None, None)
    assert RealtimeStandIn(max_sessions=None).max_sessions is None
    assert PROFILES["yandex"].session_lifetime == 300
    assert PROFILES["openai"].session_lifetime == 3600


async def test_yandex_refuses_the_eleventh_concurrent_session_with_429() -> None:
    async with RealtimeStandIn() as server, contextlib.AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(open_ws(server)) for _ in range(10)]
        for ws in opened:
            await recv_until(ws, "session.created")
        # Past the second in which they were created, so only the concurrency quota applies.
        await asyncio.sleep(max(0.0, server.sessions[0].t_connected + 1.05 - time.perf_counter()))
        with pytest.raises(InvalidStatus) as excinfo:
            async with open_ws(server):
                pass
        assert excinfo.value.response.status_code == 429
        await opened[0].close()
        await server.wait_sessions(2)
        async with open_ws(server) as ws:
            await recv_until(ws, "session.created")
    assert [s.handshake_status for s in server.sessions] == [101] * 10 + [429, 101]


async def test_session_creation_rate_quota() -> None:
    async with RealtimeStandIn(max_sessions=None, max_creations_per_second=3) as server:
        for _ in range(3):
            async with open_ws(server) as ws:
                await recv_until(ws, "session.created")
        with pytest.raises(InvalidStatus) as excinfo:
            async with open_ws(server):
                pass
        assert excinfo.value.response.status_code == 429
        await asyncio.sleep(max(0.0, server.sessions[0].t_connected + 1.05 - time.perf_counter()))
        async with open_ws(server) as ws:
            await recv_until(ws, "session.created")
    assert [s.handshake_status for s in server.sessions] == [101, 101, 101, 429, 101]


@pytest.mark.parametrize("profile", ["yandex", "openai"])
async def test_session_ends_at_its_lifetime(profile: ProfileName) -> None:
    async with RealtimeStandIn(profile=profile) as server:
        async with open_ws(server, auth=AUTH[profile]) as ws:
            created = (await recv_until(ws, "session.created"))[-1]
        lifetime = PROFILES[profile].session_lifetime
        assert abs(created["session"]["expires_at"] - (time.time() + lifetime)) < 5

        server.scenario = Scenario(session_lifetime=0.4, reply_seconds=5.0, realtime_factor=1.0)
        async with open_ws(server, auth=AUTH[profile]) as ws:
            await recv_until(ws, "session.created")
            await send(ws, {"type": "response.create"})
            events = await recv_until(ws, "error", timeout=3.0)
            with pytest.raises(ConnectionClosed) as excinfo:
                await ws.recv()
        await server.wait_sessions(2)

    error = events[-1]["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "session_expired"
    assert error["message"] == "Your session hit the maximum duration of 0.4 seconds."
    assert "response.done" not in [e["type"] for e in events]  # cut off mid-response
    assert 0 < len(of_type(events, "response.output_audio.delta")) < 10
    assert excinfo.value.rcvd is not None
    assert excinfo.value.rcvd.code == 1001
    assert excinfo.value.rcvd.reason == error["message"]
    rec = server.sessions[1]
    assert rec.expired
    assert not rec.closed_by_client


async def manual_turn(
    ws: ClientConnection, update: dict[str, Any], until: str
) -> list[dict[str, Any]]:
    """session.update, 0.5 s of tone, a commit and response.create; events up to `until`."""
    await recv_until(ws, "session.created")
    await send(ws, update)
    await recv_until(ws, "session.updated")
    await append(ws, tone(0.5))
    await send(ws, {"type": "input_audio_buffer.commit"})
    await recv_until(ws, "input_audio_buffer.committed")
    await send(ws, {"type": "response.create"})
    return await recv_until(ws, until)


async def test_openai_transcript_comes_after_response_done(
    openai_stand_in: RealtimeStandIn,
) -> None:
    update = session_update(turn_detection=None, out_rate=24000, transcription=True)
    transcript = "conversation.item.input_audio_transcription.completed"
    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        events = await manual_turn(ws, update, transcript)
    types = [e["type"] for e in events]
    assert types.index("response.done") < types.index(transcript)
    assert events[-1]["usage"] == {"type": "duration", "seconds": 0.5}
    assert events[-1]["transcript"] == "What the user said."

    # The knob: a delay of 0 sends it right after the commit.
    openai_stand_in.scenario = Scenario(transcript_delay=0.0)
    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        events = await manual_turn(ws, update, "response.done")
    assert transcript in [e["type"] for e in events]


async def test_openai_transcribes_only_when_asked(openai_stand_in: RealtimeStandIn) -> None:
    update = session_update(turn_detection=None, out_rate=24000)
    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        await manual_turn(ws, update, "response.done")
        with pytest.raises(TimeoutError):
            await recv_until(ws, "conversation.item.input_audio_transcription.completed", 1.5)


async def test_yandex_transcribes_unasked_right_after_the_commit(
    stand_in: RealtimeStandIn,
) -> None:
    update = session_update(turn_detection=None)
    async with open_ws(stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, update)
        await recv_until(ws, "session.updated")
        await append(ws, tone(0.5))
        await send(ws, {"type": "input_audio_buffer.commit"})
        events = await recv_until(ws, "conversation.item.input_audio_transcription.completed")
    assert [e["type"] for e in events] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
    ]
    assert "usage" not in events[-1]


@pytest.mark.parametrize("event_type", ["input_audio_buffer.clear", "output_audio_buffer.clear"])
async def test_yandex_refuses_the_clear_events(stand_in: RealtimeStandIn, event_type: str) -> None:
    async with open_ws(stand_in) as ws:
        await recv_until(ws, "session.created")
        await append(ws, tone(0.3))
        await send(ws, {"type": event_type, "event_id": "evt_clear"})
        error = (await recv_until(ws, "error"))[-1]["error"]
        # Nothing was cleared: the audio is still there to commit.
        await send(ws, {"type": "input_audio_buffer.commit"})
        await recv_until(ws, "input_audio_buffer.committed")
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "unknown_event"
    assert error["event_id"] == "evt_clear"
    await stand_in.wait_sessions(1)
    assert stand_in.sessions[0].invalid == [
        f"{event_type}: Unsupported event type: '{event_type}'."
    ]


async def test_openai_clears_the_input_buffer(openai_stand_in: RealtimeStandIn) -> None:
    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        await recv_until(ws, "session.created")
        await send(ws, session_update(turn_detection=None, out_rate=24000))
        await recv_until(ws, "session.updated")
        await append(ws, tone(0.3))
        await send(ws, {"type": "input_audio_buffer.clear"})
        await recv_until(ws, "input_audio_buffer.cleared")
        await send(ws, {"type": "input_audio_buffer.commit"})
        error = (await recv_until(ws, "error"))[-1]["error"]
    assert error["code"] == "input_audio_buffer_commit_empty"
    await openai_stand_in.wait_sessions(1)
    assert openai_stand_in.sessions[0].invalid == []


async def test_openai_voice_is_fixed_once_audio_went_out(openai_stand_in: RealtimeStandIn) -> None:
    update = session_update(turn_detection=None, out_rate=24000)
    update["session"]["audio"]["output"]["voice"] = "marin"
    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        await recv_until(ws, "session.created")
        await send(ws, update)  # before any audio: allowed
        await recv_until(ws, "session.updated")
        await send(ws, {"type": "response.create"})
        await recv_until(ws, "response.done")
        update["session"]["audio"]["output"]["voice"] = "cedar"
        await send(ws, update)
        error = (await recv_until(ws, "error"))[-1]["error"]
    assert error["code"] == "cannot_update_voice"
    await openai_stand_in.wait_sessions(1)
    assert openai_stand_in.sessions[0].session["audio"]["output"]["voice"] == "marin"


# -- voice, role, speed and languages ---------------------------------------------------------


def output_update(**output: Any) -> dict[str, Any]:
    """A yandex session.update that sets only these ``audio.output`` fields."""
    return {"type": "session.update", "session": {"audio": {"output": output}}}


def languages_update(languages: Any) -> dict[str, Any]:
    return {"type": "session.update", "session": {"audio": {"input": {"languages": languages}}}}


@pytest.mark.parametrize("yandex", ["yandex", "yandex-field"])
def test_yandex_voice_role_speed_and_languages_stateless(yandex: ProfileName) -> None:
    # Roles of the voice named beside them (en/speechkit/tts/voices.md).
    for voice, role in (("marina", "whisper"), ("alena", "good"), ("naomi", "classic")):
        assert validate_client_event(output_update(voice=voice, role=role), yandex) is None
    assert validate_client_event(output_update(voice="marina", role="good"), yandex) == (
        "Invalid value: 'good'. Voice 'marina' takes the roles 'neutral', 'whisper', 'friendly'."
    )
    assert validate_client_event(output_update(voice="filipp", role="good"), yandex) == (
        "Invalid value: 'good'. Voice 'filipp' takes no role."
    )
    assert validate_client_event(output_update(voice="filipp", role=None), yandex) is None
    # Without the session, a role alone need only be some voice's.
    assert validate_client_event(output_update(role="evil"), yandex) is None
    assert validate_client_event(output_update(role="cheerful"), yandex) == (
        "Invalid value: 'cheerful'. No voice takes this role."
    )
    assert validate_client_event(output_update(role=["good"]), yandex) == (
        "Invalid value: ['good']. No voice takes this role."
    )
    assert validate_client_event(output_update(voice="alena", role=["good"]), yandex) == (
        "Invalid value: ['good']. Voice 'alena' takes the roles 'neutral', 'good'."
    )
    # Voices the list lacks: another provider's, the retired oksana, an object, null.
    voices: tuple[Any, ...] = ("alloy", "oksana", {"id": "voice_1234"}, None)
    for voice in voices:
        reason = validate_client_event(output_update(voice=voice), yandex)
        assert reason is not None and reason.startswith(f"Invalid value: {voice!r}. Supported")
    # No speed on the realtime model; a null is no speed.
    speeds: tuple[Any, ...] = (1.0, 1.25, "1.0")
    for speed in speeds:
        assert validate_client_event(output_update(speed=speed), yandex) == (
            f"Invalid value: {speed!r}. The realtime model takes no speech speed."
        )
    assert validate_client_event(output_update(speed=None), yandex) is None
    # Input languages: a list of tags with a region, as realtime/voice-agent-kz.py sends.
    taken: tuple[Any, ...] = (["kk-KZ"], ["ru-RU", "kk-KZ"], ["kk-KK"], [], None)
    for languages in taken:
        assert validate_client_event(languages_update(languages), yandex) is None
    assert validate_client_event(languages_update("ru-RU"), yandex) == (
        "Invalid type for 'session.audio.input.languages': expected an array of language tags, "
        "but got a string instead."
    )
    refused: tuple[list[Any], ...] = (["ru"], ["ru-RU", "ru_RU"], ["RU-ru"], [7])
    for languages in refused:
        bad = next(tag for tag in languages if tag != "ru-RU")
        assert validate_client_event(languages_update(languages), yandex) == (
            f"Invalid value: {bad!r}. Expected a language tag with a region, such as 'ru-RU' or "
            "'kk-KZ'."
        )


def test_openai_speed_range_and_iso639_stateless() -> None:
    def update(**output: Any) -> dict[str, Any]:
        event = session_update(turn_detection=SERVER_VAD, out_rate=24000, transcription=True)
        event["session"]["audio"]["output"].update(voice="marin", **output)
        return event

    for speed in (0.25, 1, 1.5, None):
        assert validate_client_event(update(speed=speed), "openai") is None
    assert validate_client_event(update(speed=2.0), "openai") == (
        "Invalid 'session.audio.output.speed': decimal above maximum value. Expected a value "
        "<= 1.5, but got 2.0 instead."
    )
    assert validate_client_event(update(speed=0.1), "openai") == (
        "Invalid 'session.audio.output.speed': decimal below minimum value. Expected a value "
        ">= 0.25, but got 0.1 instead."
    )
    for wrong in ("1.2", True):
        reason = validate_client_event(update(speed=wrong), "openai")
        assert reason is not None
        assert reason.startswith("Invalid type for 'session.audio.output.speed': expected a")
    # No roles on OpenAI: not a GA field.
    assert validate_client_event(update(role="friendly"), "openai") == (
        "Unknown parameter: 'session.audio.output.role'."
    )
    # The transcription language in ISO-639-1, not a tag with a region.
    tagged = update()
    tagged["session"]["audio"]["input"]["transcription"]["language"] = "ru-RU"
    assert validate_client_event(tagged, "openai") == (
        "Invalid value: 'ru-RU'. Expected an ISO-639-1 language code, such as 'en'."
    )
    several = update()
    several["session"]["audio"]["input"]["transcription"]["languages"] = ["ru", "kk-KZ"]
    assert validate_client_event(several, "openai") == (
        "Invalid value: 'kk-KZ'. Expected an ISO-639-1 language code, such as 'en'."
    )
    several["session"]["audio"]["input"]["transcription"]["languages"] = ["ru", "kk"]
    assert validate_client_event(several, "openai") is None


async def updated_or_error(ws: ClientConnection, profile: ProfileName) -> dict[str, Any]:
    """The answer to a session.update: its error event, or its (last) session.updated."""
    event = (await recv_until_any(ws, ("session.updated", "error")))[-1]
    if event["type"] == "session.updated":
        for _ in range(PROFILES[profile].session_updated_count - 1):
            event = (await recv_until(ws, "session.updated"))[-1]
    return event


async def recv_until_any(
    ws: ClientConnection, event_types: tuple[str, ...], timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Receive events up to and including the first one of any of event_types."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            events.append(orjson.loads(await ws.recv()))
            if events[-1]["type"] in event_types:
                return events


@pytest.mark.parametrize("yandex", ["yandex", "yandex-field"])
async def test_yandex_role_follows_the_session_s_voice(yandex: ProfileName) -> None:
    role_param = "session.audio.output.role"
    steps: list[tuple[dict[str, Any], str | None]] = [
        (output_update(role="whisper"), None),  # the default voice, marina, takes it
        (output_update(voice="alena"), role_param),  # the session's whisper: alena lacks it
        (output_update(voice="alena", role="good"), None),
        (output_update(role="evil"), role_param),  # alena lacks it
        (output_update(voice="jane", role="evil"), None),
        (output_update(voice="omazh"), None),  # omazh takes evil too: it stays
        (output_update(voice="filipp", role="good"), role_param),  # filipp takes none
        (output_update(voice="filipp"), role_param),  # and the session still holds evil
        (output_update(voice="filipp", role=None), None),
        (output_update(role="neutral"), role_param),
        (output_update(voice="alloy"), "session.audio.output.voice"),
        (output_update(speed=1.25), "session.audio.output.speed"),
        (languages_update("kk-KZ"), "session.audio.input.languages"),
        (languages_update(["kk"]), "session.audio.input.languages[0]"),
        (languages_update(["kk-KZ"]), None),
    ]
    async with RealtimeStandIn(profile=yandex) as server:
        async with open_ws(server) as ws:
            created = (await recv_until(ws, "session.created"))[-1]["session"]
            answers = []
            for step, _ in steps:
                await send(ws, step)
                answers.append(await updated_or_error(ws, yandex))
        await server.wait_sessions(1)
    for (event, param), answer in zip(steps, answers, strict=True):
        if param is None:
            assert answer["type"] == "session.updated", event
        else:
            assert answer["type"] == "error", event
            error = answer["error"]
            assert (error["type"], error["code"], error["param"]) == (
                "invalid_request_error",
                "invalid_type" if param.endswith("languages") else "invalid_value",
                param,
            ), event
    held = answers[1]["error"]["message"]
    assert held == (
        "Invalid value: 'whisper' (the session's role). Voice 'alena' takes the roles "
        "'neutral', 'good'."
    )
    assert answers[7]["error"]["message"] == (
        "Invalid value: 'evil' (the session's role). Voice 'filipp' takes no role."
    )
    assert answers[5]["session"]["audio"]["output"]["voice"] == "omazh"
    assert answers[5]["session"]["audio"]["output"]["role"] == "evil"
    rec = server.sessions[0]
    assert len(rec.invalid) == sum(param is not None for _, param in steps)
    assert (rec.voice, rec.role, rec.input_languages) == ("filipp", None, ["kk-KZ"])
    assert rec.speed == created["audio"]["output"]["speed"]  # never set: the default
    assert rec.transcription_language is None


async def test_field_role_is_checked_against_the_model_s_default_voice() -> None:
    async with RealtimeStandIn(profile="yandex-field") as server:
        async with open_ws(server, query=FIELD_QUERY_260528) as ws:
            created = (await recv_until(ws, "session.created"))[-1]["session"]
            assert created["audio"]["output"]["voice"] == "kirill"
            await send(ws, output_update(role="whisper"))  # marina's, not kirill's
            refused = await updated_or_error(ws, "yandex-field")
            await send(ws, output_update(role="strict"))
            accepted = await updated_or_error(ws, "yandex-field")
        await server.wait_sessions(1)
    assert refused["error"]["message"] == (
        "Invalid value: 'whisper'. Voice 'kirill' takes the roles 'neutral', 'strict', 'good'."
    )
    assert accepted["type"] == "session.updated"
    assert (server.sessions[0].voice, server.sessions[0].role) == ("kirill", "strict")


async def test_openai_refuses_speeds_out_of_range_roles_and_tags(
    openai_stand_in: RealtimeStandIn,
) -> None:
    def update(speed: Any = 1.0, language: str = "ru", **output: Any) -> dict[str, Any]:
        event = session_update(turn_detection=None, out_rate=24000, transcription=True)
        event["session"]["audio"]["output"].update(voice="marin", speed=speed, **output)
        event["session"]["audio"]["input"]["transcription"]["language"] = language
        return event

    async with open_ws(openai_stand_in, auth="Bearer test-key") as ws:
        created = (await recv_until(ws, "session.created"))[-1]["session"]
        errors = []
        for event in (
            update(speed=2.0),
            update(speed=0.2),
            update(role="good"),
            update(language="ru-RU"),
        ):
            await send(ws, event)
            errors.append((await updated_or_error(ws, "openai"))["error"])
        await send(ws, update(speed=1.5, language="kk"))
        accepted = await updated_or_error(ws, "openai")
    assert [(e["code"], e["param"]) for e in errors] == [
        ("decimal_above_max_value", "session.audio.output.speed"),
        ("decimal_below_min_value", "session.audio.output.speed"),
        ("unknown_parameter", "session.audio.output.role"),
        ("invalid_value", "session.audio.input.transcription.language"),
    ]
    assert errors[0]["message"] == (
        "Invalid 'session.audio.output.speed': decimal above maximum value. Expected a value "
        "<= 1.5, but got 2.0 instead."
    )
    assert {e["type"] for e in errors} == {"invalid_request_error"}
    assert accepted["type"] == "session.updated"
    await openai_stand_in.wait_sessions(1)
    rec = openai_stand_in.sessions[0]
    assert len(rec.invalid) == 4
    assert (created["audio"]["output"]["speed"], rec.speed) == (1.0, 1.5)
    assert (rec.voice, rec.role, rec.transcription_language) == ("marin", None, "kk")
    assert rec.input_languages is None


async def test_text_only_response_has_no_audio(stand_in: RealtimeStandIn) -> None:
    stand_in.scenario = Scenario(reply_text="Just text.")
    async with open_ws(stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, {"type": "response.create", "response": {"output_modalities": ["text"]}})
        events = await recv_until(ws, "response.done")
    assert not of_type(events, "response.output_audio.delta")
    deltas = of_type(events, "response.output_text.delta")
    assert "".join(e["delta"] for e in deltas) == "Just text."
    assert {e["content_index"] for e in deltas} == {0}
    assert events[-1]["response"]["output"][0]["content"] == [
        {"type": "output_text", "text": "Just text."}
    ]


# -- tool calls ------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
# As Yandex's realtime/voice_agent.py declares its reserved tools.
YANDEX_WEB_SEARCH = {
    "type": "function",
    "name": "web_search",
    "description": "Поиск в интернете",
    "parameters": "{}",
}


def tools_update(tools: list[dict[str, Any]], **session: Any) -> dict[str, Any]:
    """A session.update both profiles take (24000 Hz, manual turns) declaring `tools`."""
    update = session_update(turn_detection=None, out_rate=24000)
    update["session"]["tools"] = tools
    update["session"].update(session)
    return update


async def open_session(
    ws: ClientConnection, tools: list[dict[str, Any]], **session: Any
) -> list[dict[str, Any]]:
    events = await recv_until(ws, "session.created")
    await send(ws, tools_update(tools, **session))
    return events + await recv_until(ws, "session.updated")


def pcm_seconds(events: list[dict[str, Any]], rate: int = 24000) -> float:
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in of_type(events, "response.output_audio.delta")
    )
    return len(audio) / 2 / rate


@pytest.mark.parametrize("profile", ["yandex", "openai"])
async def test_scripted_call_then_output_then_answer(profile: ProfileName) -> None:
    scenario = Scenario(
        reply_text="It is sunny in Paris.",
        reply_seconds=0.5,
        tool_preamble="One moment.",
        tool_script=[[ScriptedCall("get_weather", {"city": "Paris, France"}, "call_fixed")]],
    )
    async with (
        RealtimeStandIn(profile=profile, scenario=scenario) as server,
        open_ws(server, auth=AUTH[profile]) as ws,
    ):
        setup = await open_session(ws, [WEATHER_TOOL])
        await send(ws, {"type": "response.create"})
        calling = await recv_until(ws, "response.done")
        # An output for a call that was never made is refused and adds nothing.
        wrong = {"type": "function_call_output", "call_id": "call_other", "output": "{}"}
        await send(ws, {"type": "conversation.item.create", "event_id": "evt_bad", "item": wrong})
        refused = (await recv_until(ws, "error"))[-1]["error"]
        output = {"type": "function_call_output", "call_id": "call_fixed", "output": "sunny"}
        await send(ws, {"type": "conversation.item.create", "item": output})
        added = await recv_until(ws, "conversation.item.done")
        await send(ws, {"type": "conversation.item.create", "item": output})
        again = (await recv_until(ws, "error"))[-1]["error"]
        await send(ws, {"type": "response.create"})
        answer = await recv_until(ws, "response.done")
        await ws.close()
        await server.wait_sessions(1)

    kinds = [e["type"] for e in calling]
    call_part = kinds[kinds.index("response.output_item.done") + 1 :]
    deltas = of_type(calling, "response.function_call_arguments.delta")
    assert call_part == [
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * len(deltas),
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
    ]
    assert len(deltas) > 1  # the JSON is long enough to come in pieces
    # The preamble came first, as a message item with audio and its words.
    assert kinds[:3] == [
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
    ]
    said = of_type(calling, "response.output_audio_transcript.delta")
    assert "".join(e["delta"] for e in said) == "One moment."
    arguments = '{"city":"Paris, France"}'
    assert "".join(e["delta"] for e in deltas) == arguments
    added_call = of_type(calling, "response.output_item.added")[1]
    assert added_call["output_index"] == 1
    assert added_call["item"]["type"] == "function_call"
    assert added_call["item"]["status"] == "in_progress"
    assert added_call["item"]["arguments"] == ""
    args_done = of_type(calling, "response.function_call_arguments.done")[0]
    assert (args_done["call_id"], args_done["name"], args_done["arguments"]) == (
        "call_fixed",
        "get_weather",
        arguments,
    )
    item_done = of_type(calling, "response.output_item.done")[1]["item"]
    assert item_done["status"] == "completed"
    assert item_done["arguments"] == arguments
    assert item_done["id"] == added_call["item"]["id"] == deltas[0]["item_id"]
    done = calling[-1]["response"]
    assert done["status"] == "completed"
    assert [i["type"] for i in done["output"]] == ["message", "function_call"]
    assert done["output"][1] == item_done
    assert done["usage"]["output_token_details"]["audio_tokens"] > 0
    assert done["usage"]["output_token_details"]["text_tokens"] > 0
    for event in setup + calling + answer:
        SERVER_EVENT_ADAPTER.validate_python(event)

    assert refused["type"] == "invalid_request_error"
    assert refused["code"] == "invalid_tool_call_id"
    assert refused["param"] == "item.call_id"
    assert refused["event_id"] == "evt_bad"
    assert refused["message"] == "Tool call ID 'call_other' not found in conversation."
    assert added[-1]["item"]["call_id"] == "call_fixed"
    assert again["code"] == "invalid_tool_call_id"
    # After the output, the next response answers with the reply.
    assert not of_type(answer, "response.function_call_arguments.delta")
    text = "".join(e["delta"] for e in of_type(answer, "response.output_audio_transcript.delta"))
    assert text == "It is sunny in Paris."
    assert answer[-1]["response"]["status"] == "completed"
    # The voice note of the turn holds both responses' audio.
    assert pcm_seconds(calling) == pytest.approx(scenario.tool_preamble_seconds)
    assert pcm_seconds(answer) == pytest.approx(0.5)

    rec = server.sessions[0]
    assert rec.responses == 2
    assert rec.tool_calls == [
        {"call_id": "call_fixed", "name": "get_weather", "arguments": arguments}
    ]
    assert rec.tool_outputs == [{"call_id": "call_fixed", "name": "get_weather", "output": "sunny"}]
    assert rec.unanswered_at_create == 0
    assert rec.script_skipped == []
    assert rec.server_searches == []
    assert len(rec.invalid) == 2  # the two refused outputs, nothing else


async def test_several_calls_without_preamble_and_raw_arguments(
    openai_stand_in: RealtimeStandIn,
) -> None:
    openai_stand_in.scenario = Scenario(
        tool_script=[
            [
                ScriptedCall("get_weather", {"city": "Oslo"}),
                ScriptedCall("get_weather", '{"city": "Ber'),  # as malformed as a model writes
            ]
        ]
    )
    async with open_ws(openai_stand_in, auth=AUTH["openai"]) as ws:
        await open_session(ws, [WEATHER_TOOL])
        await send(ws, {"type": "response.create"})
        calling = await recv_until(ws, "response.done")
        # A response.create with calls unanswered is allowed, and counted.
        await send(ws, {"type": "response.create"})
        answer = await recv_until(ws, "response.done")

    for event in calling:
        SERVER_EVENT_ADAPTER.validate_python(event)
    assert not of_type(calling, "response.output_audio.delta")
    added = of_type(calling, "response.output_item.added")
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [
        (0, "function_call"),
        (1, "function_call"),
    ]
    call_ids = [e["item"]["call_id"] for e in added]
    assert all(c.startswith("call_") for c in call_ids) and call_ids[0] != call_ids[1]
    done = of_type(calling, "response.function_call_arguments.done")
    assert [e["arguments"] for e in done] == ['{"city":"Oslo"}', '{"city": "Ber']
    assert [i["call_id"] for i in calling[-1]["response"]["output"]] == call_ids
    assert of_type(answer, "response.output_audio.delta")
    await openai_stand_in.wait_sessions(1)
    rec = openai_stand_in.sessions[0]
    assert rec.unanswered_at_create == 1
    assert rec.invalid == []


@pytest.mark.parametrize("profile", ["yandex", "openai"])
async def test_web_search_is_the_server_s_on_yandex_only(profile: ProfileName) -> None:
    search_tool = (
        YANDEX_WEB_SEARCH
        if profile == "yandex"
        else {**YANDEX_WEB_SEARCH, "parameters": {"type": "object", "properties": {}}}
    )
    scenario = Scenario(tool_script=[[ScriptedCall("web_search", {"query": "news"})]])
    async with (
        RealtimeStandIn(profile=profile, scenario=scenario) as server,
        open_ws(server, auth=AUTH[profile]) as ws,
    ):
        await open_session(ws, [search_tool, WEATHER_TOOL])
        await send(ws, {"type": "response.create"})
        events = await recv_until(ws, "response.done")
        await ws.close()
        await server.wait_sessions(1)

    rec = server.sessions[0]
    assert rec.invalid == []
    calls = of_type(events, "response.function_call_arguments.done")
    if profile == "yandex":
        # Yandex searches itself: no call reaches the client, the response answers.
        assert calls == []
        assert of_type(events, "response.output_audio.delta")
        assert rec.server_searches == [{"query": "news"}]
        assert rec.tool_calls == []
    else:
        # To OpenAI it is a function like any other, the client's to run.
        assert [c["name"] for c in calls] == ["web_search"]
        assert rec.server_searches == []


async def test_a_call_the_session_did_not_declare_is_not_made(stand_in: RealtimeStandIn) -> None:
    stand_in.scenario = Scenario(
        reply_text="Plain answer.",
        tool_script=[
            [ScriptedCall("get_weather", {"city": "Oslo"})],
            [ScriptedCall("get_weather", {"city": "Rome"})],
            [ScriptedCall("get_weather", {"city": "Kyiv"})],
        ],
    )
    async with open_ws(stand_in) as ws:
        await open_session(ws, [YANDEX_WEB_SEARCH])
        await send(ws, {"type": "response.create"})
        undeclared = await recv_until(ws, "response.done")
        # The response's own tools replace the session's...
        await send(ws, {"type": "response.create", "response": {"tools": [WEATHER_TOOL]}})
        declared = await recv_until(ws, "response.done")
        # ...and tool_choice "none" forbids calls.
        create = {"tools": [WEATHER_TOOL], "tool_choice": "none"}
        await send(ws, {"type": "response.create", "response": create})
        forbidden = await recv_until(ws, "response.done")

    for events in (undeclared, forbidden):
        assert not of_type(events, "response.function_call_arguments.done")
        text = "".join(
            e["delta"] for e in of_type(events, "response.output_audio_transcript.delta")
        )
        assert text == "Plain answer."
    assert [e["name"] for e in of_type(declared, "response.function_call_arguments.done")] == [
        "get_weather"
    ]
    await stand_in.wait_sessions(1)
    rec = stand_in.sessions[0]
    assert rec.script_skipped == ["get_weather", "get_weather"]
    assert [c["arguments"] for c in rec.tool_calls] == ['{"city":"Rome"}']
    assert rec.invalid == []


async def test_an_output_may_answer_a_call_the_client_put_in_the_conversation(
    stand_in: RealtimeStandIn,
) -> None:
    # An earlier turn given as context: its call and output as items.
    call = {
        "type": "function_call",
        "call_id": "call_earlier",
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
    }
    output = {"type": "function_call_output", "call_id": "call_earlier", "output": "rain"}
    async with open_ws(stand_in) as ws:
        await open_session(ws, [WEATHER_TOOL])
        await send(ws, {"type": "conversation.item.create", "item": call})
        await recv_until(ws, "conversation.item.done")
        await send(ws, {"type": "conversation.item.create", "item": output})
        done = (await recv_until(ws, "conversation.item.done"))[-1]
    assert done["item"]["call_id"] == "call_earlier"
    await stand_in.wait_sessions(1)
    rec = stand_in.sessions[0]
    assert rec.invalid == []
    assert rec.tool_outputs == [
        {"call_id": "call_earlier", "name": "get_weather", "output": "rain"}
    ]


def test_tool_parameters_per_profile() -> None:
    yandex_way = tools_update([YANDEX_WEB_SEARCH, {**YANDEX_WEB_SEARCH, "name": "file_search"}])
    assert validate_client_event(yandex_way, "yandex") is None
    assert validate_client_event(yandex_way, "openai") == (
        "Invalid type for 'session.tools[0].parameters': expected an object, but got a string "
        "instead."
    )
    # Only Yandex's reserved names take a string; its other functions take a schema too.
    own_string = tools_update([WEATHER_TOOL, {**WEATHER_TOOL, "name": "other", "parameters": "{}"}])
    assert "session.tools[1].parameters" in str(validate_client_event(own_string, "yandex"))
    both_ways = tools_update([WEATHER_TOOL])
    assert validate_client_event(both_ways, "yandex") is None
    assert validate_client_event(both_ways, "openai") is None
    create = {"type": "response.create", "response": {"tools": [YANDEX_WEB_SEARCH]}}
    assert validate_client_event(create, "yandex") is None
    assert "response.tools[0].parameters" in str(validate_client_event(create, "openai"))
    listed = tools_update([{**WEATHER_TOOL, "parameters": ["city"]}])
    assert "but got an array instead" in str(validate_client_event(listed, "yandex"))
    answer = {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
    }
    assert validate_client_event(answer, "yandex") is None
    assert validate_client_event(answer, "openai") is None


async def test_openai_refuses_string_parameters_in_the_session(
    openai_stand_in: RealtimeStandIn,
) -> None:
    async with open_ws(openai_stand_in, auth=AUTH["openai"]) as ws:
        await recv_until(ws, "session.created")
        await send(ws, tools_update([YANDEX_WEB_SEARCH]))
        error = (await recv_until(ws, "error"))[-1]["error"]
        await send(ws, tools_update([WEATHER_TOOL]))
        updated = (await recv_until(ws, "session.updated"))[-1]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_type"
    assert error["param"] == "session.tools[0].parameters"
    assert [t["name"] for t in updated["session"]["tools"]] == ["get_weather"]
    await openai_stand_in.wait_sessions(1)
    assert len(openai_stand_in.sessions[0].invalid) == 1


# -- yandex-field: Yandex as live clients saw it --------------------------------------------

FIELD_QUERY_260528 = "?model=gpt://folder/speech-realtime-260528/latest"


@pytest.fixture
async def field_stand_in() -> AsyncIterator[RealtimeStandIn]:
    async with RealtimeStandIn(profile="yandex-field") as server:
        yield server


def text_of(events: list[dict[str, Any]]) -> str:
    """A response's text as a client that follows Yandex support takes it: from
    ``response.output_text.done``, else from the audio transcript's done."""
    done = of_type(events, "response.output_text.done") or of_type(
        events, "response.output_audio_transcript.done"
    )
    key = "text" if done[0]["type"] == "response.output_text.done" else "transcript"
    return done[0][key]


async def drain(ws: ClientConnection, timeout: float) -> None:
    """Receive and drop events until the connection closes (raises) or timeout passes."""
    async with asyncio.timeout(timeout):
        while True:
            await ws.recv()


def user_text(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def test_field_profile_defaults() -> None:
    field, yandex, openai = PROFILES["yandex-field"], PROFILES["yandex"], PROFILES["openai"]
    assert (field.provider, yandex.provider, openai.provider) == ("yandex", "yandex", "openai")
    assert field.session_lifetime is None
    # The documented rules it does not contradict are yandex's.
    assert field.auth_schemes == yandex.auth_schemes
    assert (field.input_rates, field.output_rates) == (yandex.input_rates, yandex.output_rates)
    assert field.unsupported_events == yandex.unsupported_events
    server = RealtimeStandIn(profile="yandex-field")
    assert (server.max_sessions, server.max_creations_per_second) == (10, 10)
    # The open questions: harsh on the field variant, today's behaviour elsewhere.
    knobs = {
        "honours_create_response": (False, True),
        "honours_null_turn_detection": (False, True),
        "create_needs_transcript": (True, False),
        "cancel_honoured": (False, True),
        "web_search_events": ("function_call", "none"),
        "quota_refusal": ("error_event", "http_429"),
        "vad_auto_response": (True, False),
    }
    for knob, (harsh, kind) in knobs.items():
        assert getattr(field, knob) == harsh, knob
        assert getattr(yandex, knob) == getattr(openai, knob) == kind, knob
        assert getattr(Scenario(), knob) is None, knob


async def test_field_session_created_as_the_live_probe_saw_it(
    field_stand_in: RealtimeStandIn,
) -> None:
    async with open_ws(field_stand_in) as ws:
        first = (await recv_until(ws, "session.created"))[-1]
    async with open_ws(field_stand_in, query=FIELD_QUERY_260528) as ws:
        second = (await recv_until(ws, "session.created"))[-1]

    session = first["session"]
    assert session["expires_at"] is None
    assert session["output_modalities"] == ["text", "audio"]
    assert "model" not in session and "tool_choice" not in session
    audio = session["audio"]
    assert audio["input"]["format"] == {"type": "audio/pcm", "rate": None}
    assert audio["output"]["format"] == {"type": "audio/pcm", "rate": None}
    vad = audio["input"]["turn_detection"]
    assert vad["type"] == "server_vad"
    assert vad["silence_duration_ms"] == 800
    assert vad["threshold"] is None
    assert "create_response" not in vad
    assert audio["output"]["voice"] == "marina"  # speech-realtime-250923
    assert second["session"]["audio"]["output"]["voice"] == "kirill"  # 260528
    SERVER_EVENT_ADAPTER.validate_python(first)
    await field_stand_in.wait_sessions(2)
    rec = field_stand_in.sessions[0]
    # The rates used, which the echo hides: 24000 in, 44100 out.
    assert rec.session["audio"]["input"]["format"]["rate"] == 24000
    assert rec.session["audio"]["output"]["format"]["rate"] == 44100
    assert not rec.expired and rec.profile == "yandex-field"


async def test_field_echoes_null_rates_and_sends_44100_unless_asked(
    field_stand_in: RealtimeStandIn,
) -> None:
    field_stand_in.scenario = Scenario(reply_seconds=0.5)
    async with open_ws(field_stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, {"type": "session.update", "session": {"instructions": "Be brief."}})
        updated = await recv_until(ws, "session.updated")
        updated += await recv_until(ws, "session.updated")
        await send(ws, {"type": "response.create"})
        unasked = await recv_until(ws, "response.done")
        await send(ws, session_update(turn_detection=SERVER_VAD, in_rate=44100, out_rate=24000))
        asked = await recv_until(ws, "session.updated")
        asked += await recv_until(ws, "session.updated")
        await send(ws, {"type": "response.create"})
        at_24000 = await recv_until(ws, "response.done")

    # session.updated twice per session.update, the rates null each time.
    assert [e["type"] for e in updated] == ["session.updated", "session.updated"]
    assert [e["type"] for e in asked] == ["session.updated", "session.updated"]
    for event in updated + asked:
        assert event["session"]["audio"]["input"]["format"]["rate"] is None
        assert event["session"]["audio"]["output"]["format"]["rate"] is None
    assert pcm_seconds(unasked, rate=44100) == pytest.approx(0.5)
    assert pcm_seconds(at_24000, rate=24000) == pytest.approx(0.5)
    await field_stand_in.wait_sessions(1)
    rec = field_stand_in.sessions[0]
    assert rec.session["audio"]["input"]["format"]["rate"] == 44100
    assert rec.session["audio"]["output"]["format"]["rate"] == 24000
    assert rec.invalid == []


async def test_field_items_created_and_text_on_part_zero(field_stand_in: RealtimeStandIn) -> None:
    field_stand_in.scenario = Scenario(reply_text="Понимаю, бывает.", reply_seconds=0.3)
    async with open_ws(field_stand_in) as ws:
        events = await recv_until(ws, "session.created")
        await send(ws, user_text("Тяжело идёт."))
        added = await recv_until(ws, "conversation.item.created")
        await send(ws, {"type": "response.create"})
        response = await recv_until(ws, "response.done")

    assert [e["type"] for e in added] == ["conversation.item.created"]
    assert added[0]["item"]["role"] == "user"
    kinds = [e["type"] for e in response]
    audio_deltas = of_type(response, "response.output_audio.delta")
    text_deltas = of_type(response, "response.output_text.delta")
    assert kinds[:6] == [
        "response.created",
        "conversation.item.created",
        "conversation.item.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.content_part.added",
    ]
    # The closing order ORION's probe recorded.
    assert kinds[-7:] == [
        "response.content_part.done",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.output_item.done",
        "response.done",
    ]
    assert not of_type(response, "response.output_audio_transcript.delta")
    created = of_type(response, "conversation.item.created")
    assert created[0]["item"]["id"] == created[1]["item"]["id"]
    assert created[0]["item"]["content"] == []
    assert [c["type"] for c in created[1]["item"]["content"]] == ["output_text", "output_audio"]
    parts = of_type(response, "response.content_part.added")
    assert [(p["content_index"], p["part"]["type"]) for p in parts] == [(0, "text"), (1, "audio")]
    assert {e["content_index"] for e in text_deltas} == {0}
    assert audio_deltas and {e["content_index"] for e in audio_deltas} == {1}
    assert "".join(e["delta"] for e in text_deltas) == "Понимаю, бывает."
    assert text_of(response) == "Понимаю, бывает."
    transcript_done = of_type(response, "response.output_audio_transcript.done")[0]
    assert transcript_done["content_index"] == 1
    assert transcript_done["transcript"] == ""  # only output_text.done has the text
    assert response[-1]["response"]["output_modalities"] == ["text", "audio"]
    assert response[-1]["response"]["output"][0]["content"] == [
        {"type": "output_audio", "audio": None, "transcript": "Понимаю, бывает."}
    ]
    for event in events + added + response:
        SERVER_EVENT_ADAPTER.validate_python(event)


async def test_field_text_only_session_still_echoes_both_modalities(
    field_stand_in: RealtimeStandIn,
) -> None:
    field_stand_in.scenario = Scenario(reply_text="Только текст.")
    async with open_ws(field_stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, {"type": "session.update", "session": {"output_modalities": ["text"]}})
        updated = await recv_until(ws, "session.updated")
        updated += await recv_until(ws, "session.updated")
        await send(ws, user_text("Привет"))
        await recv_until(ws, "conversation.item.created")
        create = {"type": "response.create", "response": {"output_modalities": ["text"]}}
        await send(ws, create)
        response = await recv_until(ws, "response.done")

    assert all(e["session"]["output_modalities"] == ["text", "audio"] for e in updated)
    assert response[0]["response"]["output_modalities"] == ["text", "audio"]
    # Text only: no audio delta, though the audio part and its done events are there.
    assert not of_type(response, "response.output_audio.delta")
    assert of_type(response, "response.output_audio.done")
    assert text_of(response) == "Только текст."
    await field_stand_in.wait_sessions(1)
    assert field_stand_in.sessions[0].session["output_modalities"] == ["text"]


async def test_field_refuses_assistant_items_and_drops_the_dialogue(
    field_stand_in: RealtimeStandIn,
) -> None:
    assistant = {
        "type": "conversation.item.create",
        "event_id": "evt_history",
        "item": {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Earlier answer."}],
        },
    }
    async with open_ws(field_stand_in) as ws:
        await recv_until(ws, "session.created")
        await send(ws, user_text("Earlier question."))
        accepted = (await recv_until(ws, "conversation.item.created"))[-1]
        await send(ws, assistant)
        error = (await recv_until(ws, "error"))[-1]["error"]
        with pytest.raises(ConnectionClosed) as excinfo:
            await ws.recv()

    assert accepted["item"]["content"] == [{"type": "input_text", "text": "Earlier question."}]
    assert error["type"] == "server_error"
    assert error["code"] is None
    assert error["message"] == "MessageContentItemOutputText not supported yet"
    assert error["event_id"] == "evt_history"
    assert excinfo.value.rcvd is not None and excinfo.value.rcvd.code == 1011
    await field_stand_in.wait_sessions(1)
    rec = field_stand_in.sessions[0]
    assert rec.invalid == [
        "conversation.item.create: MessageContentItemOutputText not supported yet"
    ]
    assert rec.close_code == 1011
    assert not rec.closed_by_client


@pytest.mark.parametrize(
    ("query", "message", "code"),
    [
        ("?model=speech-realtime-250923", "Invalid model URI 'speech-realtime-250923'", 1008),
        ("", "Invalid model URI ''", 1008),
        ("?model=gpt://folder", "Invalid model URI 'gpt://folder'", 1008),
        (
            "?model=gpt://folder/speech-realtime-999999/latest",
            "Runtime error: NOT_FOUND: Instance with model "
            "gpt://folder/speech-realtime-999999/latest not found",
            1011,
        ),
    ],
)
async def test_field_checks_the_model_uri(
    field_stand_in: RealtimeStandIn, query: str, message: str, code: int
) -> None:
    async with open_ws(field_stand_in, query=query) as ws:
        events = await recv_until(ws, "error")
        with pytest.raises(ConnectionClosed) as excinfo:
            await ws.recv()
    assert [e["type"] for e in events] == ["error"]  # no session.created
    assert events[0]["error"] == {
        "type": "server_error",
        "code": None,
        "message": message,
        "param": None,
        "event_id": None,
    }
    assert excinfo.value.rcvd is not None and excinfo.value.rcvd.code == code
    await field_stand_in.wait_sessions(1)
    assert field_stand_in.sessions[0].close_code == code


async def test_only_the_field_variant_checks_the_model_uri(
    stand_in: RealtimeStandIn, field_stand_in: RealtimeStandIn
) -> None:
    async with open_ws(stand_in, query="?model=speech-realtime-250923") as ws:
        await recv_until(ws, "session.created")
    for query in (
        MODEL_QUERY,
        "?model=gpt://b1g/speech-realtime-250923/latest",
        FIELD_QUERY_260528,
    ):
        async with open_ws(field_stand_in, query=query) as ws:
            await recv_until(ws, "session.created")


async def test_field_client_keepalive_closes_for_want_of_pongs(
    field_stand_in: RealtimeStandIn,
) -> None:
    async with open_ws(field_stand_in, ping_interval=0.2, ping_timeout=0.5) as ws:
        await recv_until(ws, "session.created")
        t0 = time.perf_counter()
        with pytest.raises(ConnectionClosed) as excinfo:
            await drain(ws, 1.9)
    # Closed by the client's own keepalive: no pong came for its ping.
    assert time.perf_counter() - t0 < 1.5
    assert excinfo.value.sent is not None and excinfo.value.sent.code == 1011
    assert "keepalive ping timeout" in excinfo.value.sent.reason
    await field_stand_in.wait_sessions(1)
    rec = field_stand_in.sessions[0]
    assert rec.pings_received >= 1
    assert rec.pings_unanswered == rec.pings_received
    assert rec.closed_by_client


async def test_field_client_without_keepalive_keeps_working(
    field_stand_in: RealtimeStandIn, stand_in: RealtimeStandIn
) -> None:
    async with open_ws(field_stand_in, ping_interval=None) as ws:
        await recv_until(ws, "session.created")
        await asyncio.sleep(0.8)  # longer than the other client's keepalive took to give up
        await send(ws, {"type": "response.create"})
        done = (await recv_until(ws, "response.done"))[-1]
    assert done["response"]["status"] == "completed"
    # The documented profile answers pings: the same keepalive holds there.
    async with open_ws(stand_in, ping_interval=0.2, ping_timeout=0.5) as ws:
        await recv_until(ws, "session.created")
        await asyncio.sleep(0.8)
        await send(ws, {"type": "response.create"})
        await recv_until(ws, "response.done")
    await stand_in.wait_sessions(1)
    assert stand_in.sessions[0].pings_received >= 2
    assert stand_in.sessions[0].pings_unanswered == 0
    await field_stand_in.wait_sessions(1)
    assert field_stand_in.sessions[0].pings_received == 0


@pytest.mark.parametrize("honours", [None, True], ids=["default", "honoured"])
async def test_field_vad_commit_answers_despite_create_response_false(
    honours: bool | None,
) -> None:
    scenario = Scenario(honours_create_response=honours, reply_seconds=0.4, realtime_factor=2.0)
    async with (
        RealtimeStandIn(profile="yandex-field", scenario=scenario) as server,
        open_ws(server) as ws,
    ):
        await recv_until(ws, "session.created")
        await send(ws, session_update(turn_detection=SERVER_VAD))  # create_response false
        await recv_until(ws, "session.updated")
        await recv_until(ws, "session.updated")
        await append(ws, tone(0.5) + silence(0.3), chunk_ms=20)
        committed = await recv_until(ws, "input_audio_buffer.committed")
        # Whatever the VAD commit started has begun by now; a cancel tells which it was.
        await send(ws, {"type": "response.cancel", "event_id": "evt_cancel"})
        if honours:
            after = await recv_until(ws, "error")
        else:
            after = await recv_until(ws, "response.done")
        await ws.close()
        await server.wait_sessions(1)

    assert "response.create" not in server.sessions[0].event_types
    rec = server.sessions[0]
    if honours:
        assert after[-1]["error"]["code"] == "response_cancel_not_active"
        assert not of_type(committed + after, "response.created")
        assert (rec.responses, rec.vad_responses) == (0, 0)
    else:
        assert of_type(after, "response.created")
        assert after[-1]["response"]["status"] == "completed"  # the cancel was ignored too
        assert (rec.responses, rec.vad_responses, rec.cancels_ignored) == (1, 1, 1)


@pytest.mark.parametrize("honours", [None, True], ids=["default", "honoured"])
async def test_field_keeps_its_vad_when_turn_detection_is_null(honours: bool | None) -> None:
    scenario = Scenario(honours_null_turn_detection=honours, vad_auto_response=False)
    async with (
        RealtimeStandIn(profile="yandex-field", scenario=scenario) as server,
        open_ws(server) as ws,
    ):
        await recv_until(ws, "session.created")
        await send(ws, session_update(turn_detection=None))
        updated = (await recv_until(ws, "session.updated"))[-1]
        await recv_until(ws, "session.updated")
        # A pause longer than the field VAD's 800 ms.
        await append(ws, tone(0.4) + silence(0.9) + tone(0.2), chunk_ms=100)
        await send(ws, {"type": "input_audio_buffer.commit"})
        events = await recv_until(ws, "input_audio_buffer.committed")
        if not honours:
            events += await recv_until(ws, "input_audio_buffer.committed")
        await ws.close()
        await server.wait_sessions(1)

    td = updated["session"]["audio"]["input"]["turn_detection"]
    rec = server.sessions[0]
    if honours:
        assert td is None
        assert not of_type(events, "input_audio_buffer.speech_started")
        assert rec.committed_chunks == 1
    else:
        assert td["type"] == "server_vad" and td["silence_duration_ms"] == 800
        # The server committed at the pause by itself, then the client's commit took the rest.
        assert of_type(events, "input_audio_buffer.speech_stopped")
        assert rec.committed_chunks == 2
    assert rec.invalid == []


@pytest.mark.parametrize("needs", [None, False], ids=["default", "not_needed"])
async def test_field_create_before_the_transcript_is_answered_with_a_greeting(
    needs: bool | None,
) -> None:
    scenario = Scenario(
        create_needs_transcript=needs,
        honours_null_turn_detection=True,
        reply_text="Sunny.",
        reply_seconds=0.2,
    )
    transcript = "conversation.item.input_audio_transcription.completed"
    async with (
        RealtimeStandIn(profile="yandex-field", scenario=scenario) as server,
        open_ws(server) as ws,
    ):
        await recv_until(ws, "session.created")
        await send(ws, session_update(turn_detection=None))
        await recv_until(ws, "session.updated")
        await recv_until(ws, "session.updated")
        await append(ws, tone(0.5))
        await send(ws, {"type": "input_audio_buffer.commit"})
        await recv_until(ws, "input_audio_buffer.committed")
        await send(ws, {"type": "response.create"})  # as Yandex's example does
        hasty = await recv_until(ws, "response.done")
        if not of_type(hasty, transcript):
            hasty += await recv_until(ws, transcript)
        await send(ws, {"type": "response.create"})  # after the transcript
        patient = await recv_until(ws, "response.done")
        await ws.close()
        await server.wait_sessions(1)

    kinds = [e["type"] for e in hasty]
    assert kinds.index("response.created") < kinds.index(transcript)
    rec = server.sessions[0]
    if needs is None:
        assert text_of(hasty) == "Здравствуйте! Чем могу помочь?"
        assert rec.answered_without_input == 1
    else:
        assert text_of(hasty) == "Sunny."
        assert rec.answered_without_input == 0
    assert text_of(patient) == "Sunny."


@pytest.mark.parametrize("honoured", [None, True], ids=["default", "honoured"])
async def test_field_ignores_response_cancel(honoured: bool | None) -> None:
    scenario = Scenario(cancel_honoured=honoured, reply_seconds=0.6, realtime_factor=2.0)
    async with (
        RealtimeStandIn(profile="yandex-field", scenario=scenario) as server,
        open_ws(server) as ws,
    ):
        await recv_until(ws, "session.created")
        await send(ws, {"type": "response.create"})
        events = await recv_until(ws, "response.output_audio.delta")
        await send(ws, {"type": "response.cancel"})
        events += await recv_until(ws, "response.done")
        await ws.close()
        await server.wait_sessions(1)

    done = events[-1]["response"]
    deltas = of_type(events, "response.output_audio.delta")
    assert not of_type(events, "error")
    rec = server.sessions[0]
    if honoured:
        assert done["status"] == "cancelled"
        assert len(deltas) < 6
        assert rec.cancels_ignored == 0
    else:
        assert done["status"] == "completed"
        assert len(deltas) == 6  # the whole reply
        assert rec.cancels_ignored == 1


@pytest.mark.parametrize("events", [None, "none"], ids=["default", "server_side"])
async def test_field_web_search_reaches_the_client_as_a_call(events: str | None) -> None:
    scenario = Scenario(
        web_search_events=events,  # type: ignore[arg-type]
        tool_script=[[ScriptedCall("web_search", {"query": "news"}, "call_search")]],
        reply_text="Here is the news.",
        reply_seconds=0.2,
    )
    async with (
        RealtimeStandIn(profile="yandex-field", scenario=scenario) as server,
        open_ws(server) as ws,
    ):
        await recv_until(ws, "session.created")
        await send(ws, tools_update([YANDEX_WEB_SEARCH]))
        await recv_until(ws, "session.updated")
        await send(ws, {"type": "response.create"})
        first = await recv_until(ws, "response.done")
        if events is None:
            output = {"type": "function_call_output", "call_id": "call_search", "output": "{}"}
            await send(ws, {"type": "conversation.item.create", "item": output})
            await recv_until(ws, "conversation.item.created")
            await send(ws, {"type": "response.create"})
            await recv_until(ws, "response.done")
        await ws.close()
        await server.wait_sessions(1)

    rec = server.sessions[0]
    calls = of_type(first, "response.function_call_arguments.done")
    assert rec.invalid == []
    if events is None:
        assert [(c["name"], c["call_id"]) for c in calls] == [("web_search", "call_search")]
        assert rec.server_searches == []
        assert rec.tool_outputs == [
            {"call_id": "call_search", "name": "web_search", "output": "{}"}
        ]
    else:
        assert calls == []
        assert text_of(first) == "Here is the news."
        assert rec.server_searches == [{"query": "news"}]


@pytest.mark.parametrize("refusal", [None, "http_429"], ids=["default", "http_429"])
async def test_field_quota_refusal(refusal: str | None) -> None:
    scenario = Scenario(quota_refusal=refusal)  # type: ignore[arg-type]
    async with (
        RealtimeStandIn(
            profile="yandex-field", scenario=scenario, max_sessions=1, max_creations_per_second=None
        ) as server,
        open_ws(server) as first,
    ):
        await recv_until(first, "session.created")
        if refusal is None:
            async with open_ws(server) as second:
                events = await recv_until(second, "error")
                with pytest.raises(ConnectionClosed) as excinfo:
                    await second.recv()
            await server.wait_sessions(1)
            # The refused session does not hold a place: the next one past the first waits
            # for the first only.
            await first.close()
            await server.wait_sessions(2)
            async with open_ws(server) as third:
                await recv_until(third, "session.created")
        else:
            with pytest.raises(InvalidStatus) as status:
                async with open_ws(server):
                    pass
            assert status.value.response.status_code == 429

    if refusal is None:
        assert [e["type"] for e in events] == ["session.created", "error"]
        error = events[-1]["error"]
        assert error["type"] == "server_error" and error["code"] is None
        assert error["message"] == (
            "Runtime error: RESOURCE_EXHAUSTED: Quota exceeded: more than 1 concurrent sessions"
        )
        assert excinfo.value.rcvd is not None and excinfo.value.rcvd.code == 1013
        refused = server.sessions[1]
        assert refused.handshake_status == 101
        assert refused.refusal == "Quota exceeded: more than 1 concurrent sessions"
        assert refused.close_code == 1013
        assert server.sessions[2].refusal is None
    else:
        assert [s.handshake_status for s in server.sessions] == [101, 429]


# -- the `realtime` fixture's profiles (tests/conftest.py) -----------------------------------


@pytest.mark.yandex_variants
async def test_yandex_variants_run_a_turn_on_both(
    realtime: RealtimeStandIn, request: pytest.FixtureRequest
) -> None:
    assert request.node.callspec.id == realtime.profile.name
    assert realtime.profile.name in ("yandex", "yandex-field")
    realtime.scenario = Scenario(reply_text="Both ways.", reply_seconds=0.2)
    transcript = "conversation.item.input_audio_transcription.completed"
    async with open_ws(realtime) as ws:
        await recv_until(ws, "session.created")
        await send(ws, session_update(turn_detection=None, out_rate=44100))
        await recv_until(ws, "session.updated")
        await append(ws, tone(0.3))
        await send(ws, {"type": "input_audio_buffer.commit"})
        await recv_until(ws, transcript)  # then ask: no greeting on either
        await send(ws, {"type": "response.create"})
        events = await recv_until(ws, "response.done")
    assert text_of(events) == "Both ways."
    assert pcm_seconds(events, rate=44100) == pytest.approx(0.2)


@pytest.mark.yandex_variants
def test_yandex_variants_configure_the_bot_as_yandex(realtime: RealtimeStandIn) -> None:
    settings = realtime_settings(realtime)
    assert settings.realtime_provider == "yandex"
    assert settings.realtime_url.startswith(realtime.url + "?model=gpt://")


@pytest.mark.yandex_variants
@pytest.mark.realtime_profile("openai")
def test_a_profile_marker_wins_over_yandex_variants(
    realtime: RealtimeStandIn, request: pytest.FixtureRequest
) -> None:
    assert realtime.profile.name == "openai"
    assert not hasattr(request.node, "callspec")


@pytest.mark.realtime_profile("yandex-field")
def test_the_realtime_fixture_plays_yandex_field(realtime: RealtimeStandIn) -> None:
    assert realtime.profile is PROFILES["yandex-field"]
    assert realtime_settings(realtime).realtime_provider == "yandex"


def test_the_env_var_picks_the_profile_of_unmarked_tests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROFILE_ENV, "yandex-field")
    assert realtime_profile(request) == "yandex-field"
    monkeypatch.setenv(PROFILE_ENV, "nonsense")
    with pytest.raises(pytest.UsageError, match="unknown realtime profile"):
        realtime_profile(request)
