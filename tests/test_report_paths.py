"""Where --report may write: not over an input, the checkpoint or a backup; not over a device."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def test_a_report_over_an_input_the_checkpoint_or_a_backup_is_refused(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.preload("anime", 1, status="ongoing")  # so that the first run takes a backup
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(3))
    assert sync(config, export_path) == 0
    state = tmp_path / "state.sqlite3"
    (backup,) = (tmp_path / "backups").iterdir()
    link = tmp_path / "link.xml"
    link.symlink_to(export_path)
    (tmp_path / "sub").mkdir()
    sideways = tmp_path / "sub" / ".." / "state.sqlite3"
    protected = {p: p.read_bytes() for p in (export_path, state, backup)}
    requests = len(fake.received)
    for target in (export_path, link, state, sideways, backup, Path(f"{state}-wal")):
        for dry_run in ((), ("--dry-run",)):
            assert sync(config, export_path, "--report", target, *dry_run) == 2, target
            err = capsys.readouterr().err
            assert "--report" in err and "Traceback" not in err
    # unmatched.csv beside the report would land on an input called unmatched.csv
    unmatched_input = write(tmp_path / "unmatched.csv", many(1))
    assert sync(config, unmatched_input, "--report", tmp_path / "r.json") == 2
    assert "unmatched.csv" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in protected} == protected
    assert len(fake.received) == requests


def test_a_report_never_replaces_a_device_or_a_pipe(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(2))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    nodes = [fifo]
    try:
        os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        nodes.append(tmp_path / "null")
    except PermissionError:
        pass  # not root: the pipe stands for every node that is not a regular file
    link = tmp_path / "to-node"
    link.symlink_to(nodes[-1])
    for target in [*nodes, link]:
        assert sync(config, export_path, "--report", target) == 2
        assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert link.is_symlink()
    if len(nodes) > 1:
        assert stat.S_ISCHR(nodes[1].lstat().st_mode)
    assert fake.puts() == []


def test_a_report_through_a_symlink_to_a_file_updates_the_file(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    config = write_config(tmp_path, fake.base_url)
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    assert sync(config, write(tmp_path / "l.xml", many(2)), "--report", link) == 0
    assert link.is_symlink()
    assert json.loads(target.read_text())["summary"]["outcomes"] == {"uploaded": 2}


def test_dash_writes_the_report_to_stdout(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(2)), "--report", "-") == 0
    out = capsys.readouterr().out
    assert json.loads(out)["summary"]["outcomes"] == {"uploaded": 2}
    assert not (tmp_path / "-").exists()


def test_a_report_that_cannot_be_written_fails_the_run(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(2))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert sync(config, export_path, "--report", folder) == 2
    assert "cannot write the report" in capsys.readouterr().err
    assert fake.puts() == []  # a folder is known to be wrong before anything is sent

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("malsync.report.run_report.atomic_write", full)
    assert sync(config, export_path, "--report", tmp_path / "r.json") == 2
    err = capsys.readouterr().err
    assert "cannot write the report" in err and "No space left on device" in err
    assert len(fake.accepted_puts()) == 2  # the run itself was done and is in the checkpoint
    monkeypatch.undo()
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    assert sync(config, export_path) == 0
    assert len(fake.puts()) == 2


def test_a_dry_run_whose_report_cannot_be_written_speaks_of_no_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run keeps no checkpoint: "(the checkpoint is saved)" would promise what is not."""
    export_path = write(tmp_path / "l.xml", many(2))

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("malsync.report.run_report.atomic_write", full)
    assert main(["sync", "--dry-run", str(export_path), "--report", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the report" in err and "No space left on device" in err
    assert "checkpoint" not in err


def test_the_backup_folder_is_refused_as_a_report_even_before_it_exists(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # beside the checkpoint
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(3))
    for dry_run in (("--dry-run",), ()):
        assert sync(config, export_path, "--report", "backups", *dry_run) == 2
        err = capsys.readouterr().err
        assert "--report backups is the backup folder" in err and "Traceback" not in err
        assert not (tmp_path / "backups").exists()
    assert fake.puts() == []


def test_a_backup_that_cannot_be_written_is_one_line_and_the_run_is_not_left_running(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.preload("anime", 1, status="ongoing")  # so that the run takes a backup
    config = write_config(tmp_path, fake.base_url)
    (tmp_path / "backups").write_text("not a folder")  # left there by something else
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("malsync: error:")]
    assert str(tmp_path / "backups") in line and "cannot write the backup" in line
    assert "Errno" not in line and "nothing was sent" in line
    assert fake.puts() == []
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "running" not in out
    assert main(["restore", "--list", "--config", str(config)]) == 0
    listing = capsys.readouterr()
    assert "failed" in listing.out + listing.err and "running" not in listing.out + listing.err


@pytest.mark.parametrize("command", ["sync", "restore"])
def test_the_help_does_not_promise_that_exit_2_sent_nothing(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A report (or the checkpoint) that cannot be written after an upload also ends with 2.
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    code_2 = text.split("\n  2 ")[1].split("\n  3 ")[0]
    assert "report" in code_2 and "checkpoint" in code_2 and "recorded" in code_2
