"""Prometheus metrics and the /metrics and /healthz endpoints."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

__all__ = [
    "IN_FLIGHT",
    "QUEUE_DEPTH",
    "REALTIME_ERRORS",
    "REFUSALS",
    "REFUSAL_NOTICES",
    "REMINDERS_FIRED",
    "TOOL_CALLS",
    "TURNS",
    "TURN_STAGE_SECONDS",
    "VOICE_FOLLOWED",
    "VOICE_SAMPLES",
    "start_metrics_server",
]

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

TURNS = Counter("voicebot_turns_total", "Turns finished, by outcome", ["outcome"])
TURN_STAGE_SECONDS = Histogram(
    "voicebot_turn_stage_seconds",
    "Time of each stage of a turn",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
REFUSALS = Counter(
    "voicebot_refusals_total",
    "Messages admission did not take, by reason (backlog, rate_limit, budget)",
    ["reason"],
)
REFUSAL_NOTICES = Counter(
    "voicebot_refusal_notices_total",
    "How senders of refused messages were told: message (a reply in words), mark (a reaction on "
    "a later one of a burst) or unsent (the chat is under flood control)",
    ["reason", "how"],
)
VOICE_SAMPLES = Counter(
    "voicebot_voice_samples_total",
    "Voice samples played, by where they came from (cache: by file_id; made: by the model)",
    ["source"],
)
VOICE_FOLLOWED = Counter(
    "voicebot_voice_follows_language_total",
    "Turns answered in the voice a chat keeps for the language they were in, not its own",
)
QUEUE_DEPTH = Gauge("voicebot_queue_depth", "Turns in the queue not yet finished")
IN_FLIGHT = Gauge("voicebot_realtime_sessions_in_flight", "Realtime sessions open in this process")
REALTIME_ERRORS = Counter("voicebot_realtime_errors_total", "Realtime failures, by type", ["type"])
TOOL_CALLS = Counter(
    "voicebot_tool_calls_total", "Tool calls run for the model, by outcome", ["tool", "outcome"]
)
REMINDERS_FIRED = Counter(
    "voicebot_reminders_fired_total", "Reminders that came due and were queued"
)

Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


async def start_metrics_server(host: str, port: int, health: Health) -> web.AppRunner:
    """Serve /metrics and /healthz (200 when healthy, 503 otherwise, JSON details) on ``host``
    (``METRICS_HOST``: neither has auth, so the bot passes this machine's loopback unless told
    otherwise; never the webhook's public address by default)."""
    from aiohttp import web  # only the processes that serve metrics need the web server

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        ok, details = await health()
        return web.json_response({"ok": ok, **details}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("metrics on http://%s:%s/metrics, health on /healthz", host, port)
    return runner
