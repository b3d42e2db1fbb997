"""Writing files so that a reader never sees half of one, whatever stops the writer."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def atomic_write(
    path: Path, write: Callable[[TextIO], None], *, private: bool = False, durable: bool = False
) -> None:
    """Write through a temporary file beside `path`, then rename it into place.

    `private` makes the file 0600 from the moment it exists (tokens, backups: personal data);
    `durable` syncs it to disk before the rename (files that must survive a power cut).
    The temporary file is removed on any failure, a full disk included.
    """
    if private:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        if not private:
            # mkstemp creates 0600; an ordinary file gets the mode the umask gives.
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(descriptor, 0o666 & ~umask)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
