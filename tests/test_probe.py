"""``python -m bot probe`` against the Realtime stand-ins (never the network): each finding is
what the stand-in's profile does, the table prints, the findings are stored and read back, and
nothing is opened without consent."""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.domain import Prices, ProviderTraits
from bot.errors import StorageError
from bot.realtime import probe as probe_mod
from bot.realtime.probe import (
    ProbeOptions,
    ProbeReport,
    Row,
    Unreachable,
    cost_line,
    format_report,
    format_table,
    probe,
)
from bot.realtime.protocol import SessionConfig, session_update
from bot.realtime.providers import PROFILES, Endpoint
from bot.storage import keys
from bot.storage.findings import ProviderFindings
from bot.storage.redis import redis_client
from stand_ins.realtime import RealtimeStandIn, Scenario, ScriptedCall
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[1]
YANDEX_MODEL = "speech-realtime-250923"
MODEL_QUERY = {"yandex": f"?model=gpt://folder/{YANDEX_MODEL}", "openai": "?model=gpt-realtime"}
# Every wait short: the stand-in answers at once, so only the waits for what never comes count.
FAST = ProbeOptions(
    connect_timeout=3.0,
    event_timeout=3.0,
    response_timeout=10.0,
    pong_timeout=0.5,
    auto_response_wait=0.5,
    manual_commit_wait=0.5,
    cancel_wait=1.0,
    settle=0.2,
)


def scenario(**overrides: object) -> Scenario:
    """Replies that say the keyword (so "answers the input" can be seen), long enough in time
    (0.5 s) for a cancel to reach them while they run, and a web search the model makes."""
    values: dict[str, object] = {
        "reply_text": "Яблоко. Apple.",
        "reply_seconds": 2.0,
        "realtime_factor": 4.0,
        "tool_script": [[ScriptedCall("web_search", {"query": "news"})]],
    }
    values.update(overrides)
    return Scenario(**values)  # type: ignore[arg-type]


def endpoint(server: RealtimeStandIn, key: str = API_KEY) -> Endpoint:
    provider = server.profile.provider
    scheme = "Api-Key" if provider == "yandex" else "Bearer"
    return Endpoint(
        url=server.url + MODEL_QUERY[provider],
        headers={"Authorization": f"{scheme} {key}"},
        provider=provider,
    )


async def run_probe(server: RealtimeStandIn, steps: list[str] | None = None) -> ProbeReport:
    provider = server.profile.provider
    return await probe(
        endpoint(server),
        PROFILES[provider],
        model=YANDEX_MODEL if provider == "yandex" else "gpt-realtime",
        voice="marina" if provider == "yandex" else "marin",
        transcription_model="" if provider == "yandex" else "gpt-4o-mini-transcribe",
        options=FAST,
        on_step=(steps.append if steps is not None else lambda _: None),
    )


def seen(report: ProbeReport, rule: str) -> str:
    (row,) = [row for row in report.rows if row.rule == rule]
    return row.seen


def check_table(report: ProbeReport) -> str:
    text = format_report(report)
    assert [row.rule for row in report.rows] == list(probe_mod.RULES)
    for line in text.splitlines():
        assert len(line) <= 100, line
        assert line.isascii(), line
    assert text.splitlines()[0].split("|")[0].strip() == "rule"
    assert API_KEY not in text
    return text


async def test_yandex_as_documented() -> None:
    steps: list[str] = []
    async with RealtimeStandIn(api_key=API_KEY, profile="yandex", scenario=scenario()) as server:
        report = await run_probe(server, steps)
    server.assert_valid_client_events()
    t = report.traits
    assert (t.provider, t.model) == ("yandex", YANDEX_MODEL)
    assert t.probed_at > 0
    assert t.assistant_items is True
    assert t.rates_echoed is True
    assert t.pings_answered is True
    assert t.create_response_honoured is True
    assert t.manual_turns_honoured is True
    assert t.create_after_commit is True
    assert t.cancel_honoured is True
    assert t.text_events == (
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
    )
    # Yandex runs web_search itself: the client sees a plain answer.
    assert t.web_search_events == ()
    assert server.sessions and any(rec.server_searches for rec in server.sessions)
    assert t.quota_refusal == "http_429"
    assert "session.updated x1" in seen(report, "rates_echoed")
    assert "commits x2" in seen(report, "create_response_honoured")
    assert "session 11" in seen(report, "quota_refusal")
    assert sum(rec.handshake_status == 429 for rec in server.sessions) == 1
    # The search was declared as the bot declares Yandex's: parameters the string "{}".
    tools = [rec.session.get("tools") for rec in server.sessions if rec.session.get("tools")]
    assert tools == [[probe_mod.WEB_SEARCH_TOOL]]
    # Each question had a session of its own, and every wait was reported before it began.
    assert len(steps) == 10 and steps[0].startswith("speech sample")
    updated = [rec for rec in server.sessions if "session.update" in rec.event_types]
    assert len(updated) == 8  # all but the ping's and the quota's sessions
    assert {rec.session["audio"]["output"]["format"]["rate"] for rec in updated} == {24000}
    # Configured with the bot's own session.update: the probe's words, 24 kHz, a short VAD.
    (update,) = [e for e in updated[0].client_events if e["type"] == "session.update"]
    asked = SessionConfig(
        voice="marina", instructions=probe_mod.WORDS["ru"].instructions, output_rate=24_000,
        output_modalities=PROFILES["yandex"].output_modalities, vad_silence_ms=200,
    )  # fmt: skip
    assert update == session_update(asked, "probe_update")
    text = check_table(report)
    assert "latency connect: median" in text
    assert "latency response.create -> first audio: median" in text


async def test_openai() -> None:
    async with RealtimeStandIn(api_key=API_KEY, profile="openai", scenario=scenario()) as server:
        report = await run_probe(server)
    server.assert_valid_client_events()
    t = report.traits
    assert (t.provider, t.model) == ("openai", "gpt-realtime")
    assert t.assistant_items and t.rates_echoed and t.pings_answered
    assert t.create_response_honoured and t.manual_turns_honoured
    assert t.create_after_commit and t.cancel_honoured
    assert t.text_events[0] == "response.output_audio_transcript.delta"
    # Not asked of OpenAI: no search of its own, no documented session quota.
    assert t.web_search_events == () and t.quota_refusal == ""
    assert "not offered" in seen(report, "web_search_events")
    assert "no quota documented" in seen(report, "quota_refusal")
    assert len(server.sessions) == 8  # the sample and seven questions; no quota sessions
    # OpenAI transcribes only when asked, and after the response: the table says so.
    assert "after response.done" in seen(report, "create_after_commit")
    assert all(
        rec.session["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
        for rec in server.sessions
        if "session.update" in rec.event_types
    )
    check_table(report)


async def test_yandex_field_as_live_clients_saw_it() -> None:
    async with RealtimeStandIn(
        api_key=API_KEY, profile="yandex-field", scenario=scenario()
    ) as server:
        report = await run_probe(server)
    # The only event the field profile refused is the assistant item the question is about.
    (refused,) = server.invalid_events()
    assert "conversation.item.create" in refused and "MessageContentItemOutputText" in refused
    t = report.traits
    assert t.assistant_items is False
    assert "closed 1011" in seen(report, "assistant_items")
    assert "user item accepted (conversation.item.created)" in seen(report, "assistant_items")
    assert t.rates_echoed is False
    assert seen(report, "rates_echoed") == "out null, in null; session.updated x2"
    assert t.pings_answered is False
    assert t.create_response_honoured is False
    assert t.manual_turns_honoured is False
    assert t.create_after_commit is False
    assert "as if nothing was said" in seen(report, "create_after_commit")
    assert any(rec.answered_without_input for rec in server.sessions)
    assert t.cancel_honoured is False
    assert any(rec.cancels_ignored for rec in server.sessions)
    assert t.text_events[:2] == ("response.output_text.delta", "response.output_text.done")
    assert "output_text.delta (part 0)" in seen(report, "text_events")
    assert "audio on part 1" in seen(report, "text_events")
    assert "response.output_item.done:function_call" in t.web_search_events
    assert "response.function_call_arguments.done" in t.web_search_events
    assert "calls reaching the client: web_search" in seen(report, "web_search_events")
    assert t.quota_refusal == "error_event", format_report(report)
    assert "RESOURCE_EXHAUSTED" in seen(report, "quota_refusal")
    check_table(report)


async def test_yandex_field_with_each_open_question_on_the_kind_side() -> None:
    kind = scenario(
        honours_create_response=True,
        honours_null_turn_detection=True,
        create_needs_transcript=False,
        cancel_honoured=True,
        web_search_events="none",
        quota_refusal="http_429",
    )
    async with RealtimeStandIn(api_key=API_KEY, profile="yandex-field", scenario=kind) as server:
        report = await run_probe(server)
    t = report.traits
    assert t.create_response_honoured is True
    assert t.manual_turns_honoured is True
    assert t.create_after_commit is True
    assert t.cancel_honoured is True
    assert t.web_search_events == ()
    assert t.quota_refusal == "http_429"
    # The profile's fixed rules stay as they are.
    assert (t.assistant_items, t.rates_echoed, t.pings_answered) == (False, False, False)


async def test_a_reply_that_is_not_about_the_input_needs_the_keyword() -> None:
    """A reply without the keyword is "as if nothing was said", even on a documented server."""
    async with RealtimeStandIn(
        api_key=API_KEY, profile="yandex", scenario=scenario(reply_text="Hello there.")
    ) as server:
        prober = probe_mod._Prober(
            endpoint(server), PROFILES["yandex"], voice="marina", transcription_model="",
            turn_detection="server_vad", options=FAST, on_step=lambda _: None,
        )  # fmt: skip
        await prober.sample()
        finding, _ = await prober.create_after_commit()
    assert finding.value is False
    assert "no keyword" in finding.seen


async def test_no_audio_in_the_sample_falls_back_to_a_tone() -> None:
    async with RealtimeStandIn(
        api_key=API_KEY, profile="yandex", scenario=scenario(reply_seconds=0.0)
    ) as server:
        prober = probe_mod._Prober(
            endpoint(server), PROFILES["yandex"], voice="marina", transcription_model="",
            turn_detection="server_vad", options=FAST, on_step=lambda _: None,
        )  # fmt: skip
        await prober.sample()
    assert prober.speech_is_tone
    assert len(prober.speech) == 2 * probe_mod.RATE
    assert any("tone" in note for note in prober.notes)


async def test_unreachable_provider() -> None:
    async with RealtimeStandIn(api_key=API_KEY, profile="yandex-field") as server:
        # Refused key: the handshake's status, never the key.
        with pytest.raises(Unreachable, match="HTTP 401") as refused:
            await probe(
                endpoint(server, key="wrong-key-123"), PROFILES["yandex"], model=YANDEX_MODEL,
                voice="marina", options=FAST,
            )  # fmt: skip
        assert "wrong-key-123" not in str(refused.value)
        # A model URI the service does not take: its error, in one line.
        bad = Endpoint(
            url=server.url + "?model=speech-realtime-250923",
            headers={"Authorization": f"Api-Key {API_KEY}"},
        )
        with pytest.raises(Unreachable, match="Invalid model URI"):
            await probe(bad, PROFILES["yandex"], model=YANDEX_MODEL, voice="marina", options=FAST)
        url = server.url
    # Nothing listening.
    gone = Endpoint(url=url, headers={"Authorization": f"Api-Key {API_KEY}"})
    with pytest.raises(Unreachable, match="cannot connect"):
        await probe(gone, PROFILES["yandex"], model=YANDEX_MODEL, voice="marina", options=FAST)


def test_table_is_ascii_and_fits_100_columns() -> None:
    rows = [
        Row("create_response_honoured", "x" * 70, "ответ " * 30),
        Row("quota_refusal", "short", "HTTP 429 on the handshake of session 11"),
    ]
    table = format_table(rows)
    assert all(len(line) <= 100 and line.isascii() for line in table.splitlines())
    assert "HTTP 429 on the handshake of session 11" in table


def test_cost_line() -> None:
    yandex = PROFILES["yandex"]
    listed = yandex.prices(yandex.model)
    prices = Prices(listed.input_per_minute, listed.output_per_minute, "RUB", 0.8, 0.8)
    line = cost_line("yandex", prices)
    inp, out = probe_mod.planned_seconds("yandex")
    expected = inp * 0.026 + out * 0.02
    assert line.startswith("Estimated cost: up to ")
    assert f"{expected:.2f} RUB" in line
    assert "text 0.8 in, 0.8 out per 1000 tokens" in line
    assert all(len(part) <= 100 for part in line.splitlines())
    assert "unknown price" in cost_line("openai", Prices(currency="USD"))


async def test_findings_store(redis_url: str) -> None:
    redis = redis_client(redis_url)
    try:
        findings = ProviderFindings(redis)
        assert await findings.get("yandex", YANDEX_MODEL) is None
        traits = ProviderTraits(
            provider="yandex", model=YANDEX_MODEL, probed_at=1.5, assistant_items=False,
            text_events=("response.output_text.delta",), quota_refusal="http_429",
        )  # fmt: skip
        await findings.put(traits)
        assert await findings.get("yandex", YANDEX_MODEL) == traits
        key = keys.probe_findings("yandex", YANDEX_MODEL)
        assert key == f"vb:probe:yandex:{YANDEX_MODEL}"
        assert await redis.ttl(key) == -1  # no expiry
        await redis.set(key, "not json")
        assert await findings.get("yandex", YANDEX_MODEL) is None
    finally:
        await redis.aclose()
    # Redis away: StorageError, as the other stores fail.
    away = Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    try:
        with pytest.raises(StorageError):
            await ProviderFindings(away).put(traits)
        with pytest.raises(StorageError):
            await ProviderFindings(away).get("yandex", YANDEX_MODEL)
    finally:
        await away.aclose()


# -- the command, as a subprocess ---------------------------------------------------------------


def cli_env(server: RealtimeStandIn, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "REALTIME_PROVIDER": "yandex",
        "REALTIME_API_KEY": API_KEY,
        "YANDEX_FOLDER_ID": "folder",
        "REALTIME_URL": server.url + MODEL_QUERY["yandex"],
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path / "data"),
    }


async def run_cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "probe", *args, env=env, cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_cli_probes_prints_and_stores(redis_url: str, tmp_path: Path) -> None:
    async with RealtimeStandIn(api_key=API_KEY, profile="yandex", scenario=scenario()) as server:
        code, out, err = await run_cli(cli_env(server, redis_url, tmp_path), tmp_path, "--yes")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Estimated cost: up to "), out  # the cost comes first
    assert "RUB" in lines[0]
    assert lines[2].split("|")[0].strip() == "rule"
    assert any(line.startswith("pings_answered") and "pong in" in line for line in lines)
    assert lines[-1] == f"stored in Redis as vb:probe:yandex:{YANDEX_MODEL}"
    assert "Traceback" not in err
    assert API_KEY not in out + err
    redis = redis_client(redis_url)
    try:
        stored = await ProviderFindings(redis).get("yandex", YANDEX_MODEL)
    finally:
        await redis.aclose()
    assert stored is not None
    assert (stored.assistant_items, stored.rates_echoed, stored.pings_answered) == (True,) * 3
    assert stored.quota_refusal == "http_429"


async def test_cli_without_consent_opens_no_session(redis_url: str, tmp_path: Path) -> None:
    async with RealtimeStandIn(api_key=API_KEY, profile="yandex") as server:
        env = cli_env(server, redis_url, tmp_path)
        code, out, err = await run_cli(env, tmp_path)
        assert code == 1
        assert out.splitlines()[0].startswith("Estimated cost")
        assert "--yes" in err
        assert server.sessions == []
        url = server.url
    # Nothing listening there any more: one line saying why, exit 1, no secret.
    code, out, err = await run_cli(env | {"REALTIME_URL": url}, tmp_path, "--yes", "--no-store")
    assert code == 1
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "cannot be reached: cannot connect" in line
    assert API_KEY not in out + err
    # A configuration error is exit 2, as for the other commands.
    code, _, err = await run_cli(env | {"REALTIME_API_KEY": ""}, tmp_path, "--yes")
    assert code == 2
    assert "configuration error" in err


async def test_cli_asks_on_a_terminal(redis_url: str, tmp_path: Path) -> None:
    async with RealtimeStandIn(api_key=API_KEY, profile="yandex") as server:
        main_fd, terminal = pty.openpty()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "probe", env=cli_env(server, redis_url, tmp_path),
                cwd=tmp_path, stdin=terminal, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            os.write(main_fd, b"n\n")
            stdout, _ = await asyncio.wait_for(process.communicate(), 30)
        finally:
            os.close(main_fd)
            os.close(terminal)
        assert process.returncode == 1
        out = stdout.decode()
        assert out.startswith("Estimated cost")
        assert "Go on? [y/N] " in out and "Nothing probed." in out
        assert server.sessions == []
