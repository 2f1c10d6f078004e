"""The tools a turn's model may call, built from the registry's specs: what they are declared
as, what they do, what they did.

``ToolKit`` is built once (stores, search back end, bounds, the specs of ``bot.tools.registry``)
and makes a ``TurnTools`` for each turn: the chat's enabled tools, declared to the model, run
within that chat only (the chat id always comes from the turn, never from the model's
arguments), with the session instructions that tell the model the local time and when to use
each tool, and the context the tools give (the chat's notes: quoted words of the user role,
never instructions). Nothing here knows a tool by name: each is a ``ToolSpec``
(``bot.tools.spec``), and every tool is treated alike.

Bounds on what one turn's calls may do are the specs' ``limits`` (the deployment's settings
override them); a refusal is an error output the model reads and can pass on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from bot.domain import (
    ChatSettings,
    Note,
    ReminderCharge,
    ToolCall,
    TurnJob,
    tool_error,
    tool_result,
)
from bot.errors import LimitReached, StorageError, ToolFailed
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.storage.tool_quota import ToolQuota
from bot.tools.common import WEEKDAYS, local, zone
from bot.tools.notes import read_notes
from bot.tools.registry import TOOLS, check_disabled
from bot.tools.search import SearchBackend
from bot.tools.spec import Handler, Source, ToolSpec

__all__ = ["ToolKit", "TurnTools"]

log = logging.getLogger(__name__)


class ToolKit:
    """Which tools exist in this deployment and, per turn, which a chat has on.

    ``specs`` are the tools (the registry's); ``disabled`` ones are off for every chat (a name
    no spec has is a ``ConfigError``), and a spec's ``available`` says whether the deployment
    has it: ``web_search`` exists when the provider runs it (``provider_search``: the specs'
    ``provider_declarations`` are declared) or a ``search`` back end is given. ``now`` is the
    clock (tests fix it). ``limits`` are the specs' bounds by name, their defaults overridden by
    ``reminders_per_turn``, ``reminders_per_user_day`` (0: no daily cap) and
    ``searches_per_turn`` when given, then by ``limits``. With a ``quota`` store a person's
    reminders a day are counted; ``charge``, when given, says what setting a reminder for a turn
    costs (``ReminderStore.add``'s ``charge``).
    """

    def __init__(
        self,
        *,
        notes: NotesStore,
        reminders: ReminderStore,
        search: SearchBackend | None,
        provider_search: bool,
        disabled: frozenset[str],
        default_timezone: str,
        now: Callable[[], float] = time.time,
        reminders_per_turn: int | None = None,
        reminders_per_user_day: int | None = None,
        searches_per_turn: int | None = None,
        quota: ToolQuota | None = None,
        charge: Callable[[TurnJob], ReminderCharge | None] | None = None,
        limits: Mapping[str, int] | None = None,
        specs: tuple[ToolSpec, ...] = TOOLS,
    ) -> None:
        check_disabled(disabled, specs)
        _check_distinct(specs)
        self.specs = specs
        self.notes = notes
        self.reminders = reminders
        self.search = search
        self.provider_search = provider_search
        self.disabled = disabled
        self.default_timezone = default_timezone
        self.now = now
        self.quota = quota
        self.charge = charge
        named = {
            "reminders_per_turn": reminders_per_turn,
            "reminders_per_user_day": reminders_per_user_day,
            "searches_per_turn": searches_per_turn,
        }
        self.limits: dict[str, int] = {}
        for spec in specs:
            self.limits.update(spec.limits)
        self.limits.update({name: value for name, value in named.items() if value is not None})
        self.limits.update(limits or {})

    def available(self) -> tuple[str, ...]:
        """The tools a chat may switch on, in the registry's order."""
        return tuple(
            spec.name
            for spec in self.specs
            if spec.name not in self.disabled and spec.available(self)
        )

    def enabled_for(self, settings: ChatSettings) -> frozenset[str]:
        """The available tools the chat has on (each is on until the chat switches it off)."""
        return frozenset(name for name in self.available() if settings.tool_on(name, True))

    def timezone_for(self, settings: ChatSettings) -> str:
        """The chat's time zone: its own when it chose a known one, else the bot's default."""
        if settings.timezone and zone(settings.timezone) is not None:
            return settings.timezone
        return self.default_timezone

    async def for_turn(self, job: TurnJob, settings: ChatSettings) -> TurnTools | None:
        """The tools of ``job``'s turn, or None when the chat has none on; the chat's notes read
        first (``read_notes``)."""
        return self.prepare(job, settings, await self.read_notes(job.chat_id))

    async def read_notes(self, chat_id: int) -> list[Note] | None:
        """The chat's notes for a turn (``bot.tools.notes.read_notes``): read together with the
        chat's settings, before knowing whether the chat has notes on: one round trip."""
        return await read_notes(self, chat_id)

    def prepare(
        self, job: TurnJob, settings: ChatSettings, notes: list[Note] | None
    ) -> TurnTools | None:
        """The tools of ``job``'s turn given the chat's ``notes``, or None when the chat has
        none on."""
        enabled = self.enabled_for(settings)
        if not enabled:
            return None
        return TurnTools(
            job, self, enabled=enabled, timezone=self.timezone_for(settings), notes=notes
        )


def _check_distinct(specs: tuple[ToolSpec, ...]) -> None:
    """Raise ``ValueError`` when two specs share a name or a function: a call must name one."""
    names: set[str] = set()
    functions: set[str] = set()
    for spec in specs:
        if spec.name in names:
            raise ValueError(f"two tools are called {spec.name!r}")
        names.add(spec.name)
        if functions & set(spec.handlers):
            raise ValueError(f"tool {spec.name!r} declares a function another tool declares")
        functions |= set(spec.handlers)


class TurnTools:
    """The tools of one turn of one chat (``bot.domain.ToolBox``), and what they did.

    What the tools' handlers use: ``job`` (whose turn, in which chat), ``timezone`` and
    ``zone`` (the chat's), ``now()``, ``kit`` (the stores and the back end), ``limit(name)``
    and ``take``/``give_back`` (slots of a per-turn bound), and ``notes``, the chat's notes as
    read for the turn (None: they could not be read), which go to the model as ``context`` (a
    quoted user message), never in ``instructions``. ``actions`` and ``sources`` grow as calls
    run; ``summary()`` is them as lines for the chat.
    """

    def __init__(
        self,
        job: TurnJob,
        kit: ToolKit,
        *,
        enabled: frozenset[str],
        timezone: str,
        notes: list[Note] | None,
    ) -> None:
        self.job = job
        self.kit = kit
        self.enabled = enabled
        self.timezone = timezone
        self.zone = zone(timezone) or dt.UTC
        self.notes = notes
        # Slots taken this turn (calls of one round run at once: taken before they act).
        self._taken: dict[str, int] = {}
        self.actions: list[str] = []
        self.sources: list[Source] = []

        specs = [spec for spec in kit.specs if spec.name in enabled]
        declarations: list[dict[str, Any]] = []
        server_side: set[str] = set()
        handlers: dict[str, Handler] = {}
        for spec in specs:
            if kit.provider_search and spec.provider_declarations:
                declarations += spec.provider_declarations
                server_side.update(d["name"] for d in spec.provider_declarations)
            else:
                declarations += spec.declarations
            # With the provider's declarations too: should it leave a call to the bot after all.
            handlers.update(spec.handlers)
        self._declarations = tuple(declarations)
        self._server_side = frozenset(server_side)
        self._handlers = handlers
        self.instructions = self._instructions(specs)
        contexts = (spec.context(self) for spec in specs if spec.context is not None)
        self.context = "\n\n".join(text for text in contexts if text)

    # -- ToolBox ------------------------------------------------------------------------------

    @property
    def declarations(self) -> tuple[dict[str, Any], ...]:
        return self._declarations

    @property
    def server_side(self) -> frozenset[str]:
        return self._server_side

    async def run(self, call: ToolCall) -> str:
        """The output of ``call`` for the model: its result, or ``{"error": …}`` the model can
        explain to the user. Never raises (but lets a cancellation through)."""
        label = self.job.label
        handler = self._handlers.get(call.name)
        if handler is None:
            log.warning("%s: the model called an unknown tool %r", label, call.name[:64])
            return tool_error(f"there is no function {call.name!r} in this conversation")
        try:
            arguments = orjson.loads(call.arguments or "{}")
        except orjson.JSONDecodeError:
            log.warning("%s: tool %s called with arguments that are not JSON", label, call.name)
            return tool_error("the arguments are not valid JSON; call the function again")
        if not isinstance(arguments, dict):
            log.warning("%s: tool %s called with arguments not an object", label, call.name)
            return tool_error("the arguments must be a JSON object; call the function again")
        try:
            result = await handler(self, arguments)
        except LimitReached as exc:
            log.info("%s: tool %s refused: %s", label, call.name, exc)
            return tool_error(str(exc))
        except ToolFailed as exc:
            log.info("%s: tool %s failed: %s", label, call.name, exc)
            return tool_error(str(exc))
        except StorageError as exc:
            log.warning("%s: tool %s: storage unavailable: %s", label, call.name, exc)
            return tool_error("the bot's storage is unavailable just now; try again in a minute")
        except Exception as exc:  # the turn goes on; the model tells the user it did not work
            log.warning("%s: tool %s failed unexpectedly: %s", label, call.name, type(exc).__name__)
            log.debug("%s: tool %s failure", label, call.name, exc_info=True)
            return tool_error("the tool failed unexpectedly")
        log.info("%s: tool %s done", label, call.name)
        return tool_result(result)

    # -- what the handlers use ------------------------------------------------------------------

    def now(self) -> float:
        """The current Unix time (the kit's clock)."""
        return self.kit.now()

    def limit(self, name: str) -> int:
        """The bound ``name`` of a spec's ``limits``, as this deployment sets it."""
        return self.kit.limits[name]

    def take(self, slot: str, limit: int) -> bool:
        """Take one of the turn's ``limit`` slots of ``slot`` (set reminders, searches): False,
        taking nothing, when they are all taken."""
        taken = self._taken.get(slot, 0)
        if taken >= limit:
            return False
        self._taken[slot] = taken + 1
        return True

    def give_back(self, slot: str) -> None:
        """Give back a slot of ``slot`` taken by a call that did nothing after all."""
        self._taken[slot] = max(0, self._taken.get(slot, 0) - 1)

    # -- what the turn's tools did -------------------------------------------------------------

    def summary(self) -> str:
        """What the tools did, then the pages used, one line each; empty when nothing."""
        lines = [*self.actions, *(f"🔗 {source.title} — {source.url}" for source in self.sources)]
        return "\n".join(lines)

    # -- instructions ---------------------------------------------------------------------------

    def _instructions(self, specs: list[ToolSpec]) -> str:
        """The chat's local time when a tool on needs it, then each tool's lines."""
        lines = []
        if any(spec.local_time for spec in specs):
            now = local(self.now(), self.zone)
            offset = now.strftime("%z")
            lines.append(
                f"Now it is {WEEKDAYS[now.weekday()]}, {now:%Y-%m-%d %H:%M} in the chat's "
                f"time zone {self.timezone} (UTC{offset[:3]}:{offset[3:]})."
            )
        lines += [text for spec in specs if (text := spec.instructions_for(self))]
        return "\n".join(lines)
