"""What surrounds a run and can lie to it: a second name for the checkpoint, a clock that was
ahead, a report path that holds someone's file, a checkpoint only readable."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from malsync.cli.main import main
from malsync.net.pacing import SlidingWindow
from tests.cli_runner import sync
from tests.conftest import ROOT, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch, Faults
from tests.fake_mal import FakeMal, MalUser, manga_item
from tests.test_interruptions import RUN_CLI
from tests.test_mal_sync import mal_section

STATE_IS_BUSY = "another malsync run is using this checkpoint"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("malsync: error:")]


def start_sync(tmp_path: Path, *arguments: str | Path) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "ANISEARCH_TOKEN": GOOD_TOKEN,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "sync", *map(str, arguments)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def uploaded(state: Path) -> set[int]:
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT mal_id FROM entries WHERE outcome = 'uploaded'").fetchall()
    return {mal_id for (mal_id,) in rows}


def test_a_run_through_a_hard_link_to_a_busy_checkpoint_is_refused_and_nothing_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two names, one file: SQLite keeps a journal per name, so two runs would each write
    their own and one's records would be lost."""
    with FakeAniSearch(faults=Faults(delay_seconds=0.05)) as fake:
        config = write_config(tmp_path, fake.base_url)
        state = tmp_path / "s.db"
        first = write(tmp_path / "first.xml", many(30))
        second = write(tmp_path / "second.xml", many(10, first_id=101))
        assert sync(config, "--state", state, first) == 0
        link = tmp_path / "link.db"
        os.link(state, link)
        more = write(tmp_path / "first.xml", many(30, my_score="8"))
        running = start_sync(tmp_path, "--config", config, "--state", state, more)
        deadline = time.monotonic() + 60
        while len(fake.puts()) < 31:
            assert running.poll() is None, running.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        capsys.readouterr()
        code = sync(config, "--state", link, second)
        err = capsys.readouterr().err
        _, running_err = running.communicate(timeout=60)
        assert running.returncode == 0, running_err
    assert code == 2
    assert len(error_lines(err)) == 1 and STATE_IS_BUSY in err
    assert "Traceback" not in err
    assert not any("/101/" in r.path for r in fake.received)  # the refused run sent nothing
    assert len(fake.puts()) == 60  # 30, then the same 30 changed: none twice
    assert uploaded(state) == set(range(1, 31))
    held = dict(fake.ratings)
    with FakeAniSearch() as fake:
        fake.ratings.update(held)  # the same account: it holds what the runs before wrote
        config = write_config(tmp_path, fake.base_url)
        assert sync(config, "--state", link, second) == 0
    assert uploaded(state) == {*range(1, 31), *range(101, 111)}
    assert link.stat().st_ino == state.stat().st_ino


def test_request_times_a_clock_ahead_left_in_the_checkpoint_do_not_stall_the_next_run(
    tmp_path: Path,
) -> None:
    """After a run with the clock a year ahead, the next waited 8760:00:00 for the window."""
    with FakeAniSearch(upsert_limit=(5, 1.0)) as fake:
        config = write_config(tmp_path, fake.base_url, upsert=(5, 1.0))
        state = tmp_path / "s.db"
        export = write(tmp_path / "l.xml", many(10))
        assert sync(config, "--state", state, export) == 0
        year = 365 * 24 * 3600
        with sqlite3.connect(state) as db:  # what a run with the clock a year ahead leaves
            db.execute(
                "UPDATE requests SET started = started + ?, finished = finished + ?", (year, year)
            )
        changed = write(tmp_path / "l.xml", many(10, my_score="8"))
        running = start_sync(tmp_path, "--config", config, "--state", state, changed)
        try:
            _, err = running.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            running.kill()
            running.communicate()
            pytest.fail("the run after the clock was ahead waited for the window")
        assert running.returncode == 0, err
        assert len(fake.accepted_puts()) == 20
        assert fake.max_in_any_window("PUT") <= 5
        # The second run's own requests are remembered at their true times.
        with sqlite3.connect(state) as db:
            latest = db.execute("SELECT MAX(started) FROM requests").fetchone()[0]
        assert latest <= time.time()


def test_a_window_whose_counted_times_lie_ahead_waits_one_window_at_most() -> None:
    """The clock went back during a run (or a history from one ahead reached the window)."""
    clock = [1_000_000.0]
    ahead = clock[0] + 365 * 24 * 3600
    window = SlidingWindow(2, 120.0, history=[ahead, ahead + 1], clock=lambda: clock[0])
    assert window.delay() == pytest.approx(120.0 + window.margin)
    clock[0] += window.delay()
    assert window.delay() == 0
    window.record(clock[0])
    window.record(clock[0])
    clock[0] -= 3600  # back an hour mid-run
    assert window.delay() == pytest.approx(120.0 + window.margin)


def test_a_report_never_replaces_a_file_malsync_did_not_write_unless_forced(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--report anime150.xml a17.xml`: a MAL export that is not this run's input."""
    config = write_config(tmp_path, fake.base_url)
    this_run = write(tmp_path / "a17.xml", many(2))
    other_export = write(tmp_path / "anime150.xml", many(150))
    notes = tmp_path / "notes.html"
    notes.write_text("<!DOCTYPE html><title>my notes</title>")
    data = tmp_path / "data.json"
    data.write_text('{"summary": "mine", "entries": 3}')
    csv_of_mine = tmp_path / "out" / "unmatched.csv"  # beside the report: not malsync's either
    csv_of_mine.parent.mkdir()
    csv_of_mine.write_text("name,price\nbread,2\n")
    kept = {path: path.read_bytes() for path in (other_export, notes, data, csv_of_mine)}
    for target in (other_export, notes, data, tmp_path / "out" / "r.json"):
        for dry_run in (("--dry-run",), ()):
            assert sync(config, *dry_run, "--report", target, this_run) == 2
            err = capsys.readouterr().err
            assert len(error_lines(err)) == 1, err
            assert "not a malsync report" in err and "--force" in err
            assert "Traceback" not in err
    assert {path: path.read_bytes() for path in kept} == kept
    assert fake.puts() == []
    # A new path, and then the reports malsync wrote there, are replaced without asking.
    for report in (tmp_path / "r.json", tmp_path / "r.html"):
        for _ in range(2):
            assert sync(config, "--dry-run", "--report", report, this_run) == 0
    assert "malsync report" in (tmp_path / "r.html").read_text()
    assert sync(config, "--dry-run", "--report", other_export, "--force", this_run) == 0
    assert json.loads(other_export.read_text())["summary"]["dry_run"] is True


def test_the_deletion_summary_names_the_live_list_or_the_exports(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeMal(users={"carol": MalUser(manga=[manga_item(i) for i in (1, 2, 3)])}) as mal:
        config = write_config(tmp_path, fake.base_url, extra=mal_section(mal))
        assert sync(config, "--mal-user", "carol") == 0
        mal.users["carol"].manga.pop()
        capsys.readouterr()
        assert sync(config, "--mal-user", "carol", "--delete-missing", "--yes") == 0
    err = capsys.readouterr().err
    assert "1 title malsync wrote is no longer on the MAL list (--delete-missing)" in err
    assert "exports" not in err
    state = tmp_path / "exports.db"
    assert sync(config, "--state", state, write(tmp_path / "l.xml", many(2))) == 0
    capsys.readouterr()
    one = write(tmp_path / "l.xml", many(1))
    assert sync(config, "--state", state, "--delete-missing", "--yes", one) == 0
    assert "1 title malsync wrote is no longer in the exports" in capsys.readouterr().err


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """The paths cannot be written, by anyone: immutable for root (whom modes do not stop)."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file read-only for root here: {made.stderr.strip()!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_commands_that_only_read_work_on_a_read_only_checkpoint(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    fake.preload("anime", 1, status="ongoing")  # so that the run takes a backup
    folder = tmp_path / "kept"
    folder.mkdir()
    state = folder / "s.db"
    config = write_config(tmp_path, fake.base_url, extra="")
    export_path = write(tmp_path / "l.xml", many(3))
    assert sync(config, "--state", state, export_path) == 0
    saved = state.read_bytes()
    capsys.readouterr()
    sent = len(fake.received)

    def command(*arguments: str | Path) -> tuple[int, str]:
        code = main([*map(str, arguments), "--config", str(config), "--state", str(state)])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    with read_only(*([state] if what == "file" else [state, folder])):
        status = command("status")
        status_json = command("status", "--json")
        listing = command("restore", "--list")
        restore_plan = command("restore", "--dry-run")
        sync_plan = command("sync", "--dry-run", export_path)
        real = command("sync", write(tmp_path / "l.xml", many(4)))
    assert status[0] == 0 and "Entries: uploaded 3" in status[1], status[1]
    assert status_json[0] == 0
    assert json.loads(status_json[1])["checkpoint"]["entries"] == {"uploaded": 3}
    assert listing[0] == 0 and "run 1" in listing[1], listing[1]
    assert restore_plan[0] == 0 and "delete anime 2" in restore_plan[1], restore_plan[1]
    assert sync_plan[0] == 0, sync_plan[1]
    for _, text in (status, status_json, listing, restore_plan, sync_plan):
        assert "cannot be written" not in text and "Traceback" not in text
    # A run that must write still stops before sending, with one line and exit 2.
    assert real[0] == 2 and len(error_lines(real[1])) == 1, real[1]
    assert {r.method for r in fake.received[sent:]} <= {"GET"}
    assert state.read_bytes() == saved


def test_an_older_read_only_checkpoint_says_it_must_be_writable_once(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    state = tmp_path / "s.db"
    assert sync(config, "--state", state, write(tmp_path / "l.xml", many(2))) == 0
    with sqlite3.connect(state) as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    db.close()
    saved = state.read_bytes()
    capsys.readouterr()
    with read_only(state):
        code = main(["status", "--config", str(config), "--state", str(state)])
    out = capsys.readouterr().out
    assert code == 2
    assert "the checkpoint is read-only and of schema 2" in out
    assert "make it writable for one run" in out
    assert state.read_bytes() == saved
