"""`malsync schedule`: a systemd user timer (or a crontab line) for one exact sync command.

The units are plain text built here (pure); writing, removing and asking `systemctl --user` are
separate steps, so that `--print` and a machine without systemd work the same way up to there.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from malsync.errors import ConfigError

SERVICE = "malsync.service"
TIMER = "malsync.timer"
MARK = "# Written by malsync schedule; malsync schedule --remove disables and deletes it."
RANDOM_DELAY_MINUTES = 15
# SIGTERM ends a run like Ctrl-C: the request in flight is abandoned, the checkpoint saved and
# the report written, which takes seconds; this is how long systemd waits before SIGKILL.
STOP_TIMEOUT = "2min"
ENABLE = ("daemon-reload",), ("enable", TIMER), ("restart", TIMER)
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
# What systemd and a shell both take in an argument without quotes.
_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")


@dataclass(frozen=True)
class Schedule:
    """Run `command` (the absolute malsync and its sync arguments) every day at `at`."""

    at: str
    command: tuple[str, ...]


def daily_time(text: str) -> str:
    """HH:MM, 24-hour, as the timer and the crontab take it."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"--at {text!r} is no time of day; give it as HH:MM, e.g. --at 03:15")
    return f"{int(match[1]):02d}:{match[2]}"


def unit_folder(env: Mapping[str, str]) -> Path:
    """Where systemd looks for a user's own units: $XDG_CONFIG_HOME/systemd/user."""
    config_home = env.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"
    return base / "systemd" / "user"


def exec_argument(argument: str) -> str:
    """One argument as systemd's ExecStart reads it: % and $ doubled, quoted where needed."""
    text = argument.replace("%", "%%").replace("$", "$$")
    if _PLAIN.fullmatch(argument):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_text(schedule: Schedule) -> str:
    command = " ".join(exec_argument(argument) for argument in schedule.command)
    return f"""{MARK}
[Unit]
Description=malsync: sync the MyAnimeList list to aniSearch

[Service]
Type=oneshot
ExecStart={command}
# A first migration may take hours at aniSearch's rate limits: no start timeout.
TimeoutStartSec=infinity
# SIGTERM stops the run like Ctrl-C: it saves the checkpoint and writes the report, and the
# next run resumes; this is the time it is given before it is killed.
TimeoutStopSec={STOP_TIMEOUT}
"""


def timer_text(schedule: Schedule) -> str:
    return f"""{MARK}
[Unit]
Description=malsync every day at {schedule.at}

[Timer]
OnCalendar=*-*-* {schedule.at}:00
# Not everyone's malsync at the same second; a run missed while the machine was off comes at
# the next boot.
RandomizedDelaySec={RANDOM_DELAY_MINUTES}min
Persistent=true

[Install]
WantedBy=timers.target
"""


def cron_line(schedule: Schedule) -> str:
    """The crontab line for the same command (cron takes a bare % as a line break)."""
    hour, minute = schedule.at.split(":")
    command = " ".join(shlex.quote(argument) for argument in schedule.command)
    return f"{int(minute)} {int(hour)} * * * {command.replace('%', chr(92) + '%')}"


def units(folder: Path, schedule: Schedule) -> dict[Path, str]:
    return {folder / SERVICE: service_text(schedule), folder / TIMER: timer_text(schedule)}


def check_ours(paths: Sequence[Path], replace: bool, doing: str) -> None:
    """A unit malsync did not write (one copied from an old README, say) is the user's."""
    for path in paths:
        if replace or not path.exists():
            continue
        try:
            ours = MARK in path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
        if not ours:
            raise ConfigError(
                f"{path} was not written by malsync schedule; nothing was {doing} (move it "
                "aside, or add --replace)"
            )


def write_units(folder: Path, schedule: Schedule, *, replace: bool) -> list[Path]:
    written = units(folder, schedule)
    check_ours(list(written), replace, "written")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, text in written.items():
            temporary = path.with_name(f".{path.name}.new")
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, path)
    except OSError as error:
        where = error.filename or folder
        raise ConfigError(f"{where}: cannot be written ({error.strerror})") from None
    return list(written)


def remove_units(folder: Path, *, replace: bool) -> list[Path]:
    """Delete the units; returns those that were there."""
    paths = [folder / SERVICE, folder / TIMER]
    check_ours(paths, replace, "deleted")
    removed = []
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise ConfigError(f"{path}: cannot be deleted ({error.strerror})") from None
        removed.append(path)
    return removed


@dataclass(frozen=True)
class Answer:
    ok: bool
    output: str  # stdout when ok, else the first line of what went wrong


def systemctl(*arguments: str) -> Answer:
    """`systemctl --user ARGUMENTS`; never raises: no systemd is an answer too."""
    try:
        done = subprocess.run(
            ["systemctl", "--user", *arguments],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return Answer(False, "systemctl is not installed")
    except (OSError, subprocess.TimeoutExpired) as error:
        return Answer(False, f"systemctl did not answer ({type(error).__name__})")
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        return Answer(False, said[0] if said else f"systemctl exited with {done.returncode}")
    return Answer(True, done.stdout)


def enable_timer() -> Answer:
    """daemon-reload, enable and (re)start the timer: the first step that fails says why."""
    for arguments in ENABLE:
        answer = systemctl(*arguments)
        if not answer.ok:
            return answer
    return Answer(True, "")


def enable_line() -> str:
    return f"systemctl --user daemon-reload && systemctl --user enable --now {TIMER}"


def schedule_state(folder: Path) -> dict[str, Any]:
    """For `malsync status`: when the next scheduled run is, as far as this machine can say."""
    timer = folder / TIMER
    if not timer.exists():
        line = f"Schedule: none (no {TIMER} in {folder}; malsync schedule --at 03:15 sets one up)."
        return {"state": "none", "lines": [line]}
    at = _daily_at(timer)
    later = f"up to {RANDOM_DELAY_MINUTES} minutes later"
    every = f"every day at {at}, {later}" if at else f"as {timer} says"
    answer = systemctl("show", TIMER, "--property=ActiveState,NextElapseUSecRealtime")
    document: dict[str, Any] = {"unit": str(timer), "at": at}
    if not answer.ok:
        line = f"Schedule: {every} ({timer}); systemctl --user cannot say when: {answer.output}."
        return {**document, "state": "written", "lines": [line]}
    shown = dict(line.partition("=")[::2] for line in answer.output.splitlines())
    next_run = _when(shown.get("NextElapseUSecRealtime", "").strip())
    if shown.get("ActiveState") != "active" or next_run is None:
        line = f"Schedule: {timer} is written but not enabled; enable it with {enable_line()}"
        return {**document, "state": "inactive", "lines": [line]}
    line = f"Schedule: next run {next_run} ({TIMER}, {every})."
    return {**document, "state": "enabled", "next_run": next_run, "lines": [line]}


def _daily_at(timer: Path) -> str | None:
    try:
        text = timer.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^OnCalendar=\*-\*-\* (\d\d:\d\d)(?::00)?\s*$", text, re.MULTILINE)
    return match[1] if match else None


def _when(value: str) -> str | None:
    """systemd's time as it shows it ("Thu 2025-05-15 03:21:07 CEST"); None for none."""
    if value in ("", "n/a", "0"):
        return None
    digits = value.lstrip("@")
    if digits.isdigit():  # microseconds (or seconds, with @) since the epoch
        seconds = int(digits) / (1 if value.startswith("@") else 1_000_000)
        return dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return value
