"""Backups of what aniSearch held before a run wrote to it, for `malsync restore`."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from malsync.errors import StateError
from malsync.planner import RemoteState, remote_rating
from malsync.records import MediaType
from malsync.remote import RawRatings


@dataclass(frozen=True)
class Backup:
    path: Path
    run_id: int
    state: RemoteState


def backup_folder(state_path: Path) -> Path:
    return state_path.parent / "backups"


def write_backup(state_path: Path, run_id: int, base_url: str, raw: RawRatings) -> Path:
    """Write the ratings as read, next to the checkpoint; private, since it is personal data."""
    folder = backup_folder(state_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"ratings-{stamp}-run{run_id}.json"
    document = {
        "run_id": run_id,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "base_url": base_url,
        "ratings": raw,
    }
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


def load_backup(path: Path) -> Backup:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        run_id = int(document["run_id"])
        raw = document["ratings"]
        ratings = {
            MediaType(media): [r for r in map(remote_rating, items) if r is not None]
            for media, items in raw.items()
        }
    except FileNotFoundError:
        raise StateError(f"{path}: no such backup") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise StateError(f"{path}: not a malsync backup ({error})") from None
    return Backup(path, run_id, RemoteState.build(ratings))
