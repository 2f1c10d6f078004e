"""Configuration: names, defaults, validation with one clear line, secrets never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_INSTRUCTIONS, SettingsError, load_settings
from bot.errors import ConfigError
from bot.realtime.providers import endpoint_from_settings
from bot.tools.registry import TOOLS, check_disabled


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("BOT_TOKEN", "REALTIME_API_KEY", "YANDEX_IAM_TOKEN", "YANDEX_FOLDER_ID",
                 "REALTIME_PROVIDER", "REALTIME_URL", "REALTIME_MODEL", "DEFAULT_VOICE",
                 "ADMIN_IDS", "REDIS_URL", "TELEGRAM_API_URL", "WEBHOOK_URL", "BOT_MODE",
                 "LOG_LEVEL", "OUTPUT_SAMPLE_RATE", "TURN_DETECTION"):  # fmt: skip
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


def test_bot_without_settings_lists_every_missing_one_at_once(tmp_path) -> None:
    result = _run_bot({}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "configuration error: 3 settings to fix (in .env or the environment):"
    assert [line.split()[1] for line in lines[1:]] == [
        "BOT_TOKEN", "REALTIME_API_KEY", "YANDEX_FOLDER_ID"
    ]  # fmt: skip
    assert "@BotFather" in lines[1]
    assert "Traceback" not in result.stderr


def test_a_scheme_less_bot_api_url_never_prints_the_token(tmp_path) -> None:
    token = "7012345678:AAH-secretTokenTail_0123456789abcdefXY"
    result = _run_bot(
        {"BOT_TOKEN": token, "TELEGRAM_API_URL": "api.telegram.org", "REALTIME_API_KEY": "key",
         "YANDEX_FOLDER_ID": "f"},
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "TELEGRAM_API_URL" in result.stderr and "https://" in result.stderr
    assert token.partition(":")[2] not in result.stderr + result.stdout


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


# ------------------------------------------------------------------ every problem at once


def test_every_malformed_and_missing_setting_is_in_one_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "AQVN-secret-realtime-key-0123456789"
    for name, value in {
        "REALTIME_URL": "https://ai.api.cloud.yandex.net/v1/realtime",
        "TELEGRAM_API_URL": "api.telegram.org",
        "DEFAULT_VOICE": "alice",
        "LOG_LEVEL": "loud",
        "WEBHOOK_URL": "https://bot.example.com:8080/tg/hook",
        "YANDEX_IAM_TOKEN": secret,
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings(needs=("telegram", "realtime"))
    named = [problem.variable for problem in info.value.problems]
    assert named == [
        "TELEGRAM_API_URL", "REALTIME_URL", "DEFAULT_VOICE", "LOG_LEVEL", "WEBHOOK_URL",
        "BOT_TOKEN",
    ]  # fmt: skip
    assert all(problem.text.startswith(problem.variable) for problem in info.value.problems)
    message = str(info.value)
    assert message.startswith("6 settings to fix") and message.count("\n  - ") == 6
    assert secret not in message
    # Without needs, only what is malformed.
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "BOT_TOKEN" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/v1/realtime", "it is an http:// address"),
        ("https://ai.api.cloud.yandex.net/v1/realtime", "it is an https:// address"),
        ("realtime", "it has no scheme"),
        ("ai.api.cloud.yandex.net/v1/realtime", "it has no scheme"),
        ("wss:///v1/realtime", "it has no host"),
        ("wss://host:port/v1", "it is not a URL"),
    ],
)
def test_realtime_url_must_be_a_websocket_address(
    monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    monkeypatch.setenv("REALTIME_URL", url)
    with pytest.raises(ConfigError, match=r"^REALTIME_URL: must be .*wss://") as info:
        load_settings()
    assert why in str(info.value)


def test_realtime_url_accepts_ws_and_wss(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("ws://127.0.0.1:9/v1/realtime?model=m", "wss://example.com/realtime"):
        monkeypatch.setenv("REALTIME_URL", url)
        assert load_settings().realtime_url == url


def test_telegram_api_url_needs_a_scheme_and_holds_no_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "7012345678:AAH-secretTokenTail_0123456789abcdefXY"
    for url in ("api.telegram.org", f"api.telegram.org/bot{token}", "ftp://api.telegram.org",
                f"https://api.telegram.org/bot{token}"):  # fmt: skip
        monkeypatch.setenv("TELEGRAM_API_URL", url)
        with pytest.raises(ConfigError, match=r"^TELEGRAM_API_URL: .*https://") as info:
            load_settings()
        assert token not in str(info.value) and token.partition(":")[2] not in str(info.value)
    for url in ("https://api.telegram.org", "http://127.0.0.1:8081", "https://tg.example/api"):
        monkeypatch.setenv("TELEGRAM_API_URL", url)
        assert load_settings().telegram_api_url == url


def test_default_voice_must_be_one_of_the_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_VOICE", "alice")
    with pytest.raises(ConfigError, match=r"^DEFAULT_VOICE: 'alice' is not a voice of yandex"):
        load_settings()
    monkeypatch.setenv("DEFAULT_VOICE", "jane")
    assert load_settings().default_voice == "jane"
    monkeypatch.setenv("REALTIME_PROVIDER", "openai")
    with pytest.raises(ConfigError, match=r"marin, cedar, or leave it empty for marin"):
        load_settings()  # jane is Yandex's
    monkeypatch.setenv("DEFAULT_VOICE", "cedar")
    assert load_settings().default_voice == "cedar"
    # An unknown provider is the one problem: its voices are not judged.
    monkeypatch.setenv("REALTIME_PROVIDER", "initech")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert [p.variable for p in info.value.problems] == ["REALTIME_PROVIDER"]


@pytest.mark.parametrize("prefix", ["Api-Key ", "api-key  ", "Bearer "])
def test_a_pasted_scheme_is_dropped_and_said_without_the_key(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    key = "AQVN-secret-realtime-key-0123456789"
    monkeypatch.setenv("REALTIME_API_KEY", f"{prefix}{key}")
    monkeypatch.setenv("YANDEX_FOLDER_ID", "b1gfolder")
    settings = load_settings()
    assert settings.realtime_api_key is not None
    assert settings.realtime_api_key.get_secret_value() == key
    assert endpoint_from_settings(settings).headers == {"Authorization": f"Api-Key {key}"}
    (notice,) = settings.notices
    assert notice.startswith("REALTIME_API_KEY began with") and key not in notice
    monkeypatch.setenv("REALTIME_API_KEY", key)
    assert load_settings().notices == ()


def test_a_key_that_is_only_its_scheme_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALTIME_API_KEY", "Api-Key ")
    with pytest.raises(ConfigError, match=r"^REALTIME_API_KEY holds no key"):
        load_settings()


def test_an_iam_token_pasted_as_the_key_is_pointed_to_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REALTIME_API_KEY", "Bearer t1.secret-iam-token-0123456789")
    (notice,) = load_settings().notices
    assert "YANDEX_IAM_TOKEN" in notice and "secret-iam" not in notice


def test_the_notice_reaches_the_log_without_the_key(tmp_path) -> None:
    key = "AQVN-secret-realtime-key-0123456789"
    result = _run_bot(
        {"REALTIME_API_KEY": f"Api-Key {key}", "YANDEX_FOLDER_ID": "f", "DATA_DIR": "d"},
        tmp_path,
    )
    assert result.returncode == 2  # no BOT_TOKEN: the settings are read, and not enough
    assert key not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--text", "hi"],
        env={"PATH": "/usr/bin:/bin", "REALTIME_API_KEY": f"Api-Key {key}",
             "REALTIME_URL": "ws://127.0.0.1:9/v1/realtime", "LOG_LEVEL": "INFO"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "REALTIME_API_KEY began with 'Api-Key'" in result.stderr
    assert key not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://bot.example.com/tg/hook", "Telegram posts only over https"),
        ("bot.example.com/tg/hook", "it has no scheme"),
        ("https://bot.example.com:8080/tg/hook", "port 8080 is not one Telegram posts to"),
    ],
)
def test_webhook_url_is_https_on_a_port_telegram_posts_to(
    monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    monkeypatch.setenv("WEBHOOK_URL", url)
    with pytest.raises(ConfigError, match=r"^WEBHOOK_URL: ") as info:
        load_settings()
    assert why in str(info.value)


def test_webhook_mode_needs_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    with pytest.raises(ConfigError, match=r"^WEBHOOK_URL is not set"):
        load_settings(needs=("telegram",), bot_mode="webhook")
    for port in ("", ":443", ":80", ":88", ":8443"):
        url = f"https://bot.example.com{port}/tg/hook"
        assert load_settings(needs=("telegram",), bot_mode="webhook", webhook_url=url)


def test_the_provider_rate_and_turn_detection_are_in_the_same_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REALTIME_PROVIDER", "openai")
    monkeypatch.setenv("OUTPUT_SAMPLE_RATE", "44100")
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    with pytest.raises(SettingsError) as info:
        load_settings(needs=("telegram", "realtime"))
    assert [p.variable for p in info.value.problems] == ["REALTIME_API_KEY", "OUTPUT_SAMPLE_RATE"]
