"""`malsync schedule`: the command line of the scheduled sync, and what is said about it."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path

from malsync.cli.arguments import add_sync_options
from malsync.cli.console import Console
from malsync.commands.schedule import (
    RANDOM_DELAY_MINUTES,
    SERVICE,
    TIMER,
    Schedule,
    check_ours,
    cron_line,
    daily_time,
    enable_line,
    enable_timer,
    remove_units,
    systemctl,
    unit_folder,
    units,
    write_units,
)
from malsync.compose import Composition
from malsync.config.notify_urls import NOTIFY_URLS_ENV
from malsync.config.settings import MAL_CLIENT_ID_ENV, TOKEN_ENV, Settings
from malsync.errors import ConfigError, ExitStatus, SettingError

log = logging.getLogger("malsync")
# What malsync reads from the environment; neither systemd nor cron passes a shell's on.
_ENVIRONMENT = (TOKEN_ENV, MAL_CLIENT_ID_ENV, NOTIFY_URLS_ENV)


def running_malsync() -> tuple[str, ...]:
    """This malsync, as the timer must start it: its script's absolute path (not resolved, so
    that pipx's ~/.local/bin link survives an upgrade), else this Python with -m malsync."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "malsync" and script.is_file():
        return (str(script.absolute()),)
    return (sys.executable, "-m", "malsync")


def _absolute(value: object) -> str:
    if isinstance(value, Path) and str(value) != "-":  # --report - is standard output
        return str(value.expanduser().absolute())
    return str(value)


def sync_arguments(args: argparse.Namespace) -> list[str]:
    """The sync options given to `schedule`, as `sync` takes them, with every path absolute
    (the timer does not start in this folder)."""
    template = argparse.ArgumentParser(add_help=False)
    add_sync_options(template)
    options: list[str] = []
    exports: list[str] = []
    for action in template._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings:
            exports = [_absolute(path) for path in value or []]
        elif value is None or value == action.default:
            continue
        elif isinstance(value, bool):
            options.append(action.option_strings[-1])
        else:
            options.extend([action.option_strings[-1], _absolute(value)])
    return [*options, *exports]


def _check_sync(args: argparse.Namespace, settings: Settings) -> None:
    """What the scheduled sync would stop at at once, said now instead of at night."""
    if args.exports and args.mal_user:
        raise ConfigError("give export files or --mal-user, not both")
    if not args.exports and not (args.mal_user or settings.myanimelist.user):
        raise SettingError(
            "nothing to schedule: give MAL export files (or a folder of them), or --mal-user "
            "NAME (or set [myanimelist] user in the config)"
        )
    for path in args.exports:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder")
    shell_only = [name for name in _ENVIRONMENT if os.environ.get(name, "").strip()]
    if shell_only:
        log.warning(
            "%s is set in this shell, but a scheduled run does not see the shell's environment: "
            "put it in the config file instead (malsync config example shows where)",
            " and ".join(shell_only),
        )
    if args.delete_missing and not args.yes:
        log.warning(
            "--delete-missing without --yes: the scheduled run has nobody to ask and will "
            "refuse the deletions; add --yes to let it delete"
        )


def schedule_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    settings = root.settings
    folder = unit_folder(os.environ)
    if args.remove:
        if args.at or sync_arguments(args):
            raise ConfigError("--remove takes no --at and no sync arguments")
        return _remove(args, folder, console)
    if not args.at:
        raise ConfigError("--at HH:MM is needed: the time of day to sync, e.g. --at 03:15")
    _check_sync(args, settings)
    top = ["--config", _absolute(args.config)] if args.config is not None else []
    command = (*running_malsync(), "sync", "-q", *top, *sync_arguments(args))
    schedule = Schedule(daily_time(args.at), command)
    if args.cron:
        console.out([cron_line(schedule)])
        console.emit(
            ["Add it with crontab -e. cron mails what a run prints: with -q, only what needs you."]
        )
        return ExitStatus.OK
    if args.print:
        for path, text in units(folder, schedule).items():
            console.out([f"# {path}", text])
        return ExitStatus.OK
    written = write_units(folder, schedule, replace=args.replace)
    lines = [f"Wrote {path}" for path in written]
    answer = enable_timer()
    if answer.ok:
        lines.append(
            f"Enabled: the sync runs every day at {schedule.at} (up to {RANDOM_DELAY_MINUTES} "
            "minutes later). "
            f"malsync status shows the next run; journalctl --user -u {SERVICE} shows what "
            "each run printed (nothing when all went well)."
        )
        lines.extend(_linger_hint())
    else:
        lines.append(
            f"systemctl --user does not work here ({answer.output}); where it does, enable the "
            f"timer with: {enable_line()}"
        )
    console.emit(lines)
    return ExitStatus.OK


def _linger_hint() -> list[str]:
    """A user's timers run while the user is logged in, unless systemd keeps the user on."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        return []
    if (Path("/var/lib/systemd/linger") / user).exists():
        return []
    return [
        "It runs while you are logged in; for runs while you are not: loginctl enable-linger "
        + user
    ]


def _remove(args: argparse.Namespace, folder: Path, console: Console) -> ExitStatus:
    check_ours([folder / SERVICE, folder / TIMER], args.replace, "deleted")
    if not (folder / SERVICE).exists() and not (folder / TIMER).exists():
        console.emit([f"No malsync units in {folder}: nothing to remove."])
        return ExitStatus.OK
    disabled = systemctl("disable", "--now", TIMER)
    removed = remove_units(folder, replace=args.replace)
    lines = [f"Deleted {path}" for path in removed]
    if disabled.ok:
        systemctl("daemon-reload")
        lines.insert(0, f"Disabled {TIMER}.")
    else:
        lines.append(
            f"systemctl --user does not work here ({disabled.output}); if the timer is still "
            f"loaded where it does: systemctl --user disable --now {TIMER}"
        )
    console.emit(lines)
    return ExitStatus.OK
