"""`malsync restore` on the command line: which run to undo, the question before it, and the
listing of a dry run (longer than a screen, in a file beside the checkpoint)."""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from malsync.cli.console import Console
from malsync.commands.restore import RestoreResult, RestoreStep, RunChoice, list_runs, run_restore
from malsync.commands.restore_listing import RESTORE_LISTING_FILE, run_list_lines, undoing_lines
from malsync.compose import Composition
from malsync.errors import ConfigError, ExitStatus
from malsync.fileio import atomic_write
from malsync.pipeline.records import counted
from malsync.report.run_report import capped

log = logging.getLogger("malsync")


def restore_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    if args.backup is not None and (args.list or args.run is not None or args.since is not None):
        raise ConfigError("give a BACKUP file or --list, --run or --since, not both")
    if args.list:
        console.emit(run_list_lines(list_runs(root.checkpoint_file), root.checkpoint_file))
        return ExitStatus.OK

    asked = False

    def confirm(result: RestoreResult) -> bool:
        nonlocal asked
        if args.yes:
            return True
        console.emit(undoing_lines(result))  # what it undoes, before it asks
        asked = True
        steps = result.steps
        listing = capped([f"  {step.describe()}" for step in steps])
        these = "this rating" if len(steps) == 1 else f"these {len(steps)} ratings"
        return console.ask(f"Change {these} on aniSearch back?", listing)

    choice = RunChoice(args.backup, args.run, args.since)
    result = run_restore(
        root.open_session, root.checkpoint_file, choice, dry_run=args.dry_run, confirm=confirm
    )
    lines = [] if asked else undoing_lines(result)
    if not result.steps:
        if not (result.kept or result.stopped):
            lines.append("aniSearch already holds what it held before that run: nothing to do.")
    elif args.dry_run:
        lines.append(f"Dry run: {counted(len(result.steps), 'change')} would be made:")
        lines.extend(_dry_run_listing(result.steps, root.checkpoint_file.parent))
    elif not result.confirmed:
        console.emit([*lines, "Not confirmed: nothing was changed."])
        return ExitStatus.BAD_INPUT
    else:
        lines.append(f"Restored {result.done} of {len(result.steps)} titles.")
        lines.extend(f"  failed: {failure}" for failure in result.failed)
    if result.stopped:
        lines.append(f"Stopped: {result.stopped}")
    console.emit(lines)
    return result.exit_status


def _dry_run_listing(steps: Sequence[RestoreStep], folder: Path) -> list[str]:
    """Each change with its values; longer than a screen, the whole list goes to a file."""
    listing = [f"  {step.describe()}: {step.values()}" for step in steps]
    screen = max(10, shutil.get_terminal_size().lines - 6)
    if len(listing) <= screen:
        return listing
    path = folder / RESTORE_LISTING_FILE

    def dump(handle: TextIO) -> None:
        handle.writelines(line.strip() + "\n" for line in listing)

    try:
        atomic_write(path, dump, private=True)  # titles and notes: personal data
    except OSError as error:
        log.error("malsync: cannot write %s: %s", path, error.strerror)
        return capped(listing, screen)
    return [*listing[:screen], f"  ... the full list of {len(listing)} changes is in {path}"]
