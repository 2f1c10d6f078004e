"""Every command redis-server runs, read from its ``MONITOR`` stream, for the benchmarks.

`MonitorLog` opens a connection of its own to redis-server, sends ``MONITOR`` and keeps each
command the server reports from then on as a `Seen`, in the order the server ran them, with
redis-server's wall-clock time stamp (``time.time()``'s clock). `parse_line` reads one line of
the stream, without I/O. MONITOR skips a few administrative commands, which the bot's turns
do not use.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from dataclasses import dataclass

from bench.driver import BenchError
from bench.redis_probe import command_name

__all__ = ["MonitorLog", "Seen", "parse_line"]

# 1700000000.123456 [0 127.0.0.1:5555] "XREADGROUP" "GROUP" ... (the client is "lua" for the
# commands a script runs, "unix:/path" for a Unix socket).
_LINE = re.compile(rb"^\+?(\d+\.\d+) \[\d+ ([^\]]*)\] (.*)$")
_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')
# A queued TurnJob's JSON as MONITOR quotes it: {\"chat_id\":42,...}.
_JOB_CHAT = re.compile(rb'\\"chat_id\\":(-?\d+)')
_ARGS_KEPT = 4  # arguments after the name
_ARG_CHARS = 80  # of each argument kept
_ARGS_SCANNED = 2000  # bytes of a line searched for them: a queued job is a few hundred
DRAIN_SECONDS = 0.3  # after the bot stops, for the last lines to arrive


@dataclass(frozen=True)
class Seen:
    """One command as MONITOR reported it."""

    t: float
    """redis-server's wall-clock time stamp."""
    client: str
    """``ip:port`` of the connection, or ``lua`` for a command a script ran."""
    name: str
    """As INFO commandstats names it: lower case, ``xgroup|create`` for a subcommand."""
    args: tuple[str, ...] = ()
    """Its first few arguments after the name (the subcommand included), each cut to 80
    characters, as MONITOR quotes them."""
    chat: int | None = None
    """For an XADD of a queued job, the job's chat."""

    @property
    def in_script(self) -> bool:
        """Whether a Lua script ran it (the script's EVALSHA is a `Seen` of its own)."""
        return self.client == "lua"

    @property
    def label(self) -> str:
        """The name, with " (script)" after it for a command a script ran."""
        return f"{self.name} (script)" if self.in_script else self.name


def parse_line(line: bytes) -> Seen | None:
    """The command one MONITOR line reports; None for a line that reports none (``+OK``)."""
    match = _LINE.match(line.rstrip(b"\r\n"))
    if match is None:
        return None
    stamp, client, rest = match.groups()
    found = _ARG.finditer(rest, 0, _ARGS_SCANNED)
    args = [arg.group(1) for arg in itertools.islice(found, 1 + _ARGS_KEPT)]
    if not args:
        return None
    name = command_name(args[0], args[1] if len(args) > 1 else None)
    chat = None
    if name == "xadd" and (job := _JOB_CHAT.search(rest)):
        chat = int(job.group(1))
    return Seen(
        float(stamp),
        client.decode("utf-8", "replace"),
        name,
        tuple(arg.decode("utf-8", "replace")[:_ARG_CHARS] for arg in args[1:]),
        chat,
    )


class MonitorLog:
    """Every command redis-server (on 127.0.0.1:``port``) runs from the moment `start` returns,
    in `seen`, in the order the server ran them; those of the connection ``ignore``
    (``ip:port``, e.g. the benchmark's own) are left out."""

    def __init__(self, port: int, *, ignore: str | None = None) -> None:
        self.port = port
        self.ignore = ignore
        self.seen: list[Seen] = []
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the connection and send MONITOR. Raises BenchError when the server refuses."""
        # Large limit: a line holds every argument, and a queued job is a few hundred bytes.
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 24)
        self._writer = writer
        writer.write(b"MONITOR\r\n")
        await writer.drain()
        answer = await reader.readline()
        if not answer.startswith(b"+OK"):
            raise BenchError(f"MONITOR refused: {answer!r}")
        self._task = asyncio.create_task(self._read(reader), name="redis-monitor")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            seen = parse_line(line)
            if seen is not None and seen.client != self.ignore:
                self.seen.append(seen)

    async def drain(self) -> None:
        """Wait DRAIN_SECONDS, for the lines of the commands already run to arrive (call it
        after stopping the bot, before `stop`)."""
        await asyncio.sleep(DRAIN_SECONDS)

    async def stop(self) -> None:
        """Stop reading; `seen` keeps what was read."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    def in_order(self) -> list[Seen]:
        """`seen` sorted by time stamp (the order the server ran them in, unless its clock
        stepped back)."""
        return sorted(self.seen, key=lambda seen: seen.t)
