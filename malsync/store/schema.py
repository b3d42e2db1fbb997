"""The checkpoint's file, before and around SQLite: what may be opened, the lock, the schema.

A file given as `--state` is inspected read-only before anything writes to it: a foreign
database must not gain tables or switch journal mode, and a damaged one must stop the run
before a request is sent that it could then not record.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import quote

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not guarded against each other
    fcntl = None  # type: ignore[assignment]

from malsync import __version__
from malsync.errors import CheckpointError
from malsync.store.patience import connect, is_busy
from malsync.store.titles import TITLES_TABLE

SCHEMA_VERSION = 7
# Every table as this version has it; IF NOT EXISTS, so it also completes a new, empty file.
SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    media TEXT NOT NULL,
    mal_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    accepted_hash TEXT,          -- the body aniSearch holds, as far as malsync knows
    accepted_at REAL,
    accepted_body TEXT,          -- that body (MAL's values, JSON): the base of the next merge
    written INTEGER NOT NULL DEFAULT 0,  -- 1 once malsync itself wrote the rating
    list_name TEXT,              -- whose MAL list held it last ('': no name); NULL: unknown
    outcome TEXT NOT NULL,
    error TEXT,
    updated_at REAL NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (media, mal_id)
);
CREATE TABLE IF NOT EXISTS changes (  -- what each run wrote, so that restore can undo it
    run_id INTEGER NOT NULL,
    media TEXT NOT NULL,
    mal_id INTEGER NOT NULL,
    anisearch_id INTEGER,
    action TEXT NOT NULL,
    existed INTEGER,             -- whether aniSearch had the rating before; NULL: not read
    payload TEXT,
    at REAL NOT NULL,
    request_id INTEGER,          -- the request that makes (or made) the change
    confirmed INTEGER NOT NULL DEFAULT 1,  -- 0: sent, answer not recorded: it may have happened
    -- 1: the change is to aniSearch title anisearch_id, known before it was sent
    by_title INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS changes_by_run ON changes (run_id);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS requests_by_kind ON requests (kind, started);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    files TEXT NOT NULL,
    counts TEXT,
    backup TEXT
);
"""
    + TITLES_TABLE
)
_OUR_TABLES = frozenset({"meta", "entries", "changes", "requests", "runs", "titles"})
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MAL_USER = re.compile(r"[A-Za-z0-9_-]{1,64}")  # not @me: which account it was is not known
_MOVE_ASIDE = (
    "move it aside and run again: with a fresh checkpoint the comparison with aniSearch loses "
    "no rating, but restore's run history and the list of titles --delete-missing may delete "
    "stay behind in the old file"
)


def damaged(path: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"{path}: the checkpoint is damaged ({detail}); {_MOVE_ASIDE}")


def storage_error(path: Path, error: sqlite3.Error) -> CheckpointError:
    """One line for a failure of the file itself, saying whether the run can simply resume."""
    text = str(error)
    if is_busy(error):
        return CheckpointError(
            f"{path}: the checkpoint is in use by another program ({text}); close it there, "
            "then run the same command again: what was recorded is kept"
        )
    if isinstance(error, sqlite3.OperationalError) and "decode" not in text:
        return CheckpointError(
            f"{path}: the checkpoint cannot be written ({text}); free some space or make it "
            "writable, then run the same command again: what was recorded is kept"
        )
    return damaged(path, text)


@contextmanager
def guarded(path: Path) -> Iterator[None]:
    """Turn SQLite's failures into one line naming the file."""
    try:
        yield
    except sqlite3.Error as error:
        raise storage_error(path, error) from None


def inspect(path: Path) -> None:
    """Refuse, without writing, a file that is neither new (or empty) nor a sound checkpoint."""
    try:
        if not path.exists() or (path.is_file() and path.stat().st_size == 0):
            return
        if not path.is_file():
            raise CheckpointError(f"{path}: not a regular file; give a file path as --state")
        with path.open("rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be opened ({error.strerror})") from None
    if magic != _SQLITE_MAGIC:
        raise CheckpointError(f"{path}: not a malsync checkpoint (not an SQLite database)")
    try:
        # A file this process cannot write is opened read-only, so that it can still be read.
        where = path if can_write(path) else read_only_uri(path)
        with closing(connect(where, uri=where != path, isolation_level=None)) as connection:
            connection.execute("PRAGMA query_only=ON")
            problems = [str(row[0]) for row in connection.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise damaged(path, _first_problem(problems))
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            schema = None
            if "meta" in tables:
                schema = connection.execute(
                    "SELECT value FROM meta WHERE key = 'schema'"
                ).fetchone()
            half_made = _half_made(connection)
    except sqlite3.Error as error:
        raise storage_error(path, error) from None
    if tables and schema is None and not half_made:
        raise CheckpointError(
            f"{path}: an SQLite database that is not a malsync checkpoint; it was left "
            "unchanged: give another --state"
        )


def read_only_uri(path: Path) -> str:
    """The file as SQLite opens it for reading only: nothing written to it or beside it.

    In a folder that cannot be written SQLite cannot make the shared-memory file it reads a WAL
    database with; with no journal beside it, the file alone is the whole checkpoint (and no
    writer can start there), so it is read as immutable.
    """
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    if not _has_content(wal) and not shm.exists() and not os.access(path.parent, os.W_OK):
        uri += "&immutable=1"
    return uri


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def can_write(path: Path) -> bool:
    """Whether this process may write the checkpoint and make its journal files beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """The checkpoint for a command that only reads it, where it cannot be written (a
    read-only file or folder). It must be of this schema: bringing one up to date writes."""
    connection = connect(read_only_uri(path), uri=True, isolation_level=None)
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except BaseException:
        connection.close()
        raise
    found = str(row[0]) if row is not None else "missing"
    if found != str(SCHEMA_VERSION):
        connection.close()
        raise CheckpointError(
            f"{path}: the checkpoint is read-only and of schema {found}, which malsync "
            f"{__version__} reads only after bringing it to schema {SCHEMA_VERSION} in place; "
            "make it writable for one run"
        )
    return connection


def _half_made(connection: sqlite3.Connection) -> bool:
    """A checkpoint whose creation stopped half-way (a full disk, before schema 3 made it one
    transaction): only malsync's tables, all empty, so it is taken as new and completed."""
    tables = [
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    if not tables or not set(tables) <= _OUR_TABLES:
        return False
    return not any(
        connection.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()  # noqa: S608 - ours
        for table in tables
    )


def create_schema(connection: sqlite3.Connection) -> None:
    """Every table and the schema row in one transaction: a full disk leaves all or nothing.

    An older checkpoint keeps its schema row here, for `migrate` to bring up to date.
    """
    try:
        connection.executescript(
            f"BEGIN IMMEDIATE;{SCHEMA}"  # noqa: S608 - constants only
            "INSERT OR IGNORE INTO meta (key, value) "
            f"VALUES ('schema', '{SCHEMA_VERSION}');COMMIT;"
        )
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _first_problem(problems: list[str]) -> str:
    """quick_check's first finding, on one line."""
    for problem in problems:
        text = " ".join(problem.replace("*** in database main ***", " ").split())
        if text:
            return text[:200]
    return "failed an integrity check"


def migrate(path: Path, connection: sqlite3.Connection) -> None:
    """Bring an older checkpoint up to this schema in place; refuse only a newer one."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    found = str(row[0]) if row is not None else "missing"
    version = int(found) if found.isdecimal() else -1
    if version == SCHEMA_VERSION:
        return
    if not 1 <= version < SCHEMA_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint schema {found} is not supported by malsync {__version__}"
        )
    connection.execute("BEGIN IMMEDIATE")
    try:
        columns = {info[1] for info in connection.execute("PRAGMA table_info(entries)")}
        if "anisearch_id" in columns and sqlite3.sqlite_version_info >= (3, 35):
            # Version 1 kept a column nothing read.
            connection.execute("ALTER TABLE entries DROP COLUMN anisearch_id")
        # Version 3: a change is recorded with its request, pending until answered.
        changes = {info[1] for info in connection.execute("PRAGMA table_info(changes)")}
        if "request_id" not in changes:
            connection.execute("ALTER TABLE changes ADD COLUMN request_id INTEGER")
        if "confirmed" not in changes:
            connection.execute(
                "ALTER TABLE changes ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 1"
            )
        if "accepted_body" not in columns:
            # Version 4: the accepted body itself. Older titles have none: no base to merge
            # from, so the next run sends them as mal-wins would, and keeps their bodies.
            connection.execute("ALTER TABLE entries ADD COLUMN accepted_body TEXT")
        if "list_name" not in columns:
            connection.execute("ALTER TABLE entries ADD COLUMN list_name TEXT")
            _lists_from_runs(connection)
        # Version 6: aniSearch titles sent by aniSearch id (the `titles` table, which
        # create_schema makes), and changes to them. Older changes were all to MAL entries.
        if "by_title" not in changes:
            connection.execute("ALTER TABLE changes ADD COLUMN by_title INTEGER NOT NULL DEFAULT 0")
        # Version 7: whether malsync wrote it, per aniSearch title (see _titles_written).
        titles = {info[1] for info in connection.execute("PRAGMA table_info(titles)")}
        if "written" not in titles:
            connection.execute("ALTER TABLE titles ADD COLUMN written INTEGER NOT NULL DEFAULT 0")
            _titles_written(connection)
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _lists_from_runs(connection: sqlite3.Connection) -> None:
    """Version 5: the list each title came from, where its last run says it. A live run read
    one list, named in its files (`myanimelist:NAME`); an export's user is not in its files
    (nor @me's account), so their titles stay unknown and --delete-missing never deletes them."""
    for run_id, files in connection.execute("SELECT id, files FROM runs").fetchall():
        try:
            read = json.loads(files)
        except ValueError:
            continue
        if isinstance(read, list) and len(read) == 1 and isinstance(read[0], str):
            name = read[0].removeprefix("myanimelist:")
            if name != read[0] and _MAL_USER.fullmatch(name):
                connection.execute(
                    "UPDATE entries SET list_name = ? WHERE run_id = ?", (name, run_id)
                )


def _titles_written(connection: sqlite3.Connection) -> None:
    """Version 7: which aniSearch titles malsync itself wrote, where an older checkpoint shows
    it. Before, the mark was the MAL entry's only, so a part found on aniSearch as MAL has it
    (never sent) was deleted with the part malsync wrote. A title counts as written only where
    that is known: its last fate is malsync's own accepted PUT (outcome uploaded), or an entry
    malsync wrote went into it and into no other title (unsplit: the entry's mark is its one
    title's; a bundle's members share one). Any other title, such as a part of a split entry a
    later run found unchanged, cannot be known to be malsync's: it is taken as not written, and
    --delete-missing never deletes it (it becomes malsync's again when malsync next writes it)."""
    entries = connection.execute("SELECT media, mal_id FROM entries WHERE written = 1")
    written = {(media, mal_id) for media, mal_id in entries}
    rows = connection.execute(
        "SELECT media, anisearch_id, members, accepted_hash, outcome FROM titles"
    ).fetchall()
    went: dict[tuple[str, int], int] = {}  # how many titles each entry went into
    members_of: dict[tuple[str, int], list[int]] = {}
    for media, anisearch_id, members, _, _ in rows:
        try:
            ids = sorted({int(each) for each in json.loads(members)})
        except (ValueError, TypeError):
            ids = []  # unreadable: nothing is inferred for this title
        members_of[(media, anisearch_id)] = ids
        for mal_id in ids:
            went[(media, mal_id)] = went.get((media, mal_id), 0) + 1
    for media, anisearch_id, _, digest, outcome in rows:
        unsplit_writer = any(
            (media, mal_id) in written and went[(media, mal_id)] == 1
            for mal_id in members_of[(media, anisearch_id)]
        )
        if digest is not None and (outcome == "uploaded" or unsplit_writer):
            connection.execute(
                "UPDATE titles SET written = 1 WHERE media = ? AND anisearch_id = ?",
                (media, anisearch_id),
            )


def create_private(path: Path) -> int:
    """The checkpoint file opened for reading, made empty (taken as new) if it does not exist.

    Titles and notes are personal data: a new checkpoint is 0600 from its first byte, and so
    are the -wal and -shm files SQLite makes beside it (it gives them the file's own mode).
    """
    return os.open(path, os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)


def lock_file(path: Path) -> IO[bytes]:
    """An advisory lock on the checkpoint file itself: two runs at once would share one rate
    window, and SQLite keeps its journal by name, so two names for one file (a hard link)
    would each get their own and lose one run's records.

    The lock is taken on the file, not on a name, so a symlink, `..` or a hard link to it is the
    same lock. It is flock, which SQLite's own locks (fcntl) do not touch. The file is made
    (empty, taken as new) if it does not exist, so that two first runs cannot both make it.
    """
    handle = os.fdopen(create_private(path), "rb")
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise CheckpointError(
                f"{path}: another malsync run is using this checkpoint; wait for it to finish"
            ) from None
    return handle


def release(lock: IO[bytes] | None) -> None:
    if lock is not None:
        lock.close()  # closing the file releases the lock
