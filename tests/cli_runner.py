"""The real CLI, run in this process the way a user types it: one helper for every test file."""

from __future__ import annotations

from pathlib import Path

from malsync.cli.main import main


def run(config: Path, command: str, *arguments: str | Path) -> int:
    """`malsync COMMAND --config CONFIG ARGUMENTS...`; its exit status."""
    return main([*command.split(), "--config", str(config), *map(str, arguments)])


def sync(config: Path, *arguments: str | Path) -> int:
    """`malsync sync --config CONFIG ARGUMENTS...`; its exit status."""
    return run(config, "sync", *arguments)
