"""The house rules of the layout: the engine is a plain library, the tools stay out of it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

ENGINE = PROJECT_ROOT / "retrieval"
FORBIDDEN = {"discord", "typer", "rich", "bot", "tools", "bench", "tests"}
"""What retrieval/ never imports: Discord, the command-line libraries, the bot, the tools,
the benchmarks and the tests."""
TOP_LEVEL = {"__init__.py", "engine.py", "types.py", "errors.py", "settings.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "path", sorted(ENGINE.rglob("*.py")), ids=lambda p: str(p.relative_to(ENGINE))
)
def test_the_engine_imports_no_discord_cli_bot_tools_or_tests(path: Path) -> None:
    """No module of retrieval/ imports discord, typer, rich, bot, tools, bench or tests."""
    assert not _imports(path) & FORBIDDEN


def test_the_engine_top_level_holds_only_its_entry_points() -> None:
    """retrieval/ itself holds the engine, its types, errors and settings; the rest is in rooms."""
    assert {p.name for p in ENGINE.glob("*.py")} == TOP_LEVEL
