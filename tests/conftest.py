"""Shared fixtures: real redis-server, test audio made by ffmpeg, the protocol stand-ins."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import build_pipeline
from bot.config import Settings, load_settings
from bot.core.pipeline import TurnPipeline
from stand_ins.media import make
from stand_ins.realtime import RealtimeStandIn
from stand_ins.redis import RedisServer

API_KEY = "test-key"


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


@pytest.fixture
async def realtime() -> AsyncIterator[RealtimeStandIn]:
    async with RealtimeStandIn(api_key=API_KEY) as server:
        yield server


def realtime_settings(realtime: RealtimeStandIn, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "realtime_provider": "yandex",
        "realtime_api_key": API_KEY,
        "realtime_url": realtime.url + "?model=gpt://folder/speech-realtime-250923",
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
