"""The bot against Yandex's service as live clients saw it (the stand-in's ``yandex-field``
profile): memory without assistant items, pauses that never split a note, long answers without
pings, null rate echoes, text on part 0, configuration errors never retried, quotas refused by an
error event. Each open question is tried both ways; the bot must pass both."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bot.config import load_settings
from bot.domain import TurnInput, TurnSetup
from bot.errors import RealtimeConfigError
from bot.realtime.turn import TurnPipeline
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.audio_props import decode, dominant_hz, probe
from tests.bot_harness import RunningBot, running_bot
from tests.conftest import API_KEY, make_pipeline, realtime_settings
from tests.test_pipeline import file_turn

pytestmark = pytest.mark.realtime_profile("yandex-field")

USER = 7070
OWNER = 7099


async def ask(pipeline: TurnPipeline, turn: TurnInput):
    return await pipeline.run(turn, TurnSetup(voice="marina", instructions="Answer briefly."))


def items_of(session) -> list[dict]:
    return [e["item"] for e in session.client_events if e["type"] == "conversation.item.create"]


async def voice_turn(app: RunningBot, ogg: bytes, count: int, chat: int = USER) -> None:
    app.api.push_message("voice", chat_id=chat, user_id=chat, data=ogg, duration=3)
    await app.api.wait_for("sendVoice", count=count, timeout=20)


def notices_to(app: RunningBot, chat: int) -> list[str]:
    return [
        c.params["text"]
        for c in app.api.calls_of("sendMessage")
        if int(c.params["chat_id"]) == chat and c.ok
    ]


async def test_a_reply_at_a_null_rate_echo_and_text_on_part_zero(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    # session.updated twice with rates null; text only as output_text on part 0: the reply is
    # encoded at the rate asked (44.1 kHz) and its text taken from output_text.
    realtime.scenario = Scenario(reply_hz=880, reply_seconds=2.0, reply_text="Погода хорошая.")
    result = await ask(
        make_pipeline(realtime_settings(realtime)), file_turn(audio_files["voice.ogg"])
    )
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert session.server_event_types.count("session.updated") == 2
    assert "response.output_audio_transcript.delta" not in session.server_event_types
    assert "conversation.item.created" in session.server_event_types
    assert abs(probe(result.voice).duration - 2.0) < 0.05
    assert abs(dominant_hz(decode(result.voice), 48_000) - 880) < 2
    assert result.text == "Погода хорошая."
    assert session.answered_without_input == 0  # it waited for the input's transcript


async def test_a_create_right_after_the_commit_is_answered_as_if_nothing_was_said(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    # The other side, proving the test above can fail: without the wait for the transcript,
    # this server answers a greeting instead of the question.
    pipeline = make_pipeline(realtime_settings(realtime))
    pipeline.adopt("quoted", 0.0)
    await ask(pipeline, file_turn(audio_files["voice.ogg"]))
    await realtime.wait_sessions(1)
    assert realtime.sessions[0].answered_without_input == 1


async def test_a_create_is_answered_at_once_where_the_server_allows_it(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    realtime.scenario = Scenario(create_needs_transcript=False, transcript_delay=5.0)
    pipeline = make_pipeline(realtime_settings(realtime))
    pipeline.adopt("quoted", 0.0)  # as a probe that found create_after_commit would
    started = asyncio.get_running_loop().time()
    result = await ask(pipeline, file_turn(audio_files["voice.ogg"]))
    assert asyncio.get_running_loop().time() - started < 3.0  # no wait for the late transcript
    assert result.voice and realtime.sessions[0].answered_without_input == 0


async def test_a_transcript_that_never_comes_delays_the_answer_only_briefly(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    realtime.scenario = Scenario(transcript=None, create_needs_transcript=False)
    started = asyncio.get_running_loop().time()
    result = await ask(
        make_pipeline(realtime_settings(realtime)), file_turn(audio_files["voice.ogg"])
    )
    assert result.voice
    assert asyncio.get_running_loop().time() - started < 1.5 + 2.0


@pytest.mark.parametrize("honoured", [False, True])
async def test_a_note_with_pauses_gets_one_answer_to_the_whole_note(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], honoured: bool
) -> None:
    # Whether or not the server honours create_response: false, its voice detection never
    # sees a pause long enough to answer by itself.
    realtime.scenario = Scenario(honours_create_response=honoured, reply_seconds=1.0)
    result = await ask(
        make_pipeline(realtime_settings(realtime)), file_turn(audio_files["pause.ogg"])
    )
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert session.vad_responses == 0 and session.responses == 1
    assert session.committed_chunks == 1
    assert abs(result.voice_seconds - 1.0) < 0.05
    assert abs(result.input_seconds - 3.6) < 0.06  # the 1 s pause sent as 0.6 s


@pytest.mark.parametrize("cancel_honoured", [False, True])
async def test_a_response_the_server_starts_itself_never_reaches_the_user(
    realtime: RealtimeStandIn, audio_files: dict[str, Path], cancel_honoured: bool
) -> None:
    # Without the pause cap and with a short detection silence, the server answers the first
    # half by itself: that answer is cancelled (or, where cancel is ignored, waited out) and
    # ignored; the user's one answer is to the whole note.
    realtime.scenario = Scenario(
        cancel_honoured=cancel_honoured, reply_seconds=1.5, realtime_factor=4.0
    )
    pipeline = make_pipeline(realtime_settings(realtime, max_pause_seconds=0, vad_silence_ms=200))
    result = await ask(pipeline, file_turn(audio_files["pause.ogg"]))
    await realtime.wait_sessions(1)
    session = realtime.sessions[0]
    assert session.vad_responses >= 1
    assert "response.cancel" in session.event_types
    assert session.event_types.count("response.create") == 1
    assert abs(result.voice_seconds - 1.5) < 0.05  # one reply's audio, not two
    assert session.cancels_ignored == (0 if cancel_honoured else 1)
    assert session.invalid == []


async def test_memory_reaches_the_model_quoted_and_is_never_refused(
    realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path]
) -> None:
    realtime.scenario = Scenario(transcript="Как зовут мою собаку?", reply_text="Её зовут Жучка.")
    ogg = audio_files["voice.ogg"].read_bytes()
    async with running_bot(realtime, redis_url) as app:
        for n in (1, 2, 3):
            await voice_turn(app, ogg, n)
        third = items_of(realtime.sessions[-1])
        assert [item["role"] for item in third] == ["user"]
        quoted = third[0]["content"][0]["text"]
        assert quoted.count("User: Как зовут мою собаку?") == 2
        assert quoted.count("Assistant: Её зовут Жучка.") == 2
        assert len(realtime.sessions) == 3  # no session refused, none tried again
        assert not any("could not answer" in t for t in notices_to(app, USER))


async def test_native_items_refused_turn_into_quoted_memory_at_once(
    realtime: RealtimeStandIn,
    redis_url: str,
    audio_files: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A deployment told (wrongly) that assistant items are accepted: the first refusal (and the
    # dropped session) switches this process to the quoted form; the turn is still answered.
    ogg = audio_files["voice.ogg"].read_bytes()
    async with running_bot(realtime, redis_url) as app:
        app.services.answering.pipeline.adopt("items", 1.5)
        await voice_turn(app, ogg, 1)
        await voice_turn(app, ogg, 2)
        refused = realtime.sessions[1]
        assert any("MessageContentItemOutputText" in r for r in refused.invalid)
        assert [i["role"] for i in items_of(realtime.sessions[2])] == ["user"]
        await voice_turn(app, ogg, 3)
        assert [i["role"] for i in items_of(realtime.sessions[3])] == ["user"]
        assert len(realtime.sessions) == 4
        assert any("quoting it from now on" in r.message for r in caplog.records)
    # The refusal was provoked on purpose: the fixture must not fail the test for it.
    realtime.sessions[1].invalid.clear()


async def test_no_keepalive_pings_and_an_event_timeout_that_fits_live_delays(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    # The field server never answers pings: the client sends none, so a long answer is not cut
    # by a missing pong; silence is guarded by EVENT_TIMEOUT, which fits the 21.5 s seen live.
    assert load_settings(_env_file=None).event_timeout >= 30
    realtime.scenario = Scenario(reply_seconds=3.0, realtime_factor=1.0, time_to_first_audio=1.0)
    result = await ask(
        make_pipeline(realtime_settings(realtime)), file_turn(audio_files["voice.ogg"])
    )
    await realtime.wait_sessions(1)
    assert realtime.sessions[0].pings_received == 0
    assert abs(result.voice_seconds - 3.0) < 0.05


async def test_a_client_that_pings_is_cut_off_by_the_field_server(
    realtime: RealtimeStandIn,
) -> None:
    # What the bot avoids: with keepalive on, the unanswered pings end the connection.
    async with connect(
        realtime.url + "?model=gpt://folder/speech-realtime-250923",
        additional_headers={"Authorization": f"Api-Key {API_KEY}"},
        ping_interval=0.2, ping_timeout=0.3,
    ) as ws:  # fmt: skip
        with pytest.raises(ConnectionClosed, match=r"1011|keepalive|ping"):
            await _read_until_closed(ws)


async def _read_until_closed(ws: ClientConnection) -> None:
    async with asyncio.timeout(5):
        while True:
            await ws.recv()


@pytest.mark.parametrize(
    ("query", "setting"),
    [("?model=speech-realtime-250923", "YANDEX_FOLDER_ID"),
     ("?model=gpt://folder/speech-realtime-999999", "REALTIME_MODEL")],
)  # fmt: skip
async def test_a_refused_model_is_not_tried_again_and_the_owner_is_told_once(
    realtime: RealtimeStandIn,
    redis_url: str,
    audio_files: dict[str, Path],
    query: str,
    setting: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ogg = audio_files["voice.ogg"].read_bytes()
    url = realtime.url + query
    with caplog.at_level(logging.INFO):
        async with running_bot(realtime, redis_url, realtime_url=url, admin_ids=str(OWNER)) as app:
            for n, chat in enumerate((USER, USER + 1), start=1):
                app.api.push_message("voice", chat_id=chat, user_id=chat, data=ogg, duration=3)
                await app.api.wait_for(
                    "sendMessage", timeout=20,
                    predicate=lambda c, chat=chat: int(c.params["chat_id"]) == chat,
                )  # fmt: skip
                assert len(realtime.sessions) == n  # one session per turn: never tried again
            for chat in (USER, USER + 1):
                assert any("setup problem" in t for t in notices_to(app, chat))
            told = notices_to(app, OWNER)
            assert len(told) == 1 and setting in told[0]
    lines = [r.message for r in caplog.records if "RealtimeConfigError" in r.message]
    assert len(lines) == 2  # one line per failed turn, no retries
    assert API_KEY not in caplog.text


async def test_a_pipeline_names_the_model_settings_for_an_invalid_uri(
    realtime: RealtimeStandIn, audio_files: dict[str, Path]
) -> None:
    pipeline = make_pipeline(
        realtime_settings(realtime, realtime_url=realtime.url + "?model=nonsense")
    )
    with pytest.raises(RealtimeConfigError) as info:
        await ask(pipeline, file_turn(audio_files["voice.ogg"]))
    assert "Invalid model URI" in str(info.value)
    assert "REALTIME_MODEL" in info.value.setting


async def test_a_quota_refused_by_an_error_event_is_tried_again_when_room_frees(
    redis_url: str, audio_files: dict[str, Path]
) -> None:
    # Past the quota, this server accepts the handshake and then refuses the session with an
    # error event and close 1013 (not HTTP 429): a passing refusal, tried again a moment later.
    ogg = audio_files["voice.ogg"].read_bytes()
    async with (
        RealtimeStandIn(api_key=API_KEY, profile="yandex-field", max_sessions=1) as server,
        running_bot(server, redis_url) as app,
    ):
        async with connect(
            server.url + "?model=gpt://folder/speech-realtime-250923",
            additional_headers={"Authorization": f"Api-Key {API_KEY}"}, ping_interval=None,
        ) as holder:  # fmt: skip
            await holder.recv()  # session.created: the one session the quota allows
            app.api.push_message("voice", chat_id=USER, user_id=USER, data=ogg, duration=3)
            await server.wait_sessions(2, timeout=10)  # the bot's first try, refused
            assert server.sessions[1].close_code == 1013
        (call,) = await app.api.wait_for("sendVoice", timeout=20)
        assert probe(call.files["voice"]).codec == "opus"
        assert not notices_to(app, USER)  # the user heard of no failure
        server.assert_valid_client_events()
