"""Soak test of the queue: 200 turns through 4 worker processes, one killed midway.

    python -m bench.soak [--turns 200] [--chats 40] [--workers 4]

Starts the Bot API and Realtime stand-ins and a real redis-server, one `python -m bot`
(receiver and worker) plus worker processes (`python -m bot worker`), pushes the voice notes,
kills one worker with SIGKILL after half the answers, and prints turns sent, answered,
duplicated and lost, and the throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from stand_ins.bot_api import BotAPIStandIn
from stand_ins.media import make
from stand_ins.realtime import RealtimeStandIn, Scenario
from stand_ins.redis import RedisServer

API_KEY = "soak-key"


async def spawn(env: dict[str, str], cwd: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def soak(turns: int, chats: int, workers: int, visibility: float) -> dict[str, object]:
    work = tempfile.mkdtemp(prefix="vb-soak-")
    voice = make(Path(work) / "audio")["voice.ogg"].read_bytes()
    redis = RedisServer()
    redis.start()
    realtime = RealtimeStandIn(
        api_key=API_KEY,
        scenario=Scenario(time_to_first_audio=0.2, reply_seconds=2.0, realtime_factor=4.0),
        # The soak's cap of 32 sessions is past Yandex's quota on purpose: the queue is tested.
        max_sessions=None,
        max_creations_per_second=None,
    )
    await realtime.start()
    api = BotAPIStandIn()
    await api.start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "REALTIME_API_KEY": API_KEY,
        "YANDEX_FOLDER_ID": "soak",
        "REALTIME_URL": realtime.url + "?model=gpt://soak/speech-realtime-250923",
        "REDIS_URL": redis.url,
        "LOG_LEVEL": "WARNING",
        "MAX_CONCURRENT_TURNS": "32",
        "MAX_CHAT_BACKLOG": str(turns),
        "RATE_LIMIT_TURNS": "0",
        "VISIBILITY_TIMEOUT": str(visibility),
    }
    processes = [await spawn({**env, "WORKER_NAME": "w0"}, work)]
    for i in range(1, workers):
        processes.append(await spawn({**env, "WORKER_NAME": f"w{i}"}, work, "worker"))
    victim = processes[-1]
    pushed: list[tuple[int, int]] = []
    try:
        started = time.perf_counter()
        for i in range(turns):
            chat = 5000 + i % chats
            update = api.push_message("voice", chat_id=chat, user_id=chat, data=voice, duration=3)
            pushed.append((chat, update["message"]["message_id"]))
        await api.wait_for("sendVoice", count=turns // 2, timeout=600)
        victim.send_signal(signal.SIGKILL)
        killed_at = len(api.calls_of("sendVoice"))
        with contextlib.suppress(TimeoutError):
            await api.wait_for("sendVoice", count=turns, timeout=600)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(2 * visibility)  # room for late duplicates
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()
        await api.stop()
        await realtime.stop()
        redis.stop()
    answers = collections.Counter(
        (int(c.params["chat_id"]), int(c.params["reply_parameters"]["message_id"]))
        for c in api.calls_of("sendVoice")
    )
    order_ok = True
    for chat in {c for c, _ in pushed}:
        expected = [m for c, m in pushed if c == chat]
        got = [
            int(c.params["reply_parameters"]["message_id"])
            for c in api.calls_of("sendVoice")
            if int(c.params["chat_id"]) == chat
        ]
        deduped = list(dict.fromkeys(got))
        order_ok = order_ok and deduped == expected
    return {
        "turns_sent": turns,
        "answered": sum(1 for key in pushed if answers[key] >= 1),
        "duplicated": sum(1 for key in pushed if answers[key] > 1),
        "lost": sum(1 for key in pushed if answers[key] == 0),
        "per_chat_order_kept": order_ok,
        "worker_processes": workers,
        "killed_after_answers": killed_at,
        "visibility_timeout_s": visibility,
        "seconds": round(elapsed, 2),
        "turns_per_second": round(turns / elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--chats", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--visibility", type=float, default=5.0)
    args = parser.parse_args()
    result = asyncio.run(soak(args.turns, args.chats, args.workers, args.visibility))
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
