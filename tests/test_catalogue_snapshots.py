"""Every message of the catalogue, in both languages, rendered with representative arguments and
compared with the snapshot in ``tests/snapshots/catalogue.txt``, which is read to review the
words (each key in English, then in Russian, once per variant of its selectors).

A text that changes fails this test until the snapshot is written again, on purpose:

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_catalogue_snapshots.py

then read the snapshot's diff before committing it.
"""

from __future__ import annotations

import difflib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fluent.syntax import FluentParser, ast, visitor

from bot.i18n import LANGUAGES, LOCALES, Catalogue, Texts
from bot.telegram.commands import help_list
from bot.telegram.handlers.usage import money
from bot.tools import TOOLS

SNAPSHOT = Path(__file__).parent / "snapshots" / "catalogue.txt"

# What each variable stands for, as the handlers pass it (a variable not here is shown as
# "{name}", so a new message needs no edit here, only the snapshot written again).
ARGS: dict[str, Any] = {
    "all": 4,
    "bot": "voicebot",
    "can": "web_search, clock, notes, reminders",
    "command": "cancel",
    "cost": "0.52 ₽",
    "count": 3,
    "currency": "RUB",
    "day": 0,
    "description": "date and time",
    "detail": "invalid_api_key: the key is not valid",
    "example": "reminders",
    "failures": 2,
    "id": 7,
    "instructions": "Answer briefly.",
    "label": "Today",
    "length": 3001,
    "limit": 5,
    "line": "#a1b2 Sun 30.11 18:40 — call mum",
    "lines": "Voice: marina",
    "mark": "✅",
    "minutes": 1.5,
    "mode": "replies and mentions",
    "offset": "UTC+03:00",
    "on": 3,
    "resets": "2026-12-01 00:00 UTC",
    "search": "yes",
    "seconds": 30,
    "setting": "REALTIME_MODEL",
    "settings": "/voice — choose the voice",
    "size": 25.3,
    "state": "on",
    "text": "call mum",
    "time": "Sun 30.11 18:40",
    "tool": "clock",
    "tools": "web_search, clock, notes, reminders",
    "turns": 2,
    "use": "/settings — this chat's settings",
    "value": "on",
    "voice": "marina",
    "voices": "alena, marina",
    "when": "Sun 30.11 18:40",
    "where": "private",
    "who": "Ann @ann (5005)",
    "zone": "Europe/Moscow",
}
# The values a selector is tried with where its variants are numbers' plural forms.
NUMBERS: dict[str, tuple[int, ...]] = {
    "count": (0, 1, 3),
    "limit": (1, 5),
    "turns": (1, 2, 5),
    "day": (0, 6),
    "all": (4,),
    "on": (1,),
}
# The arguments a message gets from the table or the other messages, in its language.
COMPOSED: dict[str, Callable[[Texts], dict[str, Any]]] = {
    "help": lambda texts: {"use": help_list(texts, "use")},
    "help-more": lambda texts: {"settings": help_list(texts, "settings")},
    # Each setting's state in its own agreed words ("Живые ответы включены").
    "live-usage": lambda texts: {"state": texts("live-state-on")},
    "live-set": lambda texts: {"state": texts("live-state-off")},
    "settings-live": lambda texts: {"value": texts("live-state-on")},
    "memory-usage": lambda texts: {"state": texts("memory-state-on")},
    "memory-set": lambda texts: {"state": texts("memory-state-off")},
    "transcript-usage": lambda texts: {"state": texts("transcript-state-off")},
    "transcript-set": lambda texts: {"state": texts("transcript-state-on")},
    "usage-line": lambda texts: {
        "label": texts("usage-you-today"),
        "cost": money(0.52, "RUB", texts.lang),
    },
}


class _Selectors(visitor.Visitor):
    """The variables a message selects on, each with its variants' keys."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[object]] = {}

    def visit_SelectExpression(self, node: ast.SelectExpression) -> None:
        if isinstance(node.selector, ast.VariableReference):
            keys = self.found.setdefault(node.selector.id.name, [])
            for variant in node.variants:
                key = variant.key
                value: object = key.name if isinstance(key, ast.Identifier) else int(key.value)
                if value not in keys:
                    keys.append(value)
        self.generic_visit(node)


def _selectors() -> dict[str, dict[str, list[object]]]:
    """Each message's selectors, across the languages (a language may select on more)."""
    found: dict[str, dict[str, list[object]]] = {}
    for lang in LANGUAGES:
        for path in sorted((LOCALES / lang).glob("*.ftl")):
            resource = FluentParser().parse(path.read_text(encoding="utf-8"))
            for entry in resource.body:
                if isinstance(entry, ast.Message):
                    selectors = _Selectors()
                    selectors.visit(entry)
                    mine = found.setdefault(entry.id.name, {})
                    for name, keys in selectors.found.items():
                        mine.setdefault(name, [])
                        mine[name] += [k for k in keys if k not in mine[name]]
    return found


def _variants(selectors: dict[str, list[object]]) -> Iterator[dict[str, object]]:
    names = sorted(selectors)
    choices = [NUMBERS.get(name) or selectors[name] for name in names]
    for values in itertools.product(*choices):
        yield dict(zip(names, values, strict=True))


def _placeholders(catalogue: Catalogue, lang: str, key: str) -> dict[str, str]:
    """ "{name}" for each variable the message uses that ``ARGS`` does not give."""
    args: dict[str, str] = {}
    while True:
        try:
            catalogue.get(lang, key, **{**ARGS, **args})
        except KeyError as exc:
            missing = str(exc).split("Unknown external: ")
            if len(missing) < 2:
                raise
            name = missing[1].split("'")[0].split('"')[0].rstrip(")")
            args[name] = "{" + name + "}"
            continue
        return args


def render_all() -> str:
    catalogue = Catalogue()
    selectors = _selectors()
    out = []
    for key in sorted(catalogue.keys("en")):
        for variant in _variants(selectors.get(key, {})):
            for lang in LANGUAGES[::-1]:  # English, then Russian
                texts = Texts(catalogue, lang)
                args = {**ARGS, **_placeholders(catalogue, lang, key)}
                args.update(COMPOSED[key](texts) if key in COMPOSED else {})
                args.update(variant)
                shown = ", ".join(f"{name}={value}" for name, value in variant.items())
                out.append(f"## {lang} {key}" + (f" [{shown}]" if shown else ""))
                out.append(catalogue.get(lang, key, **args))
                out.append("")
    return "\n".join(out)


def test_every_message_matches_its_snapshot() -> None:
    rendered = render_all()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered, encoding="utf-8")
        return
    assert SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_SNAPSHOTS=1 and read it"
    expected = SNAPSHOT.read_text(encoding="utf-8")
    if rendered != expected:
        diff = "\n".join(
            difflib.unified_diff(
                expected.splitlines(), rendered.splitlines(), "snapshot", "now", lineterm=""
            )
        )
        raise AssertionError(
            "the catalogue's texts changed; read the diff, then write the snapshot again with "
            f"UPDATE_SNAPSHOTS=1 .venv/bin/pytest {Path(__file__).name}\n{diff}"
        )


def test_every_tool_has_a_name_for_people_in_every_language() -> None:
    """``TOOL($tool)`` words a tool by ``tool-name-NAME``; without one, its bare name shows."""
    catalogue = Catalogue()
    for lang in LANGUAGES:
        for spec in TOOLS:
            assert f"tool-name-{spec.name}" in catalogue.keys(lang)
        assert catalogue.get(lang, "settings-tools", value="clock, notes") != catalogue.get(
            "en" if lang == "ru" else "ru", "settings-tools", value="clock, notes"
        )
        assert "clock" not in catalogue.get(lang, "tools-set-on", tool="clock")
