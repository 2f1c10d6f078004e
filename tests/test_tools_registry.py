"""The tools' registry: a tool is one spec and one row. A spec added to the registry is declared
to the model, told of in the instructions, listed by ``/tools``, switched by its name and its
aliases and named in ``TOOL_NAMES``, with no other edit; every spec's words exist in every
language; the names the settings check are the registry's."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from bot.domain import ChatSettings, ToolCall, TurnJob, tool_refused
from bot.errors import ConfigError, ToolFailed
from bot.i18n import Catalogue
from bot.storage.notes import NotesStore
from bot.storage.reminders import ReminderStore
from bot.telegram.tool_words import resolve_tool, tool_aliases, tools_of
from bot.tools import TOOL_NAMES, TOOLS, ToolKit, ToolSpec, TurnTools
from bot.tools.registry import tool_names
from bot.tools.spec import function, schema

JOB = TurnJob(401, 12, user_id=5)


async def roll_dice(tools: TurnTools, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tool as a newcomer would write one: a handler reading its arguments and a bound."""
    sides = arguments.get("sides", 6)
    if not isinstance(sides, int) or not 2 <= sides <= tools.limit("dice_sides"):
        raise ToolFailed(f"sides must be a whole number from 2 to {tools.limit('dice_sides')}")
    rolled = random.Random(tools.job.message_id).randint(1, sides)
    tools.actions.append(f"🎲 {rolled}")
    return {"rolled": rolled, "sides": sides}


DICE = ToolSpec(
    name="dice",
    declarations=(
        function(
            "roll_dice",
            "Roll a die when the user asks for a random number or to roll dice.",
            schema([], sides={"type": "integer", "description": "How many sides (6 if unsaid)."}),
        ),
    ),
    handlers={"roll_dice": roll_dice},
    instructions="- roll_dice when asked to roll a die.",
    aliases=("die", "roll"),
    limits={"dice_sides": 100},
)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client never used: these tests call no store."""
    client = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    yield client
    await client.aclose()


def kit(
    redis: Redis,
    specs: tuple[ToolSpec, ...] = TOOLS,
    disabled: frozenset[str] = frozenset(),
    **options: Any,
) -> ToolKit:
    return ToolKit(
        notes=NotesStore(redis),
        reminders=ReminderStore(redis),
        search=None,
        provider_search=True,
        disabled=disabled,
        default_timezone="Europe/Moscow",
        now=lambda: 1_800_000_000.0,
        specs=specs,
        **options,
    )


def chat(**tools: bool) -> ChatSettings:
    return ChatSettings(
        voice="marina", instructions="", mode="replies", tools=tuple(sorted(tools.items()))
    )


async def test_a_new_spec_in_the_registry_is_a_whole_tool(redis: Redis) -> None:
    registry = (*TOOLS, DICE)
    toolkit = kit(redis, registry)
    # Named, listed and switched like the others.
    assert tool_names(registry) == (*TOOL_NAMES, "dice")
    assert toolkit.available() == (*TOOL_NAMES, "dice")
    assert tools_of(toolkit, chat()) == [*TOOL_NAMES, "dice"]
    assert tools_of(toolkit, chat(dice=False)) == list(TOOL_NAMES)
    assert resolve_tool("Dice", registry) == "dice" and resolve_tool("roll", registry) == "dice"
    assert tool_aliases(registry)["die"] == "dice"
    assert resolve_tool("dice") is None  # the deployment's registry has no dice

    # Declared to the model and told of in the instructions, run when called.
    tools = toolkit.prepare(JOB, chat(), [])
    assert tools is not None
    assert [d["name"] for d in tools.declarations][-1] == "roll_dice"
    assert "- roll_dice when asked to roll a die." in tools.instructions.splitlines()
    output = orjson.loads(await tools.run(ToolCall("c1", "roll_dice", '{"sides": 20}')))
    assert output["sides"] == 20 and 1 <= output["rolled"] <= 20
    assert tools.summary() == f"🎲 {output['rolled']}"
    refused = await tools.run(ToolCall("c2", "roll_dice", '{"sides": 1000}'))
    assert tool_refused(refused) and "from 2 to 100" in refused
    # Its limits are the spec's unless the deployment sets them.
    assert kit(redis, registry, limits={"dice_sides": 12}).limits["dice_sides"] == 12

    # Alone, or off.
    only = toolkit.prepare(
        JOB, chat(web_search=False, clock=False, notes=False, reminders=False), []
    )
    assert only is not None and [d["name"] for d in only.declarations] == ["roll_dice"]
    assert only.instructions == "- roll_dice when asked to roll a die." and only.context == ""
    off = toolkit.prepare(JOB, chat(dice=False), [])
    assert off is not None and "roll_dice" not in [d["name"] for d in off.declarations]
    assert kit(redis, registry, disabled=frozenset({"dice"})).available() == TOOL_NAMES


def test_settings_check_the_registrys_names(redis: Redis) -> None:
    # Config only reads TOOLS_DISABLED; the kit, built at start, checks it against the rows.
    assert tool_names(TOOLS) == TOOL_NAMES
    with pytest.raises(ConfigError, match=r"^TOOLS_DISABLED: unknown tools weather; known: "):
        kit(redis, disabled=frozenset({"weather"}))
    assert kit(redis, (*TOOLS, DICE), disabled=frozenset({"dice"})).disabled == {"dice"}


def test_every_specs_words_exist_in_every_language() -> None:
    catalogue = Catalogue()
    for spec in (*TOOLS, DICE):
        keys = spec.locale_keys
        assert keys[0] == f"tool-{spec.name}"  # what /tools and /help show
        if spec is DICE:
            continue  # a newcomer's spec brings its lines; the registry's are there
        for lang in ("en", "ru"):
            missing = set(keys) - catalogue.keys(lang)
            assert not missing, (spec.name, lang, missing)


def test_each_spec_is_whole_and_distinct(redis: Redis) -> None:
    functions: list[str] = []
    for spec in TOOLS:
        declared = {d["name"] for d in (*spec.declarations, *spec.provider_declarations)}
        assert declared == set(spec.handlers), spec.name
        functions += spec.handlers
        for declaration in spec.declarations:
            orjson.dumps(declaration)
    assert len(functions) == len(set(functions))
    aliases = tool_aliases()
    assert not set(aliases) & set(TOOL_NAMES) and set(aliases.values()) <= set(TOOL_NAMES)
    with pytest.raises(ValueError, match="needs a handler"):
        ToolSpec(name="broken", declarations=DICE.declarations, handlers={})
    with pytest.raises(ValueError, match="called 'dice'"):
        kit(redis, (*TOOLS, DICE, DICE))
    [server_side] = [spec for spec in TOOLS if spec.server_side]
    assert server_side.name == "web_search"
