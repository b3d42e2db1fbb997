"""How restore speaks of runs: `--list` (when, what, the backup), what a restore undoes, and
the titles it keeps because their backup cannot show the run created them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from malsync.commands.restore import RestoreResult, RestoreStep
from malsync.pipeline.records import counted
from malsync.report.run_report import capped
from malsync.store.runs import RunRecord

# Beside the checkpoint: the whole of a dry run's list when it is longer than a screen.
RESTORE_LISTING_FILE = "restore-dry-run.txt"


def kept_lines(kept: Sequence[RestoreStep]) -> list[str]:
    """Per run, the titles its log says it created that restore keeps, and what to do."""
    lines = []
    for run_id in sorted({title.run_id for title in kept}, reverse=True):
        labels = [f"  {title.label}" for title in kept if title.run_id == run_id]
        one = len(labels) == 1
        them = "it" if one else "them"
        lines.append(
            f"Kept {counted(len(labels), 'title')} as {'it is' if one else 'they are'}: the "
            f"backup cannot show that run {run_id} created {them} (it read an empty list of "
            f"ratings that nothing could check). If the run did create {them}, delete {them} "
            "on aniSearch yourself:"
        )
        lines.extend(capped(labels))
    return lines


def _when(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M")


def run_list_lines(runs: Sequence[RunRecord], checkpoint_file: Path) -> list[str]:
    """One line per run, oldest first, and how to undo them."""
    if not runs:
        return [f"{checkpoint_file}: no runs yet."]
    lines = [f"Runs in {checkpoint_file}:"]
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


def undoing_lines(result: RestoreResult) -> list[str]:
    """Which runs a restore undoes, from which backups; where it undoes only the latest run of
    a first migration that took several, how to undo the whole of it; the titles it keeps."""
    lines = [f"Backup: {path} (taken before run {run_id})" for run_id, path in result.backups]
    if result.migration:
        first, last = result.migration[0], result.migration[-1]
        undone = ", ".join(str(run_id) for run_id, _ in result.backups)
        lines.append(
            f"This undoes run {undone} only: your first migration took runs {first} to {last} "
            f"(run {first} did not finish). malsync restore --since {first} undoes it whole."
        )
    return lines + kept_lines(result.kept)
