"""The function-call loop of a turn, without a socket: calls run by the client, their outputs
sent back, the next response asked for, until a response calls nothing."""

from __future__ import annotations

import base64
import json

import pytest

from bot.domain import ToolCall
from bot.errors import RealtimeResponseFailed
from bot.realtime.protocol import ROUNDS_EXCEEDED, Phase, SessionConfig, TurnProtocol
from stand_ins.realtime import validate_client_event

PCM_1S = b"\x01\x00" * 24_000
TOOLS = (
    {
        "type": "function",
        "name": "set_reminder",
        "description": "Remind the user later.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
    {"type": "function", "name": "web_search", "description": "Search.", "parameters": "{}"},
)


def answering(max_tool_rounds: int = 4, **config: object) -> tuple[TurnProtocol, list[bytes]]:
    """A text turn whose first response.create has been sent."""
    audio: list[bytes] = []
    proto = TurnProtocol(
        SessionConfig(
            voice="marina",
            instructions="i",
            tools=TOOLS,
            server_tools=frozenset({"web_search"}),
            max_tool_rounds=max_tool_rounds,
            **config,  # type: ignore[arg-type]
        )
    )
    proto.on_audio = audio.append
    proto.receive({"type": "session.created"})
    sent = proto.add_text("remind me") + proto.end_input()
    assert [e["type"] for e in sent] == ["conversation.item.create", "response.create"]
    return proto, audio


def call_events(call_id: str, name: str, arguments: dict[str, object]) -> list[dict]:
    args = json.dumps(arguments)
    item = {"type": "function_call", "call_id": call_id, "name": name, "arguments": args}
    return [
        {"type": "response.function_call_arguments.delta", "call_id": call_id, "delta": args[:5]},
        {
            "type": "response.function_call_arguments.done",
            "call_id": call_id,
            "name": name,
            "arguments": args,
        },
        {"type": "response.output_item.done", "item": item},
    ]


def speak(proto: TurnProtocol, text: str, pcm: bytes = PCM_1S) -> None:
    proto.receive({"type": "response.output_audio.delta", "delta": base64.b64encode(pcm).decode()})
    proto.receive({"type": "response.output_audio_transcript.delta", "delta": text})


def done(proto: TurnProtocol, tokens: int = 10) -> list[dict]:
    usage = {"input_tokens": tokens, "output_tokens": tokens * 2,
             "output_token_details": {"audio_tokens": tokens}}  # fmt: skip
    return proto.receive({"type": "response.done", "response": {"status": "completed",
                                                                "usage": usage}})  # fmt: skip


def test_session_update_declares_the_tools_as_given() -> None:
    proto = TurnProtocol(SessionConfig(voice="marina", instructions="i", tools=TOOLS))
    update = proto.receive({"type": "session.created"})[0]
    assert update["session"]["tools"] == list(TOOLS)
    assert validate_client_event(update, "yandex") is None


def test_a_call_is_run_answered_and_the_next_response_asked() -> None:
    proto, audio = answering()
    speak(proto, "One moment.")
    for event in call_events("call_1", "set_reminder", {"text": "call mum"}):
        assert proto.receive(event) == []
    assert done(proto, 10) == []
    assert proto.phase is Phase.CALLING and not proto.done
    assert proto.calls_due == [ToolCall("call_1", "set_reminder", '{"text": "call mum"}')]

    sent = proto.answer_calls([(proto.calls_due[0], '{"ok": true}')])
    assert [e["type"] for e in sent] == ["conversation.item.create", "response.create"]
    assert sent[0]["item"] == {
        "type": "function_call_output", "call_id": "call_1", "output": '{"ok": true}'
    }  # fmt: skip
    for event in sent:
        assert validate_client_event(event, "openai") is None
    assert proto.phase is Phase.RESPONDING and proto.calls_due == []

    speak(proto, "Done, I will remind you.", PCM_1S[:4800])
    assert done(proto, 5) == []
    assert proto.done and proto.status == "completed"
    # Both responses' words and audio, and their usage summed.
    assert proto.reply_text == "One moment. Done, I will remind you."
    assert b"".join(audio) == PCM_1S + PCM_1S[:4800]
    assert proto.usage.input_tokens == 15 and proto.usage.output_tokens == 30
    assert proto.usage.output_audio_tokens == 15
    assert proto.tool_rounds == 1 and proto.tool_calls == 1


def test_several_calls_in_one_response_are_due_together_once_each() -> None:
    proto, _ = answering()
    for event in call_events("a", "set_reminder", {"text": "x"}) + call_events(
        "b", "set_reminder", {"text": "y"}
    ):
        proto.receive(event)
    done(proto)
    assert [c.call_id for c in proto.calls_due] == ["a", "b"]
    sent = proto.answer_calls([(c, "ok") for c in proto.calls_due])
    assert [e.get("item", {}).get("call_id") for e in sent[:2]] == ["a", "b"]
    assert sent[2]["type"] == "response.create"


def test_calls_the_provider_runs_itself_are_never_answered() -> None:
    proto, _ = answering()
    for event in call_events("s", "web_search", {}):
        proto.receive(event)
    speak(proto, "It is sunny in Kazan.")
    assert done(proto) == []
    assert proto.done and proto.calls_due == [] and proto.tool_calls == 0


def test_rounds_are_bounded_and_then_the_turn_ends() -> None:
    proto, _ = answering(max_tool_rounds=2)
    for n in range(2):
        proto.receive(call_events(f"c{n}", "set_reminder", {})[1])
        done(proto)
        assert proto.phase is Phase.CALLING
        proto.answer_calls([(c, "ok") for c in proto.calls_due])
    # A third round is not run: the model is told to answer now.
    proto.receive(call_events("c2", "set_reminder", {})[1])
    sent = done(proto)
    assert [e["type"] for e in sent] == ["conversation.item.create", "response.create"]
    assert sent[0]["item"]["output"] == ROUNDS_EXCEEDED and proto.phase is Phase.RESPONDING
    assert proto.tool_calls == 2
    # Still calling: the turn ends with what it has.
    speak(proto, "Sorry.")
    proto.receive(call_events("c3", "set_reminder", {})[1])
    assert done(proto) == []
    assert proto.done and proto.reply_text == "Sorry."


def test_stop_while_tools_run_ends_the_turn_and_sends_nothing_more() -> None:
    proto, _ = answering()
    speak(proto, "Let me see.")
    proto.receive(call_events("c", "set_reminder", {})[1])
    done(proto)
    call = proto.calls_due[0]
    assert proto.stop() == []
    assert proto.done and proto.stopped and proto.status == "cancelled"
    assert proto.answer_calls([(call, "ok")]) == []
    assert proto.reply_text == "Let me see."


def test_a_failed_response_with_calls_is_not_run() -> None:
    proto, _ = answering()
    proto.receive(call_events("c", "set_reminder", {})[1])
    with pytest.raises(RealtimeResponseFailed):
        proto.receive({"type": "response.done", "response": {"status": "failed"}})
    assert proto.calls_due == [] and proto.tool_calls == 0


def test_a_call_listed_only_in_response_done_is_still_run() -> None:
    proto, _ = answering()
    item = {"type": "function_call", "call_id": "late", "name": "set_reminder", "arguments": "{}"}
    message = {"type": "message", "role": "assistant", "content": []}
    proto.receive(
        {"type": "response.done", "response": {"status": "completed", "output": [message, item]}}
    )
    assert proto.phase is Phase.CALLING
    assert proto.calls_due == [ToolCall("late", "set_reminder", "{}")]


def test_a_provider_tool_call_left_unanswered_by_the_provider_is_answered_here() -> None:
    # A response that only calls web_search and says nothing: the provider did not run it.
    proto, _ = answering()
    proto.receive(call_events("s", "web_search", {"query": "news"})[1])
    done(proto)
    assert proto.phase is Phase.CALLING
    assert proto.calls_due == [ToolCall("s", "web_search", '{"query": "news"}')]
    # One that spoke besides (the provider searched and answered): nothing to answer.
    proto.answer_calls([(proto.calls_due[0], '{"error": "unavailable"}')])
    proto.receive(call_events("t", "web_search", {})[1])
    speak(proto, "Here is the news.")
    assert done(proto) == [] and proto.done
