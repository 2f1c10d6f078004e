"""Round trips to Redis, counted inside a bot process, for ``python -m bench.hotpath``.

`install` wraps redis-py's ``redis.asyncio.connection.AbstractConnection.send_packed_command``.
redis-py calls it once per request it writes and then reads the replies, so one call is one
round trip: a single command, a whole pipeline or MULTI … EXEC, one EVALSHA (a NOSCRIPT answer
makes it send an EVAL: a second round trip, as on the wire). Opening a connection sends its
set-up commands (CLIENT SETINFO, SELECT …) one call each; a health-check PING is a call of its
own. Each call is kept in memory as (``time.time()``, connection, what was sent), and the
commands are named only at exit, so the hot path costs one clock read and one list append.

The bot runs unchanged as ``python -m bot``: `write_loader` writes a ``sitecustomize.py`` into a
folder that goes on the bot's PYTHONPATH after the bot's own tree; Python imports it at start-up,
and it loads this file by its path (not as ``bench.redis_probe``, so a tree whose ``bench``
package is older or absent still gets it) and calls `install_from_env`. At exit the records go to
the file named by ``BENCH_REDIS_PROBE``: a first JSON line ``{"pid", "bot", "round_trips"}``
(``bot`` is the file the ``bot`` package was imported from), then one line per round trip,
``[time, connection, [command, ...]]``. `read_log` reads it back.

Times are wall-clock (``time.time()``, CLOCK_REALTIME): the same clock as the benchmark's and as
redis-server's MONITOR time stamps, so round trips can be placed in the benchmark's windows.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CONTAINER_COMMANDS",
    "PROBE_ENV",
    "ProbeLog",
    "RoundTrip",
    "command_name",
    "command_names",
    "install",
    "install_from_env",
    "read_log",
    "write_loader",
]

PROBE_ENV = "BENCH_REDIS_PROBE"
# Commands whose first argument is a subcommand: named "xgroup|create" and so on, the way
# INFO commandstats names them.
CONTAINER_COMMANDS = frozenset(
    {
        "acl",
        "client",
        "cluster",
        "command",
        "config",
        "function",
        "latency",
        "memory",
        "module",
        "object",
        "pubsub",
        "script",
        "slowlog",
        "xgroup",
        "xinfo",
    }
)
_LOADER = """\
# Loads the Redis round-trip probe of bench/redis_probe.py into this process (see that file).
import importlib.util as _util
import sys as _sys

_spec = _util.spec_from_file_location("_bench_redis_probe", {path!r})
if _spec is not None and _spec.loader is not None:
    _module = _util.module_from_spec(_spec)
    _sys.modules[_spec.name] = _module
    _spec.loader.exec_module(_module)
    _module.install_from_env()
"""


@dataclass(frozen=True)
class RoundTrip:
    """One request written to Redis and answered: when, on which connection, which commands."""

    t: float
    connection: int
    commands: tuple[str, ...]

    @property
    def shape(self) -> str:
        """What the round trip carried, e.g. ``evalsha`` or ``multi+hget+hget+exec``."""
        if len(self.commands) <= 6:
            return "+".join(self.commands)
        return f"{'+'.join(self.commands[:3])}+… ({len(self.commands)} commands)"


@dataclass(frozen=True)
class ProbeLog:
    """What one bot process wrote at exit."""

    pid: int
    bot: str | None
    """The file the ``bot`` package came from: tells which source tree the process ran."""
    round_trips: list[RoundTrip]


def command_name(name: bytes, sub: bytes | None) -> str:
    """The command's name as INFO commandstats spells it: lower case, ``xgroup|create``."""
    text = name.decode("utf-8", "replace").lower()
    if text in CONTAINER_COMMANDS and sub is not None:
        return f"{text}|{sub.decode('utf-8', 'replace').lower()}"
    return text


def command_names(command: bytes | str | Iterable[bytes]) -> list[str]:
    """The names of the commands in a RESP request as redis-py packs it (one or many arrays)."""
    if isinstance(command, str):
        data = command.encode()
    elif isinstance(command, bytes | bytearray | memoryview):
        data = bytes(command)
    else:
        data = b"".join(bytes(chunk) for chunk in command)
    names: list[str] = []
    i, n = 0, len(data)
    while i < n and data[i : i + 1] == b"*":
        end = data.index(b"\r\n", i)
        count = int(data[i + 1 : end])
        i = end + 2
        head: list[bytes] = []
        for k in range(count):
            end = data.index(b"\r\n", i)
            length = int(data[i + 1 : end])
            i = end + 2
            if k < 2:
                head.append(data[i : i + length])
            i += length + 2
        if head:
            names.append(command_name(head[0], head[1] if len(head) > 1 else None))
    return names


class _Recorder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[tuple[float, int, Any]] = []

    def write(self) -> None:
        """Name the commands of every record and write the log (called once, at exit)."""
        bot = sys.modules.get("bot")
        lines = [
            json.dumps(
                {
                    "pid": os.getpid(),
                    "bot": getattr(bot, "__file__", None),
                    "round_trips": len(self.records),
                }
            )
        ]
        lines.extend(
            json.dumps([t, connection, command_names(command)])
            for t, connection, command in self.records
        )
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.path)


def install(path: Path) -> None:
    """Count every request this process writes to Redis; write the log to ``path`` at exit."""
    from redis.asyncio.connection import AbstractConnection

    recorder = _Recorder(path)
    send = AbstractConnection.send_packed_command

    @functools.wraps(send)
    async def send_packed_command(
        self: AbstractConnection,
        command: bytes | str | Iterable[bytes],
        check_health: bool = True,
    ) -> None:
        # The clock is read before connecting or checking health, whose own requests (set-up
        # commands, PING) are recorded after this one by their own nested calls.
        recorder.records.append((time.time(), id(self), command))
        await send(self, command, check_health)

    AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
    atexit.register(recorder.write)


def install_from_env() -> None:
    """`install`, writing to the file named by ``BENCH_REDIS_PROBE``; nothing when it is unset."""
    path = os.environ.get(PROBE_ENV)
    if path:
        install(Path(path))


def write_loader(folder: Path) -> Path:
    """Write a ``sitecustomize.py`` into ``folder`` that installs this probe (from this file);
    put ``folder`` on a process's PYTHONPATH and set ``BENCH_REDIS_PROBE`` to use it."""
    folder.mkdir(parents=True, exist_ok=True)
    loader = folder / "sitecustomize.py"
    loader.write_text(_LOADER.format(path=str(Path(__file__).resolve())))
    return loader


def read_log(path: Path) -> ProbeLog:
    """The log a probed process wrote at exit. Raises OSError when there is none (the process
    did not exit normally) and ValueError when it is malformed."""
    lines = path.read_text().splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    head = json.loads(lines[0])
    trips = [
        RoundTrip(float(t), int(connection), tuple(str(name) for name in names))
        for t, connection, names in (json.loads(line) for line in lines[1:] if line)
    ]
    return ProbeLog(pid=int(head["pid"]), bot=head.get("bot"), round_trips=trips)
