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

from malsync.cli.main import main
from tests.conftest import ROOT, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_interruptions import RUN_CLI
from tests.test_resync import SENT


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def start_cli(tmp_path: Path, *arguments: str | Path) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "ANISEARCH_TOKEN": GOOD_TOKEN,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, *map(str, arguments)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


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
        export_path = write(tmp_path / "l.xml", many(150))
        report = tmp_path / "r.json"
        process = start_cli(tmp_path, "sync", "--config", config, export_path, "--report", report)
        wait_until(lambda: len(fake.puts()) >= 60, process)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 143, err
        assert "Traceback" not in err
        assert "run the same command again to resume" in err
        outcomes = json.loads(report.read_text())["summary"]["outcomes"]
        assert outcomes["not_sent"] > 0
        assert main(["status", "--config", str(config)]) == 0
        assert "did not finish" not in capsys.readouterr().err
        assert main(["sync", "--config", str(config), str(export_path)]) == 0
        assert {r.path for r in fake.accepted_puts()} == {
            f"/v1/my/anime/{i}/ratings" for i in range(1, 151)
        }


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
