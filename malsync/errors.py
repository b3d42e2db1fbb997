"""One exception family, so the CLI can turn each kind of failure into its documented exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes; documented in the README because cron jobs and scripts depend on them."""

    OK = 0
    SOME_FAILED = 1  # some entries (or a revoke) failed; the rest of the work was done
    BAD_INPUT = 2
    SERVER_STOPPED = 3
    INTERRUPTED = 130
    TERMINATED = 143  # SIGTERM (systemd, timeout): ended like Ctrl-C, saved and reported


class MalsyncError(Exception):
    """Base of every error malsync reports to a person as one line, without a traceback."""

    exit_status: ExitStatus = ExitStatus.BAD_INPUT


class ConfigError(MalsyncError):
    """The config file or an option is wrong."""


class SettingError(ConfigError):
    """A setting the config file must hold is missing or wrong; the CLI adds which file that is."""


class ExportError(MalsyncError):
    """A file given as an export cannot be read as a MAL export."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CheckpointError(MalsyncError):
    """The checkpoint (or a backup beside it) cannot serve the command: it cannot be opened, is
    not ours, is damaged or busy, belongs to another account, or has no such run or backup."""


class ServerStop(MalsyncError):
    """aniSearch refused to go on (401, 403, persistent 429); the run stops and must not retry."""

    exit_status = ExitStatus.SERVER_STOPPED


class Terminated(KeyboardInterrupt):
    """SIGTERM (systemd, `timeout`), raised by the CLI where Ctrl-C would be, so that a run ends
    the same way, saved and reported, and its report and checkpoint can say which ended it."""


def stopped_by(interrupt: KeyboardInterrupt) -> tuple[str, ExitStatus]:
    """The word a report and the checkpoint use for a stop by Ctrl-C or SIGTERM, and its exit
    status."""
    if isinstance(interrupt, Terminated):
        return "terminated", ExitStatus.TERMINATED
    return "interrupted", ExitStatus.INTERRUPTED


def exit_status(stopped: ExitStatus | None, problems: int) -> ExitStatus:
    """How a sync or a restore ends: a stop wins, then any entry a person must look at."""
    if stopped is not None:
        return stopped
    return ExitStatus.SOME_FAILED if problems else ExitStatus.OK
