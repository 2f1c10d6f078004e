"""README's drawing of the layers is the import contract ``lint-imports`` checks: the list in
its ```layers block and the layers contract in ``pyproject.toml`` must be the same, top to
bottom, so neither can change without the other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# README's fenced block of the layers (indented as the list item it is in): one layer a line.
LAYERS_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)```layers\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def _normal(layer: str) -> str:
    """A layer as one string, its modules in order, single-spaced around ``|`` and ``:``."""
    return re.sub(r"\s*([|:])\s*", r" \1 ", layer.strip())


def contract_layers() -> list[str]:
    layered = [c for c in _contracts() if c["type"] == "layers"]
    assert len(layered) == 1, "pyproject.toml has one layers contract"
    return [_normal(layer) for layer in layered[0]["layers"]]


def readme_layers() -> list[str]:
    blocks = list(LAYERS_BLOCK.finditer((ROOT / "README.md").read_text(encoding="utf-8")))
    assert len(blocks) == 1, "README.md has one ```layers block"
    lines = blocks[0]["body"].splitlines()
    return [_normal(line) for line in lines if line.strip()]


def test_readme_lists_the_layers_of_the_contract() -> None:
    assert readme_layers() == contract_layers()


def test_the_core_is_forbidden_every_adapter() -> None:
    layers = contract_layers()
    core_layer = next(layer for layer in layers if "bot.core" in layer.split(" | "))
    adapters = {name for name in core_layer.split(" | ") if name != "bot.core"}
    adapters |= {"bot.audio", "bot.storage", "bot.telegram"}
    forbidden = [
        c for c in _contracts() if c["type"] == "forbidden" and c["source_modules"] == ["bot.core"]
    ]
    assert forbidden, "a forbidden contract keeps the core from the adapters"
    assert adapters <= set(forbidden[0]["forbidden_modules"])


def test_each_outside_client_has_one_home() -> None:
    homes = {"redis": "bot.storage", "websockets": "bot.realtime", "aiogram": "bot.telegram"}
    top = {name for layer in contract_layers() for name in re.split(r" [|:] ", layer)}
    for package, home in homes.items():
        contract = next(
            c
            for c in _contracts()
            if c["type"] == "forbidden" and c["forbidden_modules"] == [package]
        )
        assert set(contract["source_modules"]) == top - {home}, package
