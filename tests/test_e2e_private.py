"""A private chat, end to end: real dispatcher, Bot API and Realtime stand-ins, real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stand_ins.bot_api import MessageKind
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.audio_props import decode, dominant_hz, pcm16_samples, probe
from tests.bot_harness import RunningBot, running_bot

# Against Yandex as documented and as live clients saw it (stand_ins/README.md).
pytestmark = pytest.mark.yandex_variants

USER = 1001


@pytest.fixture
async def app(realtime: RealtimeStandIn, redis_url: str) -> AsyncIterator[RunningBot]:
    async with running_bot(realtime, redis_url) as running:
        yield running


def texts_to(app: RunningBot, chat_id: int) -> list[str]:
    return [
        c.params.get("text", "")
        for c in app.api.calls_of("sendMessage")
        if int(c.params["chat_id"]) == chat_id
    ]


async def test_voice_note_is_answered_with_voice_and_caption(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    app.realtime.scenario = Scenario(reply_hz=880, reply_seconds=3.0, reply_text="Ответ готов.")
    update = app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(), duration=3,
        language_code="ru",
    )  # fmt: skip
    (call,) = await app.api.wait_for("sendVoice", timeout=15)
    message_id = update["message"]["message_id"]
    assert call.params["reply_parameters"]["message_id"] == message_id
    assert call.params["caption"] == "Ответ готов."
    assert int(call.params["duration"]) == 3
    voice = call.files["voice"]
    info = probe(voice)
    assert (info.format_name, info.codec, info.channels, info.sample_rate) == (
        "ogg", "opus", 1, 48_000,
    )  # fmt: skip
    assert abs(info.duration - 3.0) < 0.05
    assert abs(dominant_hz(decode(voice), 48_000) - 880) < 2
    actions = [c.params["action"] for c in app.api.calls_of("sendChatAction")]
    assert "record_voice" in actions
    # the model heard the user's 440 Hz tone at 24 kHz, with the chat's default voice
    session = app.realtime.sessions[-1]
    assert abs(dominant_hz(pcm16_samples(session.input_pcm), 24_000) - 440) < 2
    assert session.session["audio"]["output"]["voice"] == "marina"
    assert session.invalid == []


@pytest.mark.parametrize(("name", "kind"), [
    ("song.mp3", "audio"), ("circle.mp4", "video_note"), ("circle.mp4", "video"),
    ("memo.m4a", "document"),
])  # fmt: skip
async def test_every_audio_kind_is_answered(
    app: RunningBot, audio_files: dict[str, Path], name: str, kind: MessageKind
) -> None:
    data = audio_files[name].read_bytes()
    if kind == "document":
        app.api.push_message(kind, chat_id=USER, user_id=USER, data=data, mime_type="audio/mp4",
                             file_name=name)  # fmt: skip
    else:
        app.api.push_message(kind, chat_id=USER, user_id=USER, data=data, duration=2)
    (call,) = await app.api.wait_for("sendVoice", timeout=15)
    assert probe(call.files["voice"]).codec == "opus"
    assert abs(dominant_hz(pcm16_samples(app.realtime.sessions[-1].input_pcm), 24_000) - 440) < 2


async def test_text_message_is_answered_with_voice(app: RunningBot) -> None:
    app.api.push_message("text", chat_id=USER, user_id=USER, text="What is 2+2?")
    (call,) = await app.api.wait_for("sendVoice", timeout=15)
    assert probe(call.files["voice"]).codec == "opus"
    created = [
        e
        for e in app.realtime.sessions[-1].client_events
        if e["type"] == "conversation.item.create"
    ]
    assert created[0]["item"]["content"][0]["text"] == "What is 2+2?"


async def test_long_answer_follows_the_voice_as_text_split_at_sentences(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    long_text = " ".join(f"Sentence number {i} is here." for i in range(300))
    app.realtime.scenario = Scenario(reply_text=long_text)
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(), duration=3
    )
    (voice,) = await app.api.wait_for("sendVoice", timeout=15)
    assert not voice.params.get("caption")
    sent = await app.api.wait_for("sendMessage", count=3, timeout=10)
    assert len(app.api.calls_of("sendMessage")) == 3
    assert all(len(c.params["text"]) <= 4096 for c in sent)
    assert all(c.params["text"].endswith(".") for c in sent)
    assert " ".join(c.params["text"] for c in sent) == long_text
    assert sent[0].params["reply_parameters"]["message_id"] == voice.result["message_id"]


@pytest.mark.parametrize(
    ("name", "lang", "expected"),
    [
        ("silent.ogg", "en", "could not hear anything"),
        ("silent.ogg", "ru", "ничего не услышал"),
        ("corrupt.ogg", "en", "damaged"),
        ("mute.mp4", "en", "no sound"),
    ],
)
async def test_bad_audio_gets_a_clear_message_and_no_model_call(
    app: RunningBot, audio_files: dict[str, Path], name: str, lang: str, expected: str
) -> None:
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files[name].read_bytes(), duration=3,
        language_code=lang,
    )  # fmt: skip
    (call,) = await app.api.wait_for("sendMessage", timeout=15)
    assert expected in call.params["text"]
    assert not app.api.calls_of("sendVoice")
    assert all("response.create" not in s.event_types for s in app.realtime.sessions)


async def test_limits_from_metadata_refuse_before_download(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    data = audio_files["voice.ogg"].read_bytes()
    app.api.push_message("voice", chat_id=USER, user_id=USER, data=data, duration=600)
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=data, duration=3, file_size=50_000_000
    )
    app.api.push_message(
        "document", chat_id=USER, user_id=USER, data=b"%PDF-1.4", mime_type="application/pdf",
        file_name="x.pdf",
    )  # fmt: skip
    sent = await app.api.wait_for("sendMessage", count=3, timeout=15)
    texts = " | ".join(c.params["text"] for c in sent)
    assert "too long (600 s)" in texts
    assert "too large (50 MB)" in texts
    assert "no sound" in texts
    assert not app.api.calls_of("getFile")
    assert not app.realtime.sessions


async def test_decoded_length_is_checked_when_metadata_lies(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["long.ogg"].read_bytes(), duration=5
    )
    (call,) = await app.api.wait_for("sendMessage", timeout=15)
    assert "too long (130 s)" in call.params["text"]


async def test_model_failure_is_told_and_the_bot_keeps_answering(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    data = audio_files["voice.ogg"].read_bytes()
    app.realtime.scenario = Scenario(failure="drop_mid_response")
    app.api.push_message("voice", chat_id=USER, user_id=USER, data=data, duration=3)
    (call,) = await app.api.wait_for("sendMessage", timeout=15)
    assert "not reachable" in call.params["text"]
    app.realtime.scenario = Scenario()
    app.api.push_message("voice", chat_id=USER, user_id=USER, data=data, duration=3)
    await app.api.wait_for("sendVoice", timeout=15)


async def test_refused_key_is_told_politely(app: RunningBot, audio_files: dict[str, Path]) -> None:
    app.realtime.scenario = Scenario(failure="reject_401")
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(), duration=3
    )
    (call,) = await app.api.wait_for("sendMessage", timeout=15)
    assert "setup problem" in call.params["text"]
    assert "test-key" not in call.params["text"]


async def test_flood_control_is_waited_out(app: RunningBot, audio_files: dict[str, Path]) -> None:
    app.api.fail_next("sendVoice", error_code=429, description="Too Many Requests: retry after 1",
                      retry_after=1)  # fmt: skip
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(), duration=3
    )
    calls = await app.api.wait_for("sendVoice", count=2, timeout=15)
    assert calls[1].t - calls[0].t >= 0.9
    assert calls[1].ok


async def test_blocked_bot_is_skipped_quietly(
    app: RunningBot, audio_files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    app.api.fail_next("sendVoice", error_code=403,
                      description="Forbidden: bot was blocked by the user")  # fmt: skip
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(), duration=3
    )
    await app.api.wait_for("sendVoice", timeout=15)
    app.api.push_message("text", chat_id=USER, user_id=USER, text="/settings")
    await app.api.wait_for("sendMessage", timeout=10)  # still running
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_stickers_get_a_hint(app: RunningBot) -> None:
    update = app.api.push_message("text", chat_id=USER, user_id=USER, text="x")
    update["message"].pop("text")
    update["message"]["sticker"] = {
        "file_id": "s", "file_unique_id": "s", "type": "regular", "width": 512, "height": 512,
        "is_animated": False, "is_video": False,
    }  # fmt: skip
    (call,) = await app.api.wait_for("sendMessage", timeout=10)
    assert "voice notes" in call.params["text"]


async def test_forwarded_voice_note_is_answered(
    app: RunningBot, audio_files: dict[str, Path]
) -> None:
    origin = {"forward_origin": {"type": "hidden_user", "sender_user_name": "Someone",
                                 "date": 1700000000}}  # fmt: skip
    app.api.push_message(
        "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(), duration=3,
        extra=origin,
    )  # fmt: skip
    await app.api.wait_for("sendVoice", timeout=15)
