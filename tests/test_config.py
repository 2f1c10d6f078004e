"""Configuration: names, defaults, validation with one clear line, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_INSTRUCTIONS, load_settings
from bot.errors import ConfigError
from bot.realtime.providers import endpoint_from_settings
from bot.tools.registry import TOOLS, check_disabled


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("BOT_TOKEN", "REALTIME_API_KEY", "YANDEX_IAM_TOKEN", "YANDEX_FOLDER_ID",
                 "REALTIME_PROVIDER", "REALTIME_URL", "REALTIME_MODEL", "DEFAULT_VOICE",
                 "ADMIN_IDS", "REDIS_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = load_settings()
    assert s.realtime_provider == "yandex"
    assert s.realtime_model == "speech-realtime-250923"
    assert s.default_voice == "marina"
    assert s.default_instructions == DEFAULT_INSTRUCTIONS
    assert s.bot_mode == "polling" and s.log_format == "console"


def test_yandex_endpoint_with_api_key_and_iam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALTIME_API_KEY", "AQVN-secret")
    monkeypatch.setenv("YANDEX_FOLDER_ID", "b1gfolder")
    ep = endpoint_from_settings(load_settings())
    assert ep.url == (
        "wss://ai.api.cloud.yandex.net/v1/realtime?model=gpt://b1gfolder/speech-realtime-250923"
    )
    assert ep.headers == {"Authorization": "Api-Key AQVN-secret"}
    assert "AQVN-secret" not in repr(ep)
    monkeypatch.delenv("REALTIME_API_KEY")
    monkeypatch.setenv("YANDEX_IAM_TOKEN", "t1.iam")
    assert endpoint_from_settings(load_settings()).headers == {"Authorization": "Bearer t1.iam"}


def test_openai_endpoint_and_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALTIME_PROVIDER", "openai")
    monkeypatch.setenv("REALTIME_API_KEY", "sk-x")
    s = load_settings()
    ep = endpoint_from_settings(s)
    assert ep.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert ep.headers == {"Authorization": "Bearer sk-x"}
    assert s.default_voice == "marin"
    monkeypatch.setenv("REALTIME_URL", "ws://127.0.0.1:9/v1/realtime?model=m")
    assert endpoint_from_settings(load_settings()).url == "ws://127.0.0.1:9/v1/realtime?model=m"


def test_missing_realtime_credentials_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="REALTIME_API_KEY"):
        endpoint_from_settings(load_settings())


def test_malformed_values_name_the_variable_without_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADMIN_IDS", "12,abc")
    with pytest.raises(ConfigError, match="ADMIN_IDS") as info:
        load_settings()
    assert "abc" not in str(info.value)
    monkeypatch.setenv("ADMIN_IDS", "12, 34")
    assert load_settings().admin_ids == {12, 34}


def _run_bot(env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot"], env={"PATH": "/usr/bin:/bin", **env}, cwd=cwd,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_bot_without_token_exits_with_one_clear_line(tmp_path) -> None:
    result = _run_bot({}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_token_is_refused_and_never_printed(tmp_path) -> None:
    result = _run_bot(
        {"BOT_TOKEN": "not-a-token-SECRET", "REALTIME_API_KEY": "k", "YANDEX_FOLDER_ID": "f"},
        tmp_path,
    )
    assert result.returncode == 2
    assert "BOT_TOKEN" in result.stderr and "SECRET" not in result.stderr


def test_dotenv_is_read(tmp_path) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=123:abc\nREALTIME_API_KEY=k\nLOG_LEVEL=loud\n")
    result = _run_bot({}, tmp_path)
    assert result.returncode == 2 and "LOG_LEVEL" in result.stderr


def test_env_example_documents_every_setting_and_loads(tmp_path, monkeypatch) -> None:
    from bot.config import Settings

    example = Path(__file__).resolve().parents[1] / ".env.example"
    keys = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert keys == {name.upper() for name in Settings.model_fields}
    (tmp_path / ".env").write_text(example.read_text())
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.output_sample_rate is None  # the provider's default
    assert settings.default_instructions == DEFAULT_INSTRUCTIONS
    assert settings.realtime_api_key is None


def test_version_and_the_ask_command_load_no_telegram_code() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        "import bot.app, bot.i18n, bot.domain\n"  # what `ask` imports
        "assert not [m for m in sys.modules if m.startswith('aiogram')], 'aiogram loaded'\n"
        "main(['--version'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "python -m bot" in done.stdout


def test_tools_switched_off_for_everyone_and_the_default_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().tools_disabled == frozenset()
    monkeypatch.setenv("TOOLS_DISABLED", "web_search, Notes")
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Asia/Almaty")
    s = load_settings()
    assert s.tools_disabled == {"web_search", "notes"} and s.default_timezone == "Asia/Almaty"
    # An unknown name is refused at start, by the tools' registry (the kit is built there).
    monkeypatch.setenv("TOOLS_DISABLED", "weather")
    with pytest.raises(ConfigError, match=r"^TOOLS_DISABLED: unknown tools weather; known: "):
        check_disabled(load_settings().tools_disabled, TOOLS)
    monkeypatch.delenv("TOOLS_DISABLED")
    for zone in ("Mars/Olympus", "Europe", "../etc/passwd"):
        monkeypatch.setenv("DEFAULT_TIMEZONE", zone)
        with pytest.raises(ConfigError, match=r"^DEFAULT_TIMEZONE: .*IANA time zone"):
            load_settings()
