"""Shared fixtures: real redis-server, test audio made by ffmpeg, the protocol stand-ins."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest

from bot.app import build_pipeline
from bot.config import Settings, load_settings
from bot.realtime.turn import TurnPipeline
from stand_ins.media import make
from stand_ins.realtime import PROFILES, ProfileName, RealtimeStandIn
from stand_ins.redis import RedisServer

API_KEY = "test-key"
# Runs the unmarked tests against another stand-in profile, e.g. openai or yandex-field.
PROFILE_ENV = "REALTIME_STAND_IN_PROFILE"
# The profiles a test marked `yandex_variants` runs against, one test id each.
YANDEX_VARIANTS: tuple[ProfileName, ...] = ("yandex", "yandex-field")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realtime_profile(name): the profile the `realtime` fixture's stand-in plays, "
        "'yandex' (the default, the bot's default provider), 'yandex-field' (Yandex as live "
        "clients saw it) or 'openai'",
    )
    config.addinivalue_line(
        "markers",
        "yandex_variants: run the test once per Yandex profile of the `realtime` fixture, "
        "'yandex' and 'yandex-field' (ids [yandex] and [yandex-field]); a realtime_profile "
        "marker wins over it",
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
    """Inputs made by the real ffmpeg command (stand_ins/media.py)."""
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``yandex_variants`` (on the test, its class or its module) that uses the
    `realtime` fixture runs once per Yandex profile, the fixture parametrized indirectly;
    one that also names a profile with ``realtime_profile`` keeps that one."""
    if "realtime" not in metafunc.fixturenames:
        return
    node = metafunc.definition
    if node.get_closest_marker("yandex_variants") is None:
        return
    if node.get_closest_marker("realtime_profile") is not None:
        return
    metafunc.parametrize("realtime", YANDEX_VARIANTS, indirect=True, ids=YANDEX_VARIANTS)


def _profile_name(name: object) -> ProfileName:
    if name not in PROFILES:
        known = ", ".join(PROFILES)
        raise pytest.UsageError(f"unknown realtime profile {name!r}: {known}")
    return cast(ProfileName, name)


def realtime_profile(request: pytest.FixtureRequest) -> ProfileName:
    """The profile a test asks for with ``@pytest.mark.realtime_profile(...)``; a test marked
    ``yandex_variants`` gets each Yandex profile in turn (`pytest_generate_tests`); other tests
    get ``REALTIME_STAND_IN_PROFILE`` (to run the suite against another profile), else yandex."""
    marker = request.node.get_closest_marker("realtime_profile")
    if marker is not None:
        return _profile_name(marker.args[0])
    variant = getattr(request, "param", None)
    if variant is not None:
        return _profile_name(variant)
    return _profile_name(os.environ.get(PROFILE_ENV, "yandex"))


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


MODEL_QUERY: dict[ProfileName, str] = {
    "yandex": "?model=gpt://folder/speech-realtime-250923",
    "yandex-field": "?model=gpt://folder/speech-realtime-250923",
    "openai": "?model=gpt-realtime",
}


def realtime_settings(realtime: RealtimeStandIn, **overrides: object) -> Settings:
    """Settings that reach the stand-in as its profile's provider (yandex-field is yandex)."""
    values: dict[str, object] = {
        "realtime_provider": realtime.profile.provider,
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
