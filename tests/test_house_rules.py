"""The package's size limits, so that no function, module or folder grows past what a reader holds.

Branches per function are ruff's (PLR0912, max 15, in pyproject.toml); this checks the rest.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "malsync"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_function_is_longer_than_sixty_lines() -> None:
    too_long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.endswith("parser"):  # argparse builders are lists of options
                    continue
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} {length}")
    assert too_long == []


def test_no_module_is_longer_than_450_lines() -> None:
    too_long = [
        f"{path.relative_to(ROOT)} {lines}"
        for path in _modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert too_long == []


MAX_FOLDER_MODULES = 12


def test_no_folder_holds_more_than_twelve_modules() -> None:
    """A room a newcomer can take in at a glance; a thirteenth module means a new room."""
    crowded = []
    for folder in sorted({path.parent for path in _modules()}):
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        if len(modules) > MAX_FOLDER_MODULES:
            crowded.append(f"{folder.relative_to(ROOT)} {len(modules)}")
    assert crowded == []
