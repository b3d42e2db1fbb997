"""Waiting for another SQLite client's lock on the checkpoint in malsync's own code.

SQLite's own busy wait (`sqlite3.connect(timeout=...)`) sleeps in C, where no Python signal
handler runs: a SIGTERM or Ctrl-C while another client (a database browser, `sqlite3` in a
shell) holds the checkpoint's write lock waited out the whole timeout, twice. So SQLite waits a
moment at a time, and the rest of the wait is this loop, between whose tries a signal is
raised at once. A second malsync never gets here: the advisory lock refuses it first.

A plain loop, not tenacity: a lock wait is no failed request to retry with backoff, and a dry
run that reads the checkpoint loads no retry library.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

# How long a command waits for another client's lock before it says the checkpoint is busy
# (SQLite's wait was this long before), and how long each of SQLite's own waits in C lasts.
LOCK_WAIT = 10.0
SQLITE_WAIT = 0.05

_T = TypeVar("_T")
_BUSY_CODES = {getattr(sqlite3, "SQLITE_BUSY", 5), getattr(sqlite3, "SQLITE_LOCKED", 6)}
# How SQLite words SQLITE_BUSY and SQLITE_LOCKED (sqlite3_errstr, and a table or schema named).
_BUSY_MESSAGES = ("database is locked", "database table is locked", "database schema is locked")


def connect(database: str | Any, **options: Any) -> sqlite3.Connection:
    """`sqlite3.connect` with short waits in C and the rest of `LOCK_WAIT` in Python."""
    return sqlite3.connect(database, timeout=SQLITE_WAIT, factory=PatientConnection, **options)


class PatientConnection(sqlite3.Connection):
    """A connection whose statements, refused for another client's lock with no transaction of
    its own left open (so that nothing was done), are tried again until `LOCK_WAIT` is over."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self._patiently(lambda: super(PatientConnection, self).execute(sql, parameters))

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        return self._patiently(lambda: super(PatientConnection, self).executescript(sql_script))

    def _patiently(self, statement: Callable[[], _T]) -> _T:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                return statement()
            except sqlite3.OperationalError as error:
                if not is_busy(error) or self.in_transaction or time.monotonic() >= deadline:
                    raise


def is_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite refused for another client's lock (not for the file itself)."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11 and later
    if code is not None:
        return code & 0xFF in _BUSY_CODES  # extended codes keep the primary one in the low byte
    # Python 3.10, or an error of Python's own (text it cannot decode, which it quotes: a title
    # may say "busy"): only SQLite's own words for a lock, at the start.
    return str(error).startswith(_BUSY_MESSAGES)
