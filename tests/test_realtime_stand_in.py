"""Self-tests of the Realtime stand-in, driven by a raw websockets client."""

from __future__ import annotations

import asyncio
import base64
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

from stand_ins.realtime import Failure, RealtimeStandIn, Scenario, validate_client_event

MODEL_QUERY = "?model=gpt://folder/speech-realtime-250923"
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
    *, turn_detection: dict[str, Any] | None, out_rate: int = 44100, transcription: bool = False
) -> dict[str, Any]:
    audio_in: dict[str, Any] = {
        "format": {"type": "audio/pcm", "rate": IN_RATE},
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


def open_ws(server: RealtimeStandIn, auth: str = "Api-Key test-key") -> connect:
    return connect(
        server.url + MODEL_QUERY,
        additional_headers={"Authorization": auth},
        max_size=None,
        compression=None,
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


async def test_server_events_validate_against_openai_types(stand_in: RealtimeStandIn) -> None:
    stand_in.scenario = Scenario(text_kind="both", reply_seconds=0.35)
    async with open_ws(stand_in) as ws:
        events = await recv_until(ws, "session.created")
        await send(ws, session_update(turn_detection=SERVER_VAD, transcription=True))
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

    assert events[-1]["error"]["code"] == "unknown_event"
    assert len({e["event_id"] for e in events}) == len(events)
    kinds = {e["type"] for e in events}
    assert {"response.output_text.delta", "response.output_audio_transcript.delta"} <= kinds
    for event in events:
        patched = copy.deepcopy(event)
        # The two documented Yandex deviations, and only these, are patched out.
        if patched["type"] in ("session.created", "session.updated"):
            patched["session"]["audio"]["output"]["format"]["rate"] = 24000
        if patched["type"] == "conversation.item.input_audio_transcription.completed":
            assert "usage" not in patched
            patched["usage"] = {"type": "duration", "seconds": 0.4}
        SERVER_EVENT_ADAPTER.validate_python(patched)
    await stand_in.wait_sessions(1)
    invalid = stand_in.sessions[0].invalid
    assert len(invalid) == 1
    assert invalid[0].startswith("no.such.event: ")


def test_validate_client_event_allows_only_the_output_rate() -> None:
    assert validate_client_event(session_update(turn_detection=None, out_rate=48000)) is None
    bad_input_rate = session_update(turn_detection=None)
    bad_input_rate["session"]["audio"]["input"]["format"]["rate"] = 16000
    assert validate_client_event(bad_input_rate) is not None
    assert bad_input_rate["session"]["audio"]["output"]["format"]["rate"] == 44100
    assert validate_client_event({"type": "input_audio_buffer.append"}) is not None
    assert validate_client_event({"type": "response.create"}) is None


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
