"""`malsync status`: what the checkpoint knows, for a person."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from malsync.checkpoint import Checkpoint
from malsync.config import Settings
from malsync.records import entry_label, mal_link

_LISTING_LIMIT = 50


def status_lines(settings: Settings, state: Path | None) -> list[str]:
    path = state or settings.sync.state
    with Checkpoint.open(path, create=False) as checkpoint:
        run = checkpoint.last_run()
        counts = checkpoint.outcome_counts()
        problems = checkpoint.entries(("failed", "not_found"))
    lines = [f"Checkpoint: {path}"]
    if run is None:
        lines.append("No run yet.")
    else:
        started = _when(run.started_at)
        if run.finished_at is None:
            ending = "did not finish (killed or still running)"
        else:
            ending = f"{run.status} at {_when(run.finished_at)}"
        lines.append(f"Last run: started {started}, {ending}")
        if run.counts:
            lines.append("  " + ", ".join(f"{name} {n}" for name, n in run.counts.items()))
    if counts:
        lines.append("Entries: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    if problems:
        lines.append(f"{len(problems)} entries are not on aniSearch as on MAL:")
        for entry in problems[:_LISTING_LIMIT]:
            label = entry_label(entry.media, entry.mal_id, entry.title)
            link = f" {mal_link(entry.media, entry.mal_id)}" if entry.outcome == "not_found" else ""
            lines.append(f"  {entry.outcome}: {label}: {entry.error}{link}")
        if len(problems) > _LISTING_LIMIT:
            lines.append(f"  ... and {len(problems) - _LISTING_LIMIT} more")
    return lines


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
