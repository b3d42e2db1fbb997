"""Where `--report` may write, decided before the run: a report must never cost a file.

Not over an input, the checkpoint (or its journal, backups) or a token file; not over a
device or a pipe (run as root, replacing /dev/null with a file breaks the machine); not over a
file malsync did not write, unless forced; `-` is stdout.
A symlink to a regular file is followed, so the file it points to is what gets updated.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from malsync.errors import ConfigError
from malsync.report.written import holds_a_report

STDOUT = Path("-")


@dataclass(frozen=True)
class Protected:
    """A file (or, with `folder`, every file in a folder) that a report must not replace."""

    path: Path
    what: str
    folder: bool = False


def checkpoint_files(checkpoint_file: Path, backups: Path) -> list[Protected]:
    files = [Protected(checkpoint_file, "the checkpoint")]
    for suffix in ("-wal", "-shm", "-journal"):
        files.append(
            Protected(
                checkpoint_file.with_name(checkpoint_file.name + suffix), "the checkpoint's journal"
            )
        )
    files.append(Protected(backups, "the backup folder", folder=True))
    return files


def report_target(
    report: Path,
    protected: Iterable[Protected],
    option: str = "--report",
    *,
    force: bool = False,
    ours: Callable[[Path], bool] = holds_a_report,
) -> Path:
    """The regular file to write, or STDOUT; ConfigError when writing there would destroy.

    An existing file is replaced only if `ours` finds that malsync wrote it, or with `force`.
    """
    if report == STDOUT:
        return STDOUT
    target = report.resolve()
    if target.is_dir():
        raise ConfigError(f"cannot write the report {report}: it is a folder")
    if target.exists() and not target.is_file():
        raise ConfigError(
            f"{option} {report}: not a regular file (a device or a pipe), left alone; "
            "give a file path, or - for standard output"
        )
    for item in protected:
        if _covers(item, target):
            raise ConfigError(
                f"{option} {report} is {item.what} ({item.path}); the report would overwrite "
                "it: give another path"
            )
    if target.exists() and not force and not ours(target):
        raise ConfigError(
            f"{option} {report} exists and is not a malsync report; it was left unchanged: "
            "give another path, or add --force to replace it (--force also sends unchanged "
            "entries again)"
        )
    return target


def _covers(item: Protected, target: Path) -> bool:
    place = item.path.resolve()
    if item.folder:
        # The folder itself too, before it exists: a report there would stop every backup.
        return place in (target, target.parent)
    if target == place:
        return True
    try:
        return target.exists() and place.exists() and os.path.samefile(target, place)
    except OSError:
        return False
