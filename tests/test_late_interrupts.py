"""Ctrl-C or SIGTERM after the last answer was stored, as the run is closed: the stop it
already had is kept, each closing step is done once, and a second Ctrl-C does not leave the
run "running" for ever."""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from malsync.cli.main import main
from malsync.report.run_report import Report
from malsync.store.checkpoint import Checkpoint
from tests import test_titles_sync as titles
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_titles_sync import BEBOP, UNLINKED, the_list

linked = titles.linked  # the fake with aniSearch's MAL links (38840 linked to nothing)
_BUILD = Report.build.__func__  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def _interrupting_build(
    monkeypatch: pytest.MonkeyPatch, times: int, how: Callable[[], None]
) -> list[int]:
    """Report.build interrupted (`how`) on its first `times` calls."""
    calls: list[int] = []

    def build(cls: type[Report], *args: Any, **kwargs: Any) -> Report:
        calls.append(1)
        if len(calls) <= times:
            how()
        return _BUILD(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Report, "build", classmethod(build))
    return calls


def _ctrl_c() -> None:
    raise KeyboardInterrupt


def _sigterm() -> None:
    signal.raise_signal(signal.SIGTERM)  # held here (not malsync's code), raised in build


def _said(config: Path, capsys: pytest.CaptureFixture[str], *command: str) -> str:
    capsys.readouterr()
    assert main([*command, "--config", str(config)]) == 0
    said = capsys.readouterr()
    return said.out + said.err


def _runs(tmp_path: Path) -> list[tuple[str, str]]:
    (state,) = tmp_path.rglob("state.sqlite3")
    with sqlite3.connect(state) as db:
        return list(db.execute("SELECT status, counts FROM runs ORDER BY id"))


@pytest.mark.parametrize("how", [_ctrl_c, _sigterm])
def test_a_late_interrupt_after_a_403_still_says_the_server_stopped_the_run(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: Callable[[], None],
) -> None:
    """The server stopped the run (403, exit 3) and titles are left unsent; a Ctrl-C or
    SIGTERM as the run is closed must not make that 'interrupted': the report, the run's
    status in the checkpoint, restore --list and the exit code still say aniSearch refused."""
    fake.faults.scripted.extend([200, 403])
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / "r.json"
    _interrupting_build(monkeypatch, 1, how)
    status = sync(config, write(tmp_path / "l.xml", many(5)), "--report", report)
    assert len(fake.puts()) == 2
    stopped = json.loads(report.read_text())["summary"]["stopped"]
    runs = _runs(tmp_path)
    listing = _said(config, capsys, "restore", "--list")
    assert "403" in (stopped or ""), stopped
    assert "stopped by the server" in listing, listing
    assert runs[-1][0] == "stopped by the server", runs
    assert status == 3, status  # SERVER_STOPPED: a script must know aniSearch refused


@pytest.mark.parametrize(
    ("how", "word", "exit_code"),
    [(_ctrl_c, "interrupted", 130), (_sigterm, "terminated", 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_late_stop_is_named_for_what_stopped_it(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: Callable[[], None],
    word: str,
    exit_code: int,
) -> None:
    """A Ctrl-C or SIGTERM once every answer was stored: the report, the summary and the run's
    ending in the checkpoint name the one that came, as the exit status does (a SIGTERM was
    reported as 'interrupted' though the run exited 143)."""
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / "r.json"
    _interrupting_build(monkeypatch, 1, how)
    status = sync(config, write(tmp_path / "l.xml", many(3)), "--report", report)
    err = capsys.readouterr().err
    assert status == exit_code, err
    assert len(fake.accepted_puts()) == 3
    stopped = json.loads(report.read_text())["summary"]["stopped"]
    assert stopped == f"{word} after the last answer was stored; the checkpoint is saved"
    assert f"Stopped: {stopped}" in err, err
    assert _runs(tmp_path)[-1][0] == word


def test_a_late_ctrl_c_while_unlinked_titles_are_remembered_remembers_them_once(
    tmp_path: Path,
    linked: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Ctrl-C while the closing run remembers the titles aniSearch links to nothing: the
    close is taken up again, so the title is remembered (the next nightly run does not tell
    of it again: 'told once') and the run is closed, as interrupted, once."""
    config = write_config(tmp_path, linked.base_url)
    export_path = the_list(tmp_path, BEBOP, UNLINKED)
    original = Checkpoint.remember_unlinked
    calls: list[int] = []

    def interrupted(self: Checkpoint, keys: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        original(self, keys)

    monkeypatch.setattr(Checkpoint, "remember_unlinked", interrupted)
    assert sync(config, export_path) == 130
    runs = _runs(tmp_path)
    capsys.readouterr()
    assert sync(config, export_path, "-q") == 0  # a nightly run: -q tells only of news
    again = capsys.readouterr().err
    assert "New since the last run" not in again, again  # 38840 was told of by run 1
    assert runs[-1][0] == "interrupted", runs


def test_a_second_ctrl_c_in_the_late_interrupt_path_still_closes_the_run(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C twice (a user who sees the command not end at once): the first as the run is
    closed, the second as the except path builds its report. The run stays 'running' for
    ever and no report is written: what e5f4dca fixed for one Ctrl-C."""
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / "r.json"
    _interrupting_build(monkeypatch, 2, _ctrl_c)
    status = sync(config, write(tmp_path / "l.xml", many(3)), "--report", report)
    assert len(fake.accepted_puts()) == 3
    assert status == 130
    status_text = _said(config, capsys, "status")
    listing = _said(config, capsys, "restore", "--list")
    assert "did not finish" not in status_text
    assert "running" not in listing
    assert report.exists()
