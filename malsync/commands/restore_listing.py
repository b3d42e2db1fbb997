"""How `restore --list` shows the runs a checkpoint knows: when, what, and the backup."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from malsync.store.runs import RunRecord

# Beside the checkpoint: the whole of a dry run's list when it is longer than a screen.
RESTORE_LISTING_FILE = "restore-dry-run.txt"


def _when(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M")


def run_list_lines(runs: Sequence[RunRecord], state: Path) -> list[str]:
    """One line per run, oldest first, and how to undo them."""
    if not runs:
        return [f"{state}: no runs yet."]
    lines = [f"Runs in {state}:"]
    for run in runs:
        counts = ", ".join(f"{name} {n}" for name, n in run.counts.items()) or "no counts"
        backup = run.backup or "no backup (it changed nothing on aniSearch)"
        lines.append(f"  run {run.id}  {_when(run.started_at)}  {run.status}  {counts}")
        lines.append(f"      backup: {backup}")
    lines.append(
        "malsync restore --run N undoes one run; --since N undoes run N and every later one "
        "(add --dry-run to see the values first)."
    )
    return lines
