"""Runs stopped from outside (SIGKILL, Ctrl-C) resume with nothing lost and nothing repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.conftest import ROOT, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

ENTRIES = 150
# `python -m malsync`, except that Ctrl-C works even where CI started the tests with SIGINT
# ignored (a shell without job control does that to background jobs, and Python keeps it).
RUN_CLI = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from malsync.cli.main import main; sys.exit(main())"
)


def start_sync(config: Path, export_path: Path, tmp_path: Path) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "ANISEARCH_TOKEN": GOOD_TOKEN,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "sync", "--config", str(config), str(export_path)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_puts(fake: FakeAniSearch, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(fake.puts()) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sync did not get going"
        time.sleep(0.005)


def assert_complete_with_at_most_one_repeat(fake: FakeAniSearch) -> None:
    accepted = Counter(r.path for r in fake.accepted_puts())
    assert set(accepted) == {f"/v1/my/anime/{i}/ratings" for i in range(1, ENTRIES + 1)}
    repeated = [path for path, times in accepted.items() if times > 1]
    assert len(repeated) <= 1, repeated
    assert sum(accepted.values()) <= ENTRIES + 1


@pytest.fixture
def slow_fake() -> FakeAniSearch:
    # 50 requests per second: a 150-entry run takes about two seconds, long enough to hit.
    with FakeAniSearch(upsert_limit=(50, 1.0)) as server:
        yield server


@pytest.mark.parametrize("kill_after", [1, 60, 101])
def test_sigkill_mid_run_then_a_second_run_completes(
    tmp_path: Path, slow_fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch, kill_after: int
) -> None:
    config = write_config(tmp_path, slow_fake.base_url, upsert=(50, 1.0))
    export_path = write(tmp_path / "list.xml", many(ENTRIES))
    process = start_sync(config, export_path, tmp_path)
    wait_for_puts(slow_fake, kill_after, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert len(slow_fake.puts()) < ENTRIES

    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    report = tmp_path / "report.json"
    assert main(["sync", "--config", str(config), str(export_path), "--report", str(report)]) == 0
    assert_complete_with_at_most_one_repeat(slow_fake)
    assert slow_fake.rate_limited == 0
    outcomes = json.loads(report.read_text())["summary"]["outcomes"]
    assert outcomes["uploaded"] + outcomes["unchanged"] == ENTRIES


def test_ctrl_c_saves_says_how_to_resume_and_exits_130(
    tmp_path: Path, slow_fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, slow_fake.base_url, upsert=(50, 1.0))
    export_path = write(tmp_path / "list.xml", many(ENTRIES))
    process = start_sync(config, export_path, tmp_path)
    wait_for_puts(slow_fake, 70, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted; the checkpoint is saved: run the same command again to resume" in err
    assert "Traceback" not in err
    sent_before = len(slow_fake.puts())
    assert sent_before < ENTRIES

    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    assert main(["sync", "--config", str(config), str(export_path)]) == 0
    assert_complete_with_at_most_one_repeat(slow_fake)
