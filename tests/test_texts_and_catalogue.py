"""Message catalogue completeness and splitting long replies for Telegram."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot import errors
from bot.i18n import Catalogue, pick_language
from bot.telegram.texts import split_text

ROOT = Path(__file__).resolve().parents[1]


def test_every_language_has_every_message() -> None:
    catalogue = Catalogue()
    assert catalogue.keys("ru") == catalogue.keys("en")


def test_every_error_has_a_message_in_both_languages() -> None:
    catalogue = Catalogue()
    keys = {
        cls.key
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.BotError)
    }
    for lang in ("ru", "en"):
        for key in keys:
            assert catalogue.get(lang, key, seconds=1, limit=2, size=3)


def test_every_message_key_used_in_code_exists() -> None:
    catalogue = Catalogue()
    used: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and "catalogue" in ast.unparse(node.func.value)
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                used.add(node.args[1].value)
            if (  # texts("key", ...): the catalogue bound to the user's language
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "texts"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                used.add(node.args[0].value)
    assert used, "no catalogue look-ups found"
    assert used <= catalogue.keys("en")


@pytest.mark.parametrize(
    ("code", "lang"),
    [("ru", "ru"), ("uk", "ru"), ("be", "ru"), ("kk", "ru"), ("en-US", "en"), (None, "en"),
     ("de", "en")],
)  # fmt: skip
def test_language_choice(code: str | None, lang: str) -> None:
    assert pick_language(code) == lang


def test_split_text_at_sentences_within_limit() -> None:
    sentence = "Это предложение номер {}. "
    text = "".join(sentence.format(i) for i in range(400))
    parts = split_text(text, 4096)
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == text.strip()


def test_split_text_without_sentences_still_fits() -> None:
    parts = split_text("x" * 10_000, 4096)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_every_menu_command_has_a_description() -> None:
    from bot.telegram.commands import ADMINS, EVERYONE, PRIVATE

    catalogue = Catalogue()
    for lang in ("ru", "en"):
        for name in {*EVERYONE, *PRIVATE, *ADMINS}:
            assert catalogue.get(lang, f"menu-{name}")


def test_the_core_never_imports_aiogram() -> None:
    for package in ("core", "realtime", "audio", "storage", "queue"):
        for path in (ROOT / "bot" / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                for name in names:
                    assert not name.startswith(("aiogram", "bot.telegram")), f"{path}: {name}"
