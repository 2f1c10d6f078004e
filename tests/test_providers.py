"""Both providers, end to end against their strict stand-in profiles: the private voice turn,
the text turn and memory (OpenAI's transcript of the user's words arrives after response.done),
and a configured rate the provider does not accept stopping the bot with one line. The provider
table holds together, and a third provider is one entry of it."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import build_pipeline
from bot.config import Settings, load_settings
from bot.domain import TurnInput, TurnSetup
from bot.errors import ConfigError
from bot.provider_profiles import PROFILES, Auth, Profile, Voice
from bot.realtime.probe import RULES
from bot.realtime.providers import endpoint_from_settings, live_path, profile_for
from stand_ins.realtime import RealtimeStandIn, Scenario
from tests.audio_props import decode, dominant_hz, probe
from tests.bot_harness import running_bot
from tests.conftest import realtime_settings
from tests.test_e2e_process import bot_env

USER = 9191
BOTH = [
    pytest.param("yandex", marks=pytest.mark.realtime_profile("yandex"), id="yandex"),
    pytest.param("openai", marks=pytest.mark.realtime_profile("openai"), id="openai"),
]
RATE = {"yandex": 44_100, "openai": 24_000}
VOICE = {"yandex": "marina", "openai": "marin"}


@pytest.mark.parametrize("provider", BOTH)
async def test_a_voice_turn_then_a_text_turn_with_memory(
    provider: str, realtime: RealtimeStandIn, redis_url: str, audio_files: dict[str, Path]
) -> None:
    realtime.scenario = Scenario(
        reply_hz=880, reply_seconds=2.0, transcript="Where is the station?",
        reply_text="Two blocks north.",
    )  # fmt: skip
    async with running_bot(realtime, redis_url) as app:
        await app.services.settings_store.set(USER, transcript="on")
        app.api.push_message(
            "voice", chat_id=USER, user_id=USER, data=audio_files["voice.ogg"].read_bytes(),
            duration=3,
        )  # fmt: skip
        (sent,) = await app.api.wait_for("sendVoice", timeout=20)
        session = realtime.sessions[-1].session
        assert session["audio"]["output"]["format"]["rate"] == RATE[provider]
        assert session["audio"]["output"]["voice"] == VOICE[provider]
        voice = sent.files["voice"]
        info = probe(voice)
        assert (info.codec, info.channels) == ("opus", 1)
        assert abs(info.duration - 2.0) < 0.05
        assert abs(dominant_hz(decode(voice), 48_000) - 880) < 2
        # the user's words, even when the transcript came after response.done (openai)
        assert sent.params["caption"] == "🗣 Where is the station?\n\nTwo blocks north."

        realtime.scenario = Scenario(reply_text="About five minutes.")
        app.api.push_message("text", chat_id=USER, user_id=USER, text="And how long?")
        await app.api.wait_for("sendVoice", count=2, timeout=20)
        items = [
            e["item"] for e in realtime.sessions[-1].client_events
            if e["type"] == "conversation.item.create"
        ]  # fmt: skip
        said = [(i["role"], i["content"][0].get("text")) for i in items]
        if provider == "openai":
            assert said[:2] == [
                ("user", "Where is the station?"), ("assistant", "Two blocks north."),
            ]  # fmt: skip
        else:  # no assistant items for Yandex: the turn is quoted in one user item
            assert said[0][0] == "user"
            assert "User: Where is the station?\nAssistant: Two blocks north." in said[0][1]
        assert said[-1] == ("user", "And how long?")


@pytest.mark.realtime_profile("openai")
def test_openai_refuses_a_rate_other_than_24000(realtime: RealtimeStandIn) -> None:
    with pytest.raises(ConfigError, match="OUTPUT_SAMPLE_RATE"):
        profile_for(realtime_settings(realtime, output_sample_rate=44_100))
    assert profile_for(realtime_settings(realtime)).default_output_rate == 24_000


async def test_a_refused_rate_stops_the_bot_with_one_line(
    realtime: RealtimeStandIn, tmp_path: Path
) -> None:
    env = bot_env(realtime, REALTIME_PROVIDER="openai", OUTPUT_SAMPLE_RATE="44100",
                  BOT_TOKEN="123456:ABCDEFabcdef", TELEGRAM_API_URL="http://127.0.0.1:9",
                  DATA_DIR=str(tmp_path / "d"))  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    lines = [line for line in stderr.decode().splitlines() if "configuration error" in line]
    assert process.returncode == 2
    assert len(lines) == 1 and "OUTPUT_SAMPLE_RATE" in lines[0]
    assert "Traceback" not in stderr.decode()


@pytest.mark.parametrize("name", list(PROFILES))
def test_each_profile_holds_together(name: str) -> None:
    """What a profile names exists: settings, its defaults among what it accepts, an answer of
    its documentation for every question of the probe."""
    profile = PROFILES[name]
    assert profile.name == name
    fields = Settings.model_fields
    assert profile.url_fields and all(field in fields for field in profile.url_fields)
    assert profile.url_verbatim <= set(profile.url_fields)
    assert profile.auth and all(auth.setting in fields for auth in profile.auth)
    assert profile.default_output_rate in profile.output_rates
    assert profile.voice in profile.voices
    assert set(profile.turn_detections) <= {"server_vad", "semantic_vad", "manual"}
    assert set(profile.documented) == set(RULES)
    assert live_path(profile, None).history_form == profile.history_form


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Profile:
    """A third provider: one entry of the table, nothing else."""
    for name in ("REALTIME_PROVIDER", "REALTIME_API_KEY", "REALTIME_URL", "REALTIME_MODEL",
                 "DEFAULT_VOICE", "INPUT_TRANSCRIPTION_MODEL", "OUTPUT_SAMPLE_RATE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    profile = Profile(
        name="acme",
        url="wss://realtime.acme.example/v1/realtime?model={realtime_model}",
        auth=(Auth("realtime_api_key", "Token", header="X-Api-Key"),),
        model="acme voice/1",
        voice="ada",
        transcription_model="acme-transcribe",
        output_rates=(24000,),
        default_output_rate=24000,
        turn_detections=("server_vad", "manual"),
        output_modalities=("audio",),
        voices={"ada": Voice("en", "F")},
    )
    monkeypatch.setitem(PROFILES, "acme", profile)
    return profile


def test_a_third_provider_is_one_table_entry(acme: Profile) -> None:
    settings = load_settings(realtime_provider="acme", realtime_api_key="k-123", _env_file=None)
    assert (settings.realtime_model, settings.default_voice) == ("acme voice/1", "ada")
    assert settings.input_transcription_model == "acme-transcribe"
    endpoint = endpoint_from_settings(settings)
    assert endpoint.url == "wss://realtime.acme.example/v1/realtime?model=acme%20voice%2F1"
    assert endpoint.headers == {"X-Api-Key": "Token k-123"}
    assert endpoint.provider == "acme" and "k-123" not in repr(endpoint)
    assert profile_for(settings) is acme
    assert dict(PROFILES["acme"].voices) == {"ada": ("en", "F", ())}
    with pytest.raises(ConfigError, match=r"^REALTIME_API_KEY is not set$"):
        endpoint_from_settings(load_settings(realtime_provider="acme", _env_file=None))
    wrong_rate = load_settings(realtime_provider="acme", output_sample_rate=44_100, _env_file=None)
    with pytest.raises(ConfigError, match="OUTPUT_SAMPLE_RATE: acme accepts 24000"):
        profile_for(wrong_rate)
    with pytest.raises(ConfigError, match=r"^REALTIME_PROVIDER: .*yandex, openai, acme"):
        load_settings(realtime_provider="initech", _env_file=None)


@pytest.mark.realtime_profile("openai")
async def test_a_third_provider_answers_a_turn(
    acme: Profile, realtime: RealtimeStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider speaking the protocol as OpenAI does (the stand-in plays OpenAI): the table
    entry is all the bot needs to answer through it."""
    monkeypatch.setitem(PROFILES, "acme", replace(acme, auth=(Auth("realtime_api_key", "Bearer"),)))
    realtime.scenario = Scenario(reply_text="Hello from acme.", reply_seconds=0.5)
    pipeline = build_pipeline(realtime_settings(realtime, realtime_provider="acme"))
    result = await pipeline.run(
        TurnInput(text="Hi", label="acme"), TurnSetup(voice="marin", instructions="Be brief.")
    )
    assert result.text == "Hello from acme."
    assert abs(result.voice_seconds - 0.5) < 0.05
    session = realtime.sessions[-1]
    assert session.invalid == []
    assert session.session["audio"]["input"]["transcription"] == {"model": "acme-transcribe"}
