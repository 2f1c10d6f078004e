"""The turn's logic without a socket: what the client sends for what the server says."""

from __future__ import annotations

import base64

import pytest

from bot.domain import HistoryItem
from bot.errors import (
    EmptyAudio,
    RealtimeAuthError,
    RealtimeQuotaError,
    RealtimeResponseFailed,
    RealtimeServerError,
)
from bot.realtime.protocol import Phase, SessionConfig, TurnProtocol, session_update
from stand_ins.realtime import validate_client_event

PCM_1S = b"\x01\x00" * 24_000


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def started(**config: object) -> tuple[TurnProtocol, list[dict]]:
    audio: list[bytes] = []
    proto = TurnProtocol(SessionConfig(voice="marina", instructions="Be brief.", **config))  # type: ignore[arg-type]
    proto.on_audio = audio.append
    sent = proto.receive({"type": "session.created", "session": {}})
    return proto, sent


def test_session_update_carries_voice_instructions_rate_and_is_valid() -> None:
    _, sent = started(output_rate=44_100)
    assert types(sent) == ["session.update"]
    session = sent[0]["session"]
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 44_100},
        "voice": "marina",
    }
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24_000}
    vad = session["audio"]["input"]["turn_detection"]
    assert vad["type"] == "server_vad" and vad["create_response"] is False
    assert session["instructions"] == "Be brief."
    assert validate_client_event(sent[0]) is None


def test_the_session_update_is_the_one_the_builder_makes() -> None:
    """One builder of session.update: the protocol's (the probe sends it too)."""
    config = SessionConfig(
        voice="marin", instructions="i", output_rate=24_000, turn_detection="semantic_vad",
        output_modalities=("audio",), transcription_model="gpt-4o-mini-transcribe",
        tools=({"type": "function", "name": "clock", "parameters": {"type": "object"}},),
    )  # fmt: skip
    marks: list[str] = []
    proto = TurnProtocol(config, on_mark=marks.append)
    (update,) = proto.receive({"type": "session.created"})
    assert update == session_update(config, update["event_id"])
    assert (proto.phase, proto.output_rate, proto.usage.input_tokens) == (Phase.INPUT, 24_000, 0)
    # State is the protocol's own: two protocols share none of it.
    other = TurnProtocol(config)
    proto.add_text("hello")
    assert other.calls_due == [] and other.reply_text == "" and other.phase is Phase.CONNECTING


def test_manual_turn_detection_is_null() -> None:
    _, sent = started(turn_detection="manual")
    assert sent[0]["session"]["audio"]["input"]["turn_detection"] is None
    assert validate_client_event(sent[0]) is None


def test_audio_before_session_created_is_queued_behind_session_update() -> None:
    proto = TurnProtocol(SessionConfig(voice="marina", instructions="i"))
    assert proto.add_audio(PCM_1S * 3) == []
    assert proto.end_input() == []
    sent = proto.receive({"type": "session.created"})
    assert types(sent) == ["session.update"] + ["input_audio_buffer.append"] * 3 + [
        "input_audio_buffer.commit"
    ]
    assert b"".join(base64.b64decode(e["audio"]) for e in sent[1:4]) == PCM_1S * 3
    assert all(validate_client_event(e) is None for e in sent)


def test_history_items_go_before_the_audio() -> None:
    history = (HistoryItem("user", "Hi"), HistoryItem("assistant", "Hello!"))
    _, sent = started(history=history)
    assert types(sent) == ["session.update", "conversation.item.create", "conversation.item.create"]
    assert sent[2]["item"]["content"][0] == {"type": "output_text", "text": "Hello!"}
    assert all(validate_client_event(e) is None for e in sent)


def test_response_create_once_after_commit_acknowledged() -> None:
    proto, _ = started()
    proto.add_audio(PCM_1S)
    assert types(proto.end_input()) == ["input_audio_buffer.commit"]
    assert proto.end_input() == []
    assert proto.phase is Phase.COMMITTING
    sent = proto.receive({"type": "input_audio_buffer.committed", "item_id": "a"})
    assert types(sent) == ["response.create"]
    # the answer to our own commit arriving after a VAD commit is harmless and changes nothing
    assert proto.receive({"type": "input_audio_buffer.committed", "item_id": "b"}) == []


def test_vad_commits_during_input_are_counted_not_answered() -> None:
    proto, _ = started()
    proto.add_audio(PCM_1S)
    assert proto.receive({"type": "input_audio_buffer.committed"}) == []
    assert proto.server_commits == 1 and proto.phase is Phase.INPUT


def test_commit_empty_after_vad_is_harmless() -> None:
    proto, _ = started()
    proto.add_audio(PCM_1S)
    proto.receive({"type": "input_audio_buffer.committed"})
    proto.end_input()
    error = {
        "type": "error",
        "error": {"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty",
                  "message": "buffer too small"},
    }  # fmt: skip
    assert types(proto.receive(error)) == ["response.create"]
    assert proto.receive(error) == []  # a late duplicate while responding


def test_commit_empty_in_manual_mode_with_nothing_committed_is_empty_audio() -> None:
    proto, _ = started(turn_detection="manual")
    proto.add_audio(PCM_1S)
    proto.end_input()
    with pytest.raises(EmptyAudio):
        proto.receive(
            {"type": "error", "error": {"code": "input_audio_buffer_commit_empty", "message": "x"}}
        )


def test_too_little_audio_is_refused_before_sending() -> None:
    proto, _ = started()
    proto.add_audio(b"\x00\x00" * 100)
    with pytest.raises(EmptyAudio):
        proto.end_input()


def test_text_turn_creates_item_then_response() -> None:
    proto, _ = started()
    sent = proto.add_text("What time is it?") + proto.end_input()
    assert types(sent) == ["conversation.item.create", "response.create"]
    assert all(validate_client_event(e) is None for e in sent)


def respond(proto: TurnProtocol) -> None:
    proto.add_audio(PCM_1S)
    proto.end_input()
    proto.receive({"type": "input_audio_buffer.committed"})


def test_collects_audio_text_and_transcript_until_response_done() -> None:
    audio: list[bytes] = []
    proto, _ = started()
    proto.on_audio = audio.append
    respond(proto)
    proto.receive(
        {"type": "session.updated", "session": {"audio": {"output": {"format": {"rate": 48000}}}}}
    )
    proto.receive(
        {"type": "response.output_audio.delta", "delta": base64.b64encode(b"ab").decode()}
    )
    proto.receive({"type": "response.output_audio_transcript.delta", "delta": "Hel"})
    proto.receive({"type": "response.output_audio.done"})
    assert not proto.done  # the tail may still come: only response.done ends the turn
    proto.receive({"type": "response.audio.delta", "delta": base64.b64encode(b"cd").decode()})
    proto.receive({"type": "response.output_audio_transcript.delta", "delta": "lo"})
    proto.receive(
        {"type": "conversation.item.input_audio_transcription.completed", "transcript": "Hi"}
    )
    proto.receive({"type": "response.done", "response": {"status": "completed", "usage": {
        "input_tokens": 10, "output_tokens": 20,
        "input_token_details": {"audio_tokens": 9, "text_tokens": 1},
        "output_token_details": {"audio_tokens": 15, "text_tokens": 5}}}})  # fmt: skip
    assert proto.done
    assert b"".join(audio) == b"abcd"
    assert proto.output_rate == 48000
    assert proto.reply_text == "Hello"
    assert proto.input_transcript == "Hi"
    assert proto.usage.output_audio_tokens == 15


def test_output_text_wins_over_transcript() -> None:
    proto, _ = started()
    respond(proto)
    proto.receive({"type": "response.output_audio_transcript.done", "transcript": "spoken"})
    proto.receive({"type": "response.output_text.done", "text": "written"})
    assert proto.reply_text == "written"


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_failed_response_raises(status: str) -> None:
    proto, _ = started()
    respond(proto)
    with pytest.raises(RealtimeResponseFailed) as info:
        proto.receive({"type": "response.done", "response": {"status": status, "status_details": {
            "reason": "x", "error": {"code": "server_error", "message": "boom"}}}})  # fmt: skip
    assert info.value.status == status


def test_incomplete_response_with_audio_is_delivered_without_audio_fails() -> None:
    proto, _ = started()
    respond(proto)
    proto.receive(
        {"type": "response.output_audio.delta", "delta": base64.b64encode(b"ab").decode()}
    )
    proto.receive({"type": "response.done", "response": {"status": "incomplete"}})
    assert proto.done and proto.status == "incomplete"
    empty, _ = started()
    respond(empty)
    with pytest.raises(RealtimeResponseFailed):
        empty.receive({"type": "response.done", "response": {"status": "incomplete"}})


@pytest.mark.parametrize(
    ("error", "expected", "transient"),
    [
        ({"type": "invalid_request_error", "code": "invalid_api_key"}, RealtimeAuthError, False),
        ({"type": "insufficient_quota", "code": "insufficient_quota"}, RealtimeQuotaError, False),
        ({"type": "server_error", "code": None}, RealtimeServerError, True),
        (
            {"type": "invalid_request_error", "code": "unknown_parameter"},
            RealtimeServerError,
            False,
        ),
    ],
)
def test_error_events_become_typed_errors(error: dict, expected: type, transient: bool) -> None:
    proto, _ = started()
    with pytest.raises(expected) as info:
        proto.receive({"type": "error", "error": {**error, "message": "m"}})
    assert info.value.transient is transient


def test_unknown_events_are_ignored() -> None:
    proto, _ = started()
    assert proto.receive({"type": "rate_limits.updated"}) == []
    assert proto.receive({"type": "something.new", "x": 1}) == []


def test_semantic_vad_is_asked_without_answering_by_itself() -> None:
    _, sent = started(
        turn_detection="semantic_vad", output_rate=24_000, output_modalities=("audio",)
    )
    vad = sent[0]["session"]["audio"]["input"]["turn_detection"]
    assert vad["type"] == "semantic_vad"
    assert (vad["create_response"], vad["interrupt_response"]) == (False, False)
    assert validate_client_event(sent[0], "openai") is None  # OpenAI's alone


def test_a_transcript_after_response_done_is_awaited_and_kept() -> None:
    proto, _ = started(transcription_model="gpt-4o-mini-transcribe")
    proto.add_audio(PCM_1S)
    proto.end_input()
    proto.receive({"type": "input_audio_buffer.committed", "item_id": "item_1"})
    proto.receive({"type": "response.done", "response": {"status": "completed"}})
    assert proto.done and proto.awaiting_transcripts  # OpenAI: the transcript comes later
    proto.receive({
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_1", "content_index": 0, "transcript": "And tomorrow?",
    })  # fmt: skip
    assert not proto.awaiting_transcripts
    assert proto.input_transcript == "And tomorrow?"


def test_without_transcription_asked_nothing_is_awaited() -> None:
    proto, _ = started()
    proto.add_audio(PCM_1S)
    proto.end_input()
    proto.receive({"type": "input_audio_buffer.committed", "item_id": "item_1"})
    proto.receive({"type": "response.done", "response": {"status": "completed"}})
    assert proto.done and not proto.awaiting_transcripts


def test_stop_cancels_the_response_and_keeps_what_came() -> None:
    texts: list[str] = []
    proto, _ = started()
    proto.on_text = texts.append
    proto.add_audio(PCM_1S)
    proto.end_input()
    proto.receive({"type": "input_audio_buffer.committed", "item_id": "a"})
    proto.receive({"type": "response.output_audio_transcript.delta", "delta": "Sure, "})
    proto.receive({"type": "response.output_audio.delta", "delta": "AAAA"})
    assert types(proto.stop()) == ["response.cancel"]
    assert validate_client_event({"type": "response.cancel"}) is None
    assert proto.stop() == []  # once
    proto.receive({"type": "response.done", "response": {"status": "cancelled"}})
    assert proto.done and proto.stopped and proto.status == "cancelled"
    assert proto.reply_text == "Sure," and texts == ["Sure,"]


def test_stop_before_the_answer_asks_nothing_of_the_model() -> None:
    proto, _ = started()
    proto.add_audio(PCM_1S)
    proto.end_input()
    assert proto.stop() == []
    assert proto.receive({"type": "input_audio_buffer.committed", "item_id": "a"}) == []
    assert proto.done and proto.status == "cancelled"


def test_a_cancelled_response_nobody_asked_to_stop_is_an_error() -> None:
    proto, _ = started()
    proto.add_audio(PCM_1S)
    proto.end_input()
    proto.receive({"type": "input_audio_buffer.committed", "item_id": "a"})
    with pytest.raises(RealtimeResponseFailed):
        proto.receive({"type": "response.done", "response": {"status": "cancelled"}})
