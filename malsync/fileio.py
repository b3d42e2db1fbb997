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
    temporary: str | None = None
    try:
        # Inside the `try`: a signal held while tempfile makes the file is raised at the next
        # line of malsync's code (cli/main.py), and the file must go then too.
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        if not private:
            # mkstemp creates 0600; an ordinary file gets the mode the umask gives. Read with a
            # strict mask in place, so that a signal between the two calls leaves files
            # private, not open to everyone.
            umask = os.umask(0o077)
            os.umask(umask)
            os.fchmod(descriptor, 0o666 & ~umask)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise
