"""SIGTERM ends a run like Ctrl-C; SIGKILL mid-restore and mid-PUT leaves nothing restore misses."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from malsync.cli.main import InterruptLikeCtrlC, Terminated, main
from malsync.net.pacing import format_wait
from tests.conftest import ROOT, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_mal import FakeMal, MalUser, anime_item
from tests.test_interruptions import RUN_CLI
from tests.test_resync import SENT


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def _environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """A child's environment: signed in, with its own config, data and cache folders."""
    return {
        **os.environ,
        "ANISEARCH_TOKEN": GOOD_TOKEN,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        **env,
    }


def start_cli(tmp_path: Path, *arguments: str | Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, *map(str, arguments)],
        cwd=ROOT,
        env=_environment(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_sync(
    tmp_path: Path, config: Path, titles: int
) -> tuple[subprocess.Popen[str], Path, Path]:
    """`malsync sync` of an export of `titles` titles with a report, as its own process; the
    process, the export and the report."""
    export_path = write(tmp_path / "l.xml", many(titles))
    report = tmp_path / "r.json"
    arguments = ("sync", "--config", config, export_path, "--report", report)
    return start_cli(tmp_path, *arguments), export_path, report


def wait_until(done: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not done():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command did not get going"
        time.sleep(0.002)


def test_sigterm_saves_writes_the_report_and_exits_143(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeAniSearch(upsert_limit=(50, 1.0)) as fake:
        config = write_config(tmp_path, fake.base_url, upsert=(50, 1.0))
        process, export_path, report = start_sync(tmp_path, config, 150)
        wait_until(lambda: len(fake.puts()) >= 60, process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 143, err
        assert "Traceback" not in err
        assert "run the same command again to resume" in err
        # Said as terminated, as the exit status and the last line say it, not as a Ctrl-C.
        assert "Stopped: terminated; the checkpoint is saved" in err, err
        assert "interrupted" not in err
        summary = json.loads(report.read_text())["summary"]
        assert summary["outcomes"]["not_sent"] > 0
        assert summary["stopped"].startswith("terminated; the checkpoint is saved")
        capsys.readouterr()
        assert main(["status", "--config", str(config)]) == 0
        status = capsys.readouterr()
        assert "did not finish" not in status.err
        assert ", terminated at " in status.out + status.err, status
        assert main(["sync", "--config", str(config), str(export_path)]) == 0
        assert {r.path for r in fake.accepted_puts()} == {
            f"/v1/my/anime/{i}/ratings" for i in range(1, 151)
        }


# The CLI, with a signal handled at the moment Python would handle one that arrived while
# threading.Condition.__enter__ has just taken queue.Queue's lock (a plain Lock) for urllib3's
# connection pool, before the `with` block that releases it begins: raised there, the exception
# skipped the release, and the ending of the run (the connection put back, the pool closed) then
# waited for that lock forever. A trace function makes that moment come in the AFTER-th answer.
SIGNAL_WITH_THE_POOL_LOCKED = r"""
import signal, sys, threading
NUMBER, AFTER = int(sys.argv.pop(1)), int(sys.argv.pop(1))
signal.signal(signal.SIGINT, signal.default_int_handler)
taken = 0

def on_call(frame, event, arg):
    global taken
    if frame.f_code is threading.Condition.__enter__.__code__:
        caller = frame.f_back  # Queue.put, called by the pool to put a connection back
        if caller.f_code.co_name == "put" and caller.f_back.f_code.co_name == "_put_conn":
            taken += 1
            if taken == AFTER:
                return on_return
    return None

def on_return(frame, event, arg):
    if event == "return":  # the lock is taken; the `with` block has not begun
        print("signal raised with the pool's lock taken", file=sys.stderr, flush=True)
        signal.raise_signal(NUMBER)
    return None

sys.settrace(on_call)
from malsync.cli.main import main
sys.exit(main())
"""


def finished(process: subprocess.Popen[str], seconds: float) -> str:
    """Its standard error once it has exited; a process still running then is killed: hung."""
    try:
        return process.communicate(timeout=seconds)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        err = process.communicate()[1]
        raise AssertionError(f"still running {seconds:g} s on (killed):\n{err}") from None


@pytest.mark.parametrize(
    ("number", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["sigterm", "ctrl-c"]
)
def test_a_signal_while_a_library_holds_a_lock_still_saves_reports_and_exits(
    tmp_path: Path, number: signal.Signals, status: int
) -> None:
    with FakeAniSearch() as fake:
        config = write_config(tmp_path, fake.base_url)
        export_path = write(tmp_path / "l.xml", many(40))
        report = tmp_path / "r.json"
        environment = {**os.environ, "ANISEARCH_TOKEN": GOOD_TOKEN}
        command = ["sync", "--config", str(config), str(export_path), "--report", str(report)]
        process = subprocess.Popen(
            [sys.executable, "-c", SIGNAL_WITH_THE_POOL_LOCKED, str(int(number)), "10", *command],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        err = finished(process, 30)
        assert "signal raised with the pool's lock taken" in err
        assert process.returncode == status, err
        assert "Traceback" not in err
        assert "run the same command again to resume" in err
        outcomes = json.loads(report.read_text())["summary"]["outcomes"]
        assert 0 < outcomes["not_sent"] < 40
        assert main(["sync", "--config", str(config), str(export_path)]) == 0
        assert {r.path for r in fake.accepted_puts()} == {
            f"/v1/my/anime/{i}/ratings" for i in range(1, 41)
        }


def ends_at_once_on_sigterm(process: subprocess.Popen[str], *, resumable: bool) -> str:
    """SIGTERM now; the command must end within 5 s, as terminated (143), without a traceback
    (and, for a sync, saying how to resume). Its standard error."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    err = finished(process, 30)
    took = time.monotonic() - started
    assert took < 5, f"SIGTERM took {took:.1f} s to end the command:\n{err}"
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert ("run the same command again to resume" in err) is resumable, err
    return err


def test_sigterm_during_a_rate_limit_wait_ends_the_run_at_once(tmp_path: Path) -> None:
    with FakeAniSearch(upsert_limit=(5, 30.0)) as fake:
        config = write_config(tmp_path, fake.base_url, upsert=(5, 30.0))
        process, _, report = start_sync(tmp_path, config, 20)
        wait_until(lambda: len(fake.puts()) >= 5, process)
        time.sleep(0.3)  # into the wait for the window: 30 s
        ends_at_once_on_sigterm(process, resumable=True)
        assert json.loads(report.read_text())["summary"]["outcomes"]["not_sent"] == 15


def test_sigterm_while_the_server_is_slow_to_answer_ends_the_run_at_once(tmp_path: Path) -> None:
    with FakeAniSearch() as fake:
        config = write_config(tmp_path, fake.base_url)
        config.write_text(
            config.read_text().replace("read_timeout_seconds = 2", "read_timeout_seconds = 60")
        )
        process, _, report = start_sync(tmp_path, config, 20)
        wait_until(lambda: len(fake.puts()) >= 1, process)
        fake.faults.delay_seconds = 60  # every answer from now on, after the PUT is applied
        time.sleep(0.5)  # waiting for one
        ends_at_once_on_sigterm(process, resumable=True)
        assert json.loads(report.read_text())["summary"]["outcomes"]["not_sent"] > 0


def test_a_restore_killed_midway_then_rerun_then_a_sync_ends_as_mal_says(tmp_path: Path) -> None:
    titles = 30
    with FakeAniSearch(upsert_limit=(50, 1.0)) as fake:
        for mal_id in range(1, titles + 1):
            fake.preload("anime", mal_id, status="ongoing", episodes_watched=mal_id)
        before = copy.deepcopy(fake.ratings)
        config = write_config(tmp_path, fake.base_url, upsert=(50, 1.0))
        export_path = write(tmp_path / "l.xml", many(titles))
        assert main(["sync", "--config", str(config), str(export_path)]) == 0
        puts = len(fake.puts())
        fake.faults.delay_seconds = 0.05
        process = start_cli(tmp_path, "restore", "--yes", "--config", config)
        wait_until(lambda: len(fake.puts()) >= puts + 12, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        fake.faults.delay_seconds = 0
        assert fake.ratings != before
        assert main(["restore", "--yes", "--config", str(config)]) == 0
        assert fake.ratings == before
        # The default merge keeps what the restore put back (MAL has not changed since)...
        assert main(["sync", "--config", str(config), str(export_path)]) == 0
        assert fake.ratings == before
        # ... and mal-wins sends MAL's values again, to every title.
        mal_wins = ["--on-conflict", "mal-wins"]
        assert main(["sync", "--config", str(config), str(export_path), *mal_wins]) == 0
        for mal_id in range(1, titles + 1):
            assert fake.rating("anime", mal_id) == {**SENT, "status": "completed"}, mal_id


def test_a_sync_killed_during_a_slow_put_is_undone_by_restoring_both_runs(
    tmp_path: Path,
) -> None:
    with FakeAniSearch() as fake:
        fake.preload("anime", 99, status="dropped")  # so that the first run reads and backs up
        before = copy.deepcopy(fake.ratings)
        config = write_config(tmp_path, fake.base_url)
        export_path = write(tmp_path / "l.xml", many(6))
        fake.faults.delay_seconds = 0.5  # the server applies each PUT, then answers slowly
        process = start_cli(tmp_path, "sync", "--config", config, export_path)
        wait_until(lambda: len(fake.puts()) >= 3, process)
        process.send_signal(signal.SIGKILL)  # the third PUT is applied, its answer not recorded
        process.wait(timeout=30)
        fake.faults.delay_seconds = 0
        assert fake.rating("anime", 3) is not None
        assert main(["sync", "--config", str(config), str(export_path)]) == 0
        backups = sorted(
            (tmp_path / "backups").iterdir(), key=lambda p: int(p.stem.rsplit("run", 1)[1])
        )
        assert len(backups) == 2
        for backup in reversed(backups):
            assert main(["restore", "--yes", "--config", str(config), str(backup)]) == 0
        assert fake.ratings == before


def _library_code(number: signal.Signals, times: int, done: list[str]) -> None:
    """Stands for a library's code (this module is not malsync's): the signal is held here."""
    for _ in range(times):
        signal.raise_signal(number)
    done.append("the library's code ran to its end")


def test_a_signal_in_a_librarys_code_is_raised_when_malsync_code_runs_next() -> None:
    done: list[str] = []
    tracer = sys.gettrace()  # coverage's or a debugger's, if any: the command leaves it set
    with InterruptLikeCtrlC() as interrupts:
        _library_code(signal.SIGTERM, 2, done)  # the second one is ignored, as always
        assert done == ["the library's code ran to its end"]
        with pytest.raises(Terminated):
            format_wait(1.0)  # malsync's code
    assert interrupts.received
    assert sys.gettrace() is tracer


def test_a_second_ctrl_c_while_the_first_is_held_is_raised_at_once() -> None:
    """So that Ctrl-C still ends a command stuck in a library's wait."""
    done: list[str] = []
    tracer = sys.gettrace()
    with InterruptLikeCtrlC(), pytest.raises(KeyboardInterrupt):
        _library_code(signal.SIGINT, 2, done)
    assert done == []
    assert sys.gettrace() is tracer


def test_a_tracer_set_before_a_command_is_set_after_a_held_signal() -> None:
    """A held signal is raised from a trace function, and Python then unsets the thread's
    tracer: coverage (pytest-cov) or a debugger stopped there for the rest of the process."""
    seen: list[str] = []

    def tracer(frame: object, event: str, arg: object) -> None:
        seen.append(event)

    before = sys.gettrace()
    sys.settrace(tracer)
    try:
        with InterruptLikeCtrlC():
            _library_code(signal.SIGTERM, 1, [])
            with pytest.raises(Terminated):
                format_wait(1.0)  # malsync's code: the held SIGTERM is raised here
        after = sys.gettrace()
    finally:
        sys.settrace(before)
    assert after is tracer


def test_sigterm_during_a_retry_backoff_ends_the_run_at_once(tmp_path: Path) -> None:
    """The backoff before another try is slept from tenacity's code (the MAL reader's, the
    MAL links', aniSearch's): SIGTERM was held until the wait was over, up to
    `max_wait_seconds`."""
    from tests.test_mal_sync import mal_section

    users = {"alice": MalUser(anime=[anime_item(i) for i in range(1, 5)])}
    with FakeMal(users=users) as mal, FakeAniSearch() as fake:
        mal.faults.failing_offset = 0  # every read of the first page: an HTML 503
        config = write_config(tmp_path, fake.base_url, extra=mal_section(mal))
        text = config.read_text().replace(
            "initial_wait_seconds = 0.01", "initial_wait_seconds = 600"
        )
        config.write_text(text.replace("max_wait_seconds = 0.05", "max_wait_seconds = 600"))
        process = start_cli(tmp_path, "sync", "--config", config, "--mal-user", "alice")
        wait_until(lambda: bool(mal.list_requests()), process)
        time.sleep(1.0)  # into the backoff before the second try (random, up to 600 s)
        ends_at_once_on_sigterm(process, resumable=False)  # nothing sent yet: nothing to resume


def test_sigterm_while_a_console_browser_runs_ends_login_at_once(tmp_path: Path) -> None:
    """`malsync login` waits for a console browser (BROWSER=w3m; lynx or www-browser on a
    machine without a display) until it exits: SIGTERM was held all that time."""
    from tests.test_oauth import oauth_config

    marker = tmp_path / "browser-started"
    browser = tmp_path / "console-browser"
    browser.write_text(f"#!/bin/sh\necho $$ > {marker}\nexec sleep 60 >/dev/null 2>&1\n")
    browser.chmod(0o755)
    with FakeAniSearch() as fake:
        config = oauth_config(tmp_path, fake)
        process = start_cli(tmp_path, "login", "--config", config, BROWSER=str(browser))
        wait_until(marker.exists, process)
        time.sleep(0.3)
        try:
            ends_at_once_on_sigterm(process, resumable=False)
        finally:
            os.kill(int(marker.read_text()), signal.SIGKILL)  # the stand-in browser


# The CLI, with SIGTERM sent to itself as Report.build is first called: the moment after the
# last answer is stored (execute has returned) and before the run is closed in the checkpoint.
SIGTERM_AS_THE_REPORT_IS_BUILT = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from malsync.report.run_report import Report
build = Report.build.__func__

def signalled(cls, *args, **kwargs):
    print("SIGTERM as the report is built", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    return build(cls, *args, **kwargs)

Report.build = classmethod(signalled)
from malsync.cli.main import main
sys.exit(main())
"""


def _run_script(
    tmp_path: Path, script: str, *arguments: str | Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, arguments)],
        cwd=ROOT,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def terminated_in_script(
    tmp_path: Path, script: str, config: Path, export_path: Path, report: Path
) -> subprocess.CompletedProcess[str]:
    """A sync with `--report` run by `script`, which sends SIGTERM at its moment (and says so
    first): it ends as terminated, without a traceback."""
    done = _run_script(
        tmp_path, script, "sync", "--config", config, export_path, "--report", report
    )
    assert "SIGTERM as the" in done.stderr, done.stderr
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_sigterm_after_the_last_answer_closes_the_run_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIGTERM after every title was sent and stored: the run is closed (status and restore
    --list do not call it running) and reported; it left the run 'running' for ever, with no
    report, before."""
    with FakeAniSearch() as fake:
        config = write_config(tmp_path, fake.base_url)
        export_path = write(tmp_path / "l.xml", many(10))
        report = tmp_path / "r.json"
        done = terminated_in_script(
            tmp_path, SIGTERM_AS_THE_REPORT_IS_BUILT, config, export_path, report
        )
        assert len(fake.accepted_puts()) == 10
        capsys.readouterr()
        assert main(["status", "--config", str(config)]) == 0
        status = capsys.readouterr()
        assert "did not finish" not in status.out + status.err
        assert main(["restore", "--list", "--config", str(config)]) == 0
        listing = capsys.readouterr()
        assert "running" not in listing.out + listing.err
        assert report.exists(), done.stderr
        assert json.loads(report.read_text())["summary"]["outcomes"] == {"uploaded": 10}
        assert sync_again_sends_nothing(config, export_path, fake)


# SIGTERM as tempfile's _mkstemp_inner returns the report's temporary file: a library's code,
# so the signal is held and raised at malsync's next line, `try:` in atomic_write, before the
# block that removes the temporary file on any failure.
SIGTERM_AS_THE_TEMPORARY_REPORT_IS_MADE = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
done = False

def on_call(frame, event, arg):
    if not done and frame.f_code.co_name == "_mkstemp_inner":
        if "r.json" in str(frame.f_locals.get("pre")):
            return on_return
    return None

def on_return(frame, event, arg):
    global done
    if event == "return" and not done:
        done = True
        print("SIGTERM as the temporary report is made", file=sys.stderr, flush=True)
        signal.raise_signal(signal.SIGTERM)
    return None

sys.settrace(on_call)
from malsync.cli.main import main
sys.exit(main())
"""


def test_sigterm_as_the_reports_temporary_file_is_made_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    with FakeAniSearch() as fake:
        config = write_config(tmp_path, fake.base_url)
        export_path = write(tmp_path / "l.xml", many(10))
        folder = tmp_path / "out"
        folder.mkdir()
        terminated_in_script(
            tmp_path,
            SIGTERM_AS_THE_TEMPORARY_REPORT_IS_MADE,
            config,
            export_path,
            folder / "r.json",
        )
        assert sorted(path.name for path in folder.iterdir()) in ([], ["r.json"])


def sync_again_sends_nothing(config: Path, export_path: Path, fake: FakeAniSearch) -> bool:
    before = len(fake.received)
    status = main(["sync", "--config", str(config), str(export_path)])
    sent = [(r.method, r.path) for r in fake.received[before:]]
    assert status == 0 and all(method == "GET" for method, _ in sent), (status, sent)
    return True


def test_a_sigterm_after_a_ctrl_c_does_not_cut_its_saving_short() -> None:
    """Ctrl-C, then SIGTERM (a service manager stopping the unit) while the run saves: the
    SIGTERM only makes the ending terminated; it is not raised into the saving."""
    with InterruptLikeCtrlC() as interrupts:
        _library_code(signal.SIGINT, 1, [])
        with pytest.raises(KeyboardInterrupt):
            format_wait(1.0)  # malsync's code: the held Ctrl-C is raised here
        try:
            signal.raise_signal(signal.SIGTERM)  # while saving
            format_wait(1.0)  # malsync's code again: nothing may be raised
        except Terminated:
            pytest.fail("the SIGTERM was raised into the saving of an interrupted run")
    assert interrupts.received
