"""Backups of what aniSearch held before a run wrote to it, for `malsync restore`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from malsync.errors import CheckpointError
from malsync.fileio import atomic_write
from malsync.json_text import write_indented_json
from malsync.pipeline.anisearch_ratings import AniSearchRatings, RawRatings
from malsync.pipeline.records import MediaType

if TYPE_CHECKING:  # opened by the command; a dry run without one never loads it
    from malsync.store.checkpoint import Checkpoint

# How many runs back `malsync restore` can go, newest first (README: Backups).
KEEP_BACKUPS = 10


@dataclass(frozen=True)
class Backup:
    path: Path
    run_id: int
    ratings: AniSearchRatings  # what aniSearch held before the run
    # The media types read whole: only there does a title missing from the backup prove the
    # run created it. A backup from before malsync noted it: those it holds ratings of.
    whole: frozenset[MediaType] = frozenset()


def backup_folder(checkpoint_file: Path) -> Path:
    return checkpoint_file.parent / "backups"


def write_backup(
    checkpoint_file: Path, run_id: int, base_url: str, raw: RawRatings, whole: Iterable[MediaType]
) -> Path:
    """Write the ratings as read, next to the checkpoint; private, since it is personal data."""
    now = dt.datetime.now(dt.timezone.utc)
    path = (
        backup_folder(checkpoint_file)
        / f"ratings-{now.strftime('%Y%m%dT%H%M%SZ')}-run{run_id}.json"
    )
    document = {
        "run_id": run_id,
        "created_at": now.isoformat(timespec="seconds"),
        "base_url": base_url,
        "read_whole": sorted(media.value for media in whole),
        "ratings": raw,
    }

    def dump(handle: TextIO) -> None:
        write_indented_json(document, handle, indent=1)

    atomic_write(path, dump, private=True, durable=True)
    return path


def load_backup(path: Path) -> Backup:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        run_id = int(document["run_id"])
        ratings = AniSearchRatings.from_raw(document["ratings"])
        whole = _read_whole(document)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such backup") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path}: not a malsync backup ({error})") from None
    return Backup(path, run_id, ratings, whole)


def _read_whole(document: dict[str, Any]) -> frozenset[MediaType]:
    if "read_whole" in document:
        return frozenset(MediaType(media) for media in document["read_whole"])
    # Older backups do not say: an empty list there cannot be told from an outage.
    return frozenset(MediaType(media) for media, items in document["ratings"].items() if items)


def prune_backups(checkpoint: Checkpoint, checkpoint_file: Path, current_run: int) -> list[Path]:
    """Delete the backups no restore needs any more; returns the files deleted.

    Kept: the current run's, and those of the newest KEEP_BACKUPS runs that recorded a change
    (made, or sent without its answer recorded). A run that changed nothing has nothing to undo.
    Only files in the backup folder are ever deleted.
    """
    folder = backup_folder(checkpoint_file).resolve()
    kept = 0
    deleted = []
    for run_id, path, changed in checkpoint.backups():
        if run_id == current_run or (changed and kept < KEEP_BACKUPS):
            kept += 1
            continue
        if path.resolve().parent == folder:
            path.unlink(missing_ok=True)
            deleted.append(path)
        checkpoint.forget_backup(run_id)
    return deleted
