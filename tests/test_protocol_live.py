"""The turn's logic, without a socket, against what live clients of Yandex saw beyond its docs:
responses the server starts by itself, a create refused in a race with one, the wait for the
input's transcript, null rate echoes, a second session.updated, refused history, errors that
name the configuration."""

from __future__ import annotations

import base64

import pytest

from bot.domain import HistoryItem
from bot.errors import ContextRejected, RealtimeConfigError, RealtimeServerError
from bot.realtime.protocol import Phase, SessionConfig, TurnProtocol, quote_history
from stand_ins.realtime import validate_client_event

PCM_1S = b"\x01\x00" * 24_000
HISTORY = (HistoryItem("user", "Как зовут кота?"), HistoryItem("assistant", "Его зовут Барсик."))


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def committing(**config: object) -> tuple[TurnProtocol, list[bytes]]:
    audio: list[bytes] = []
    proto = TurnProtocol(SessionConfig(voice="marina", instructions="Be brief.", **config))  # type: ignore[arg-type]
    proto.on_audio = audio.append
    proto.receive({"type": "session.created", "session": {}})
    proto.add_audio(PCM_1S * 2)
    assert types(proto.end_input()) == ["input_audio_buffer.commit"]
    return proto, audio


def delta(rid: str, pcm: bytes = b"\x02\x00" * 100) -> dict:
    return {
        "type": "response.output_audio.delta",
        "response_id": rid,
        "delta": base64.b64encode(pcm).decode(),
    }


def done(rid: str, status: str = "completed", output: list | None = None) -> dict:
    return {
        "type": "response.done",
        "response": {"id": rid, "status": status, "output": output or []},
    }


def test_a_response_the_server_starts_is_cancelled_ignored_and_ours_asked_after_it() -> None:
    proto, audio = committing()
    # The server's VAD answers the first half before our commit is answered.
    sent = proto.receive({"type": "response.created", "response": {"id": "srv"}})
    assert types(sent) == ["response.cancel"] and sent[0]["response_id"] == "srv"
    assert validate_client_event(sent[0]) is None
    assert proto.receive(delta("srv")) == []
    assert proto.receive({"type": "response.output_text.delta", "response_id": "srv",
                          "delta": "half"}) == []  # fmt: skip
    # Our commit is answered while the server's response still runs: the create waits.
    assert proto.receive({"type": "input_audio_buffer.committed", "item_id": "i2"}) == []
    sent = proto.receive(done("srv", "cancelled", [{"id": "item_srv", "type": "message"}]))
    assert types(sent) == ["conversation.item.delete", "response.create"]
    assert sent[0]["item_id"] == "item_srv"
    assert all(validate_client_event(e) is None for e in sent)
    proto.receive({"type": "response.created", "response": {"id": "ours"}})
    proto.receive(delta("ours", b"\x03\x00" * 50))
    proto.receive({"type": "response.output_text.delta", "response_id": "ours", "delta": "Ok."})
    proto.receive(done("ours"))
    assert proto.done and proto.status == "completed"
    assert audio == [b"\x03\x00" * 50]  # nothing of the server's own answer
    assert proto.reply_text == "Ok." and proto.server_responses == 1


def test_a_create_refused_in_a_race_with_the_servers_response_is_asked_again() -> None:
    proto, audio = committing()
    assert types(proto.receive({"type": "input_audio_buffer.committed"})) == ["response.create"]
    # The server had started one by itself a moment before: the created we see is its own,
    # and our create is refused.
    proto.receive({"type": "response.created", "response": {"id": "srv"}})
    sent = proto.receive({"type": "error", "error": {
        "type": "invalid_request_error", "code": "conversation_already_has_active_response",
        "message": "Conversation already has an active response in progress: srv."}})  # fmt: skip
    assert types(sent) == ["response.cancel"]
    assert proto.receive(delta("srv")) == []
    assert types(proto.receive(done("srv", "cancelled"))) == ["response.create"]
    proto.receive({"type": "response.created", "response": {"id": "ours"}})
    proto.receive(delta("ours", b"\x04\x00" * 10))
    proto.receive(done("ours"))
    assert proto.done and audio == [b"\x04\x00" * 10]


def test_an_error_about_our_cancel_of_a_finished_response_is_harmless() -> None:
    proto, _ = committing()
    (cancel,) = proto.receive({"type": "response.created", "response": {"id": "srv"}})
    assert proto.receive({"type": "error", "error": {
        "type": "invalid_request_error", "code": "response_cancel_not_active",
        "message": "no active response", "event_id": cancel["event_id"]}}) == []  # fmt: skip
    assert proto.phase is Phase.COMMITTING


def test_the_create_waits_for_the_transcript_and_gives_up_when_told() -> None:
    proto, _ = committing(await_transcript=1.5)
    assert proto.receive({"type": "input_audio_buffer.committed", "item_id": "i1"}) == []
    assert proto.phase is Phase.TRANSCRIBING
    sent = proto.receive({"type": "conversation.item.input_audio_transcription.completed",
                          "item_id": "i1", "transcript": "Привет"})  # fmt: skip
    assert types(sent) == ["response.create"] and proto.input_transcript == "Привет"

    late, _ = committing(await_transcript=1.5)
    late.receive({"type": "input_audio_buffer.committed", "item_id": "i1"})
    assert types(late.transcript_overdue()) == ["response.create"]
    assert late.transcript_overdue() == []  # once


def test_a_stop_while_waiting_for_the_transcript_ends_the_turn() -> None:
    proto, _ = committing(await_transcript=1.5)
    proto.receive({"type": "input_audio_buffer.committed", "item_id": "i1"})
    assert proto.stop() == [] and proto.done and proto.status == "cancelled"


def test_a_null_rate_echo_keeps_the_asked_rate_and_a_second_update_changes_nothing() -> None:
    proto = TurnProtocol(SessionConfig(voice="marina", instructions="i", output_rate=44_100))
    proto.receive({"type": "session.created", "session": {}})
    null = {"audio": {"output": {"format": {"type": "audio/pcm", "rate": None}}}}
    proto.receive({"type": "session.updated", "session": null})
    assert proto.output_rate == 44_100
    other = {"audio": {"output": {"format": {"type": "audio/pcm", "rate": 24_000}}}}
    proto.receive({"type": "session.updated", "session": other})
    assert proto.output_rate == 44_100


def test_history_quoted_in_one_user_item() -> None:
    proto = TurnProtocol(
        SessionConfig(voice="v", instructions="i", history=HISTORY, history_form="quoted")
    )
    sent = proto.receive({"type": "session.created", "session": {}})
    assert types(sent) == ["session.update", "conversation.item.create"]
    item = sent[1]["item"]
    assert item["role"] == "user" and item["content"][0]["type"] == "input_text"
    assert item["content"][0]["text"] == quote_history(HISTORY)
    assert "User: Как зовут кота?\nAssistant: Его зовут Барсик." in quote_history(HISTORY)
    assert validate_client_event(sent[1], "yandex-field") is None


def test_a_refused_assistant_item_without_an_event_id_is_context_rejected() -> None:
    proto = TurnProtocol(SessionConfig(voice="v", instructions="i", history=HISTORY))
    proto.receive({"type": "session.created", "session": {}})
    with pytest.raises(ContextRejected):
        proto.receive({"type": "error", "error": {
            "type": "server_error", "code": None,
            "message": "MessageContentItemOutputText not supported yet"}})  # fmt: skip


@pytest.mark.parametrize(
    ("message", "setting"),
    [
        ("Invalid model URI 'speech-realtime-250923'", "YANDEX_FOLDER_ID"),
        ("Runtime error: NOT_FOUND: Instance with model gpt://f/x not found", "REALTIME_MODEL"),
    ],
)
def test_errors_naming_the_model_are_configuration_errors(message: str, setting: str) -> None:
    proto = TurnProtocol(SessionConfig(voice="v", instructions="i"))
    with pytest.raises(RealtimeConfigError) as info:
        proto.receive({"type": "error", "error": {"type": "server_error", "code": None,
                                                  "message": message}})  # fmt: skip
    assert setting in info.value.setting and not info.value.transient


def test_a_refused_voice_is_a_configuration_error_and_other_server_errors_pass() -> None:
    proto = TurnProtocol(SessionConfig(voice="nobody", instructions="i"))
    (update,) = proto.receive({"type": "session.created", "session": {}})
    with pytest.raises(RealtimeConfigError) as info:
        proto.receive({"type": "error", "error": {
            "type": "invalid_request_error", "code": "invalid_value",
            "message": "Unknown voice 'nobody'", "param": "session.audio.output.voice",
            "event_id": update["event_id"]}})  # fmt: skip
    assert "DEFAULT_VOICE" in info.value.setting
    with pytest.raises(RealtimeServerError) as passing:
        TurnProtocol(SessionConfig(voice="v", instructions="i")).receive(
            {"type": "error", "error": {"type": "server_error", "message": "Internal error"}}
        )
    assert passing.value.transient
