"""What a tool is: one ``ToolSpec`` per tool a chat switches on and off, the row of the registry
(``bot.tools.registry``) everything else is built from.

A spec says what the model is told (the function declarations, the lines of the session
instructions, the chat's context), what runs when the model calls (one handler per function),
what people call the tool (its aliases, its locale keys) and how far one turn may go (its
limits). ``ToolKit`` and ``TurnTools`` (``bot.tools.kit``) read only specs: no tool has a branch
of its own there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.tools.kit import ToolKit, TurnTools

__all__ = ["OBJECT", "Handler", "Source", "ToolSpec", "function", "schema"]

Handler = Callable[["TurnTools", dict[str, Any]], Awaitable[dict[str, Any]]]
"""A function's handler: the turn's tools (the job, the chat's zone, the stores, what was done)
and the model's arguments (a JSON object) in, the result the model reads out. A refusal is
raised (``ToolFailed``, ``LimitReached``): ``TurnTools.run`` makes it an error output."""

OBJECT: dict[str, Any] = {"type": "object", "properties": {}}
"""The parameters of a function that takes none."""


@dataclass(frozen=True)
class Source:
    """A web page an answer drew on, shown under it."""

    title: str
    url: str


def _always(kit: ToolKit) -> bool:
    return True


@dataclass(frozen=True)
class ToolSpec:
    """One tool: a group of functions a chat switches with ``/tools NAME on|off``.

    - ``name``: what ``/tools``, ``TOOLS_DISABLED`` and the chat's settings call it;
    - ``declarations``: its functions' JSON schemas, as they go into ``session.tools``;
    - ``handlers``: function name → ``Handler``, one for each declared function;
    - ``instructions``: its lines of the session instructions (a text, or made from the turn:
      the chat's zone, what was read for it), empty for none;
    - ``local_time``: the instructions open with the chat's local date and time when it is on
      (the tools that work with times need it);
    - ``context``: made from the turn, what the model gets as a quoted user message before the
      conversation (people's words, never instructions); None for nothing;
    - ``words``: the locale keys of its commands' words for people (``/notes``…), besides its
      one-line description (``description``);
    - ``aliases``: what people may call it besides its name (``/tools time off``);
    - ``limits``: its bounds, by name, with their defaults (``ToolKit`` takes others);
    - ``provider_declarations``: declared instead of ``declarations`` where the provider runs
      the tool itself (``ToolKit.provider_search``): its calls are the provider's
      (``ToolBox.server_side``); ``handlers`` still answer one the provider leaves to the bot;
    - ``available``: whether the deployment has the tool at all (a back end it needs).
    """

    name: str
    declarations: tuple[dict[str, Any], ...]
    handlers: Mapping[str, Handler]
    instructions: str | Callable[[TurnTools], str] = ""
    local_time: bool = False
    context: Callable[[TurnTools], str] | None = None
    words: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    limits: Mapping[str, int] = field(default_factory=dict)
    provider_declarations: tuple[dict[str, Any], ...] = ()
    available: Callable[[ToolKit], bool] = _always

    def __post_init__(self) -> None:
        declared = {d["name"] for d in (*self.declarations, *self.provider_declarations)}
        if declared != set(self.handlers):
            raise ValueError(
                f"tool {self.name!r}: every declared function needs a handler, and only those"
            )

    @property
    def description(self) -> str:
        """The locale key of its one-line description, shown by ``/tools`` and ``/help``."""
        return f"tool-{self.name}"

    @property
    def locale_keys(self) -> tuple[str, ...]:
        """Every locale key of its words: its description first."""
        return (self.description, *self.words)

    @property
    def server_side(self) -> bool:
        """Whether a provider may run it itself (Yandex's ``web_search``)."""
        return bool(self.provider_declarations)

    def instructions_for(self, tools: TurnTools) -> str:
        """Its lines of the session instructions for this turn."""
        made = self.instructions
        return made if isinstance(made, str) else made(tools)


def function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A function's declaration, as ``session.tools`` takes it."""
    return {"type": "function", "name": name, "description": description, "parameters": parameters}


def schema(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a function: an object of ``properties``, ``required`` ones named."""
    return {"type": "object", "properties": properties, "required": required}
