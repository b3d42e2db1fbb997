"""Another SQLite client holding the checkpoint's write lock: a run waits for it, says so in one
line when it is held too long, and a SIGTERM meanwhile ends the run at once."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from malsync.cli.main import main
from malsync.errors import CheckpointError
from malsync.pipeline.records import MediaType, Outcome, Settlement
from malsync.store import patience
from malsync.store.checkpoint import Checkpoint
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_signals import finished, start_cli


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


@contextmanager
def write_lock_held(path: Path, seconds: float | None = None) -> Iterator[None]:
    """Another client (as a database browser would) holding the file's write lock, for
    `seconds` (then let go from another thread) or until the block ends."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(seconds, other.rollback) if seconds is not None else None
    if timer is not None:
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.join()
        if other.in_transaction:
            other.rollback()
        other.close()


def test_a_write_waits_for_another_clients_lock_and_then_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with Checkpoint.open(path) as checkpoint:
        with write_lock_held(path, seconds=0.5):
            run_id = checkpoint.start_run(["a.xml"])  # SQLite alone gave up after 0.05 s
        assert checkpoint.last_run() is not None
        assert checkpoint.last_run().id == run_id  # type: ignore[union-attr]


def test_a_lock_held_past_the_wait_is_one_line_naming_the_file_and_the_other_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.sqlite3"
    monkeypatch.setattr(patience, "LOCK_WAIT", 0.3)
    with Checkpoint.open(path) as checkpoint, write_lock_held(path):
        started = time.monotonic()
        with pytest.raises(CheckpointError) as raised:
            checkpoint.start_run(["a.xml"])
        waited = time.monotonic() - started
    message = str(raised.value)
    assert message.startswith(f"{path}: the checkpoint is in use by another program")
    assert "free some space" not in message  # no disk to free: another program has the file
    assert waited >= 0.3


def test_a_run_opening_a_checkpoint_another_program_holds_ends_at_once_on_sigterm(
    tmp_path: Path,
) -> None:
    """SQLite's wait ran in C, where no signal handler runs: the SIGTERM waited 10 s for it."""
    with FakeAniSearch() as fake:
        config = write_config(tmp_path, fake.base_url)
        export_path = write(tmp_path / "l.xml", many(3))
        assert sync(config, export_path) == 0
        (state,) = tmp_path.rglob("state.sqlite3")
        with write_lock_held(state):
            process = start_cli(tmp_path, "sync", "--config", config, export_path)
            time.sleep(1.5)  # it is under way, waiting for the lock
            assert process.poll() is None, process.communicate()
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            err = finished(process, 30)
            ended = time.monotonic() - signalled
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert err.rstrip().endswith("malsync: terminated"), err
    assert ended < 3, f"it took {ended:.1f} s to end after the SIGTERM"


@pytest.mark.parametrize("word", ["busy", "locked"])
def test_undecodable_text_that_says_busy_or_locked_is_damage_not_another_program(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    word: str,
) -> None:
    """SQLite's text that Python cannot decode is quoted in the error: a title with 'busy' in
    it was taken for another client's lock, waited on, and blamed on another program."""
    monkeypatch.setattr(patience, "LOCK_WAIT", 1.0)  # the failure waited all of it
    path = tmp_path / "state.sqlite3"
    with Checkpoint.open(path) as checkpoint:
        run = checkpoint.start_run(["l.xml"])
        checkpoint.settle_many(
            [Settlement((MediaType.ANIME, 7), "Title 7", Outcome.FAILED, run, error="HTTP 400")]
        )
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE entries SET title = CAST(X'" + f"always {word} ".encode().hex() + "C328' AS TEXT)"
    )
    db.commit()
    db.close()
    config = write_config(tmp_path, "http://127.0.0.1:9")
    capsys.readouterr()
    started = time.monotonic()
    assert main(["status", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    assert str(path) in out and "the checkpoint is damaged" in out, out
    assert "in use by another program" not in out
    assert time.monotonic() - started < 1.0
