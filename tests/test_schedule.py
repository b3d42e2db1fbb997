"""`malsync schedule` in a temporary XDG_CONFIG_HOME: the units it writes, prints and removes,
with a stand-in systemctl (no systemd needed), and the written ExecStart run for real."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

MALSYNC = Path(sys.executable).parent / "malsync"  # the script this venv's install made
NEXT_RUN = "Thu 2031-05-15 03:21:07 CEST"
NO_BUS = "Failed to connect to bus: No medium found"


def units_folder(tmp_path: Path) -> Path:
    return tmp_path / "xdg-config" / "systemd" / "user"  # conftest's XDG_CONFIG_HOME


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A systemctl on PATH that notes its arguments and answers like a working systemd."""
    return fake_systemctl(tmp_path, monkeypatch, working=True)


def fake_systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, working: bool) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    calls = tmp_path / "systemctl.calls"
    answer = (
        f"[ \"$2\" = show ] && printf 'ActiveState=active\\nNextElapseUSecRealtime={NEXT_RUN}\\n'"
        "\nexit 0"
        if working
        else f"echo '{NO_BUS}' >&2\nexit 1"
    )
    script = folder / "systemctl"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n{answer}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return calls


def exec_start(service: Path) -> list[str]:
    """ExecStart as systemd splits it (quotes, backslash escapes, %% and $$)."""
    line = next(x for x in service.read_text().splitlines() if x.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart="))
    return [word.replace("%%", "%").replace("$$", "$") for word in words]


def run_schedule(tmp_path: Path, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed malsync script, as a person runs it, from `tmp_path`."""
    if not MALSYNC.is_file():
        pytest.skip(f"{MALSYNC} is not installed (pip install -e . makes it)")
    return subprocess.run(
        [str(MALSYNC), "schedule", *map(str, arguments)],
        cwd=tmp_path,
        env={**os.environ},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_schedule_writes_the_units_enables_them_and_the_exec_start_runs(
    tmp_path: Path, fake: FakeAniSearch, systemctl: Path
) -> None:
    config = write_config(tmp_path, fake.base_url)
    config.write_text(
        config.read_text().replace("[anisearch]\n", f'[anisearch]\ntoken = "{GOOD_TOKEN}"\n', 1)
    )
    downloads = tmp_path / "Downloads 100% $HOME"  # a space, a % and a $ to quote
    downloads.mkdir()
    write(downloads / "animelist_1800000000_-_1.xml", many(3))
    done = run_schedule(
        tmp_path, "--at", "3:15", "--config", config, "--report", "report.json", "--yes", downloads
    )
    assert done.returncode == 0, done.stderr
    folder = units_folder(tmp_path)
    service, timer = folder / "malsync.service", folder / "malsync.timer"
    assert done.stderr.splitlines()[:2] == [f"Wrote {service}", f"Wrote {timer}"]
    assert "Enabled: the sync runs every day at 03:15 (up to 15 minutes later)." in done.stderr
    assert systemctl.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable malsync.timer",
        "--user restart malsync.timer",
    ]
    timer_text = timer.read_text()
    for line in ("OnCalendar=*-*-* 03:15:00", "Persistent=true", "RandomizedDelaySec=15min"):
        assert line in timer_text.splitlines()
    assert "TimeoutStopSec=2min" in service.read_text().splitlines()
    command = exec_start(service)
    assert command == [
        str(MALSYNC),
        "sync",
        "-q",
        "--config",
        str(config),
        "--report",
        str(tmp_path / "report.json"),
        "--yes",
        str(downloads),
    ]

    # What the timer starts: from another folder, without the shell's token.
    environment = {k: v for k, v in os.environ.items() if k != "ANISEARCH_TOKEN"}
    for night in (1, 2):
        ran = subprocess.run(
            command,
            cwd="/",
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", ""), night  # -q: silence
    assert len(fake.puts()) == 3  # the first night sent them all, the second nothing
    assert (tmp_path / "report.json").exists()


def test_schedule_print_shows_the_units_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], systemctl: Path
) -> None:
    assert main(["schedule", "--at", "22:05", "--print", "--mal-user", "Someone", "--yes"]) == 0
    out = capsys.readouterr().out
    folder = units_folder(tmp_path)
    assert f"# {folder / 'malsync.service'}" in out
    assert f"# {folder / 'malsync.timer'}" in out
    assert "OnCalendar=*-*-* 22:05:00" in out
    assert " sync -q --mal-user Someone --yes\n" in out
    assert not folder.exists()
    assert not systemctl.exists()  # nothing asked of systemd either


def test_without_systemd_the_units_are_written_and_the_command_to_enable_them_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_systemctl(tmp_path, monkeypatch, working=False)
    assert main(["schedule", "--at", "03:15", "--mal-user", "Someone"]) == 0
    err = capsys.readouterr().err
    assert (units_folder(tmp_path) / "malsync.timer").exists()
    assert (
        f"systemctl --user does not work here ({NO_BUS}); where it does, enable the timer "
        "with: systemctl --user daemon-reload && systemctl --user enable --now malsync.timer"
    ) in err
    assert main(["status"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("Schedule: every day at 03:15, up to 15 minutes later (")
    assert last.endswith(f"systemctl --user cannot say when: {NO_BUS}.")


def test_status_shows_the_next_run_and_remove_disables_and_deletes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], systemctl: Path
) -> None:
    assert main(["status"]) == 0
    assert "Schedule: none (no malsync.timer in" in capsys.readouterr().out
    assert main(["schedule", "--at", "03:15", "--mal-user", "Someone"]) == 0
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert (
        f"Schedule: next run {NEXT_RUN} (malsync.timer, every day at 03:15, up to 15 minutes "
        "later)."
    ) in out.splitlines()
    assert main(["status", "--json"]) == 0
    assert f'"next_run": "{NEXT_RUN}"' in capsys.readouterr().out

    assert main(["schedule", "--remove"]) == 0
    err = capsys.readouterr().err
    folder = units_folder(tmp_path)
    assert err.splitlines() == [
        "Disabled malsync.timer.",
        f"Deleted {folder / 'malsync.service'}",
        f"Deleted {folder / 'malsync.timer'}",
    ]
    assert "--user disable --now malsync.timer" in systemctl.read_text().splitlines()
    assert list(folder.iterdir()) == []
    assert main(["schedule", "--remove"]) == 0
    assert f"No malsync units in {folder}: nothing to remove." in capsys.readouterr().err


def test_a_unit_malsync_did_not_write_is_left_alone_without_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], systemctl: Path
) -> None:
    folder = units_folder(tmp_path)
    folder.mkdir(parents=True)
    mine = "[Service]\nExecStart=/home/me/bin/my-own-sync\n"
    (folder / "malsync.service").write_text(mine)
    assert main(["schedule", "--at", "03:15", "--mal-user", "Someone"]) == 2
    assert "was not written by malsync schedule; nothing was written" in capsys.readouterr().err
    assert main(["schedule", "--remove"]) == 2
    assert (folder / "malsync.service").read_text() == mine
    assert not (folder / "malsync.timer").exists()
    assert main(["schedule", "--at", "03:15", "--mal-user", "Someone", "--replace"]) == 0
    assert "malsync schedule" in (folder / "malsync.service").read_text()


def test_cron_prints_the_crontab_line_for_the_same_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], systemctl: Path
) -> None:
    odd = tmp_path / "100% it's"
    odd.mkdir()
    assert main(["schedule", "--at", "03:05", "--cron", "--dry-run", str(odd)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("5 3 * * * ")
    # cron turns \% into %, then a shell reads the rest.
    words = shlex.split(line.removeprefix("5 3 * * * ").replace("\\%", "%"))
    assert words[-4:] == ["sync", "-q", "--dry-run", str(odd)]
    assert not units_folder(tmp_path).exists()


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--at", "25:00", "--mal-user", "x"], "--at '25:00' is no time of day"),
        (["--mal-user", "x"], "--at HH:MM is needed"),
        (["--remove", "--at", "03:15"], "--remove takes no --at and no sync arguments"),
        (["--at", "03:15"], "nothing to schedule: give MAL export files"),
        (["--at", "03:15", "missing.xml"], "missing.xml: no such file or folder"),
        (["--at", "03:15", "--print", "--cron", "--mal-user", "x"], "not allowed with"),
        (["--at", "03:15", "--mal-user", "x", "--dryrun"], "unrecognized arguments: --dryrun"),
    ],
)
def test_a_schedule_the_sync_would_refuse_is_refused_now(
    capsys: pytest.CaptureFixture[str], systemctl: Path, arguments: list[str], said: str
) -> None:
    assert main(["schedule", *arguments]) == 2
    assert said in capsys.readouterr().err
    assert not systemctl.exists()


def test_settings_only_in_the_shell_are_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], systemctl: Path
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    assert main(["schedule", "--at", "03:15", "--print", "--mal-user", "x"]) == 0
    err = capsys.readouterr().err
    assert "ANISEARCH_TOKEN is set in this shell, but a scheduled run does not see" in err
    assert GOOD_TOKEN not in err
