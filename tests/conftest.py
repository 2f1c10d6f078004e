"""Shared fixtures: real redis-server, test audio made by ffmpeg, the protocol stand-ins."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import build_pipeline
from bot.config import Settings, load_settings
from bot.core.pipeline import TurnPipeline
from stand_ins.media import make
from stand_ins.realtime import ProfileName, RealtimeStandIn
from stand_ins.redis import RedisServer

API_KEY = "test-key"
# Runs the unmarked tests against another provider's stand-in profile, e.g. openai.
PROFILE_ENV = "REALTIME_STAND_IN_PROFILE"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realtime_profile(name): the provider the `realtime` fixture's stand-in plays, "
        "'yandex' (the default, the bot's default provider) or 'openai'",
    )
    config.addinivalue_line(
        "markers",
        "allow_invalid_client_events: the test sends client events the realtime profile refuses "
        "on purpose, so the `realtime` fixture does not fail it for them",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError(f"{', '.join(missing)} not found: run the README's test command")


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs made by the real ffmpeg command (tests/data/make_audio.py)."""
    return make(tmp_path_factory.mktemp("audio"))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


def realtime_profile(request: pytest.FixtureRequest) -> ProfileName:
    """The profile a test asks for with ``@pytest.mark.realtime_profile(...)``; unmarked tests
    get ``REALTIME_STAND_IN_PROFILE`` (to run the suite against another provider), else yandex."""
    marker = request.node.get_closest_marker("realtime_profile")
    name = marker.args[0] if marker is not None else os.environ.get(PROFILE_ENV, "yandex")
    if name == "openai":
        return "openai"
    if name != "yandex":
        raise pytest.UsageError(f"unknown realtime profile {name!r}: yandex or openai")
    return "yandex"


@pytest.fixture
async def realtime(request: pytest.FixtureRequest) -> AsyncIterator[RealtimeStandIn]:
    """The Realtime stand-in, playing the test's profile (see `realtime_profile`).

    At teardown it fails the test when a client sent an event the profile refuses, unless the
    test is marked ``allow_invalid_client_events``.
    """
    async with RealtimeStandIn(api_key=API_KEY, profile=realtime_profile(request)) as server:
        yield server
    if request.node.get_closest_marker("allow_invalid_client_events") is None:
        server.assert_valid_client_events()


MODEL_QUERY = {
    "yandex": "?model=gpt://folder/speech-realtime-250923",
    "openai": "?model=gpt-realtime",
}


def realtime_settings(realtime: RealtimeStandIn, **overrides: object) -> Settings:
    """Settings that reach the stand-in as its profile's provider."""
    values: dict[str, object] = {
        "realtime_provider": realtime.profile.name,
        "realtime_api_key": API_KEY,
        "realtime_url": realtime.url + MODEL_QUERY[realtime.profile.name],
        "yandex_folder_id": "folder",
        "event_timeout": 5.0,
        "turn_timeout": 20.0,
        "connect_timeout": 5.0,
        "redis_url": "",
        "bot_token": None,
        "_env_file": None,
    }
    values.update(overrides)
    return load_settings(**values)


def make_pipeline(settings: Settings) -> TurnPipeline:
    return build_pipeline(settings)
