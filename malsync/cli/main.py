"""Command line: parse arguments, load settings, call the core, map the outcome to an exit code.

Each command's code is imported when that command runs (`COMMANDS`), so that `--version`,
`--help` and a dry run load nothing they do not use: no HTTP library, browser or listener.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

from malsync.cli.arguments import build_parser
from malsync.cli.collector import collection_spaced
from malsync.cli.console import Console
from malsync.cli.hints import parse_command_line
from malsync.cli.progress import BarAwareHandler
from malsync.cli.setup import settings_free_command, where_the_config_is
from malsync.config.settings import ConflictPolicy, Settings, load_settings
from malsync.errors import ExitStatus, MalsyncError, SettingError
from malsync.redaction import redact

if TYPE_CHECKING:
    from malsync.compose import Composition

log = logging.getLogger("malsync")


class _RedactSecrets(logging.Filter):
    """Last line of defence: no log record may carry a token, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


_redactor = _RedactSecrets()


def _setup_logging(quiet: bool, verbose: bool, console: Console) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    handler = BarAwareHandler(console.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    log.setLevel(level)


def resolve_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    """The config file and environment, with this command line on top: merged once, here."""
    settings = load_settings(args.config, env)
    policy = getattr(args, "on_conflict", None)
    return settings.override(
        checkpoint_file=getattr(args, "state", None),
        on_conflict=ConflictPolicy(policy) if policy is not None else None,
    )


# A command's work, given its arguments, what the settings make, and the terminal.
Command = Callable[[argparse.Namespace, "Composition", Console], ExitStatus]


def program(args: argparse.Namespace, settings: Settings, console: Console) -> ExitStatus:
    """The command's work; failures surface as MalsyncError for `raw_main` to turn into codes."""
    from malsync.compose import Composition  # what the commands are made of: for one that runs

    with collection_spaced():
        return command(args.command)(args, Composition(settings), console)


# Where each command's code is, imported only when it runs.
COMMANDS: dict[str, str] = {
    "sync": "malsync.cli.sync_command:sync_command",
    "status": "malsync.cli.account_commands:status_command",
    "login": "malsync.cli.account_commands:login_command",
    "logout": "malsync.cli.account_commands:logout_command",
    "restore": "malsync.cli.restore_command:restore_command",
    "config": "malsync.cli.setup:config_command",
    "schedule": "malsync.cli.schedule_command:schedule_command",
    "notify": "malsync.cli.nightly:notify_command",
}


def command(name: str) -> Command:
    module, function = COMMANDS[name].split(":")
    return cast(Command, getattr(importlib.import_module(module), function))


def raw_main(
    argv: Sequence[str] | None = None,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
) -> ExitStatus:
    """Parse, run, and map every failure to its exit status without a traceback for user errors."""
    console = console or Console()
    args = _parse(argv)
    if isinstance(args, ExitStatus):
        return args
    _setup_logging(args.quiet, args.verbose, console)
    with _TerminateLikeInterrupt() as termination:
        try:
            done = settings_free_command(args, console)
            if done is not None:
                return done
            settings = resolve_settings(args, os.environ if env is None else env)
            status = program(args, settings, console)
        except (MalsyncError, KeyboardInterrupt, OSError) as error:
            return _failed(error, args, terminated=termination.received)
    if termination.received and status is ExitStatus.INTERRUPTED:
        return ExitStatus.TERMINATED
    return status


def _parse(argv: Sequence[str] | None) -> argparse.Namespace | ExitStatus:
    """The arguments, or the exit status of --help, --version or a usage error (argparse said
    it)."""
    parser = build_parser()
    try:
        args = parse_command_line(parser, argv)
        if args.quiet and args.verbose:
            parser.error("-q and -v cannot be used together")
    except SystemExit as exit_:
        return ExitStatus.OK if exit_.code in (0, None) else ExitStatus.BAD_INPUT
    return args


def _failed(error: BaseException, args: argparse.Namespace, *, terminated: bool) -> ExitStatus:
    """One line (two for a missing setting: which config file) and the failure's exit status.

    A MalsyncError carries its own status; the machine's trouble (a full disk, a folder without
    permission) is bad input, not a bug; Ctrl-C and SIGTERM end as interrupted or terminated.
    """
    if isinstance(error, KeyboardInterrupt):
        log.error("malsync: %s", "terminated" if terminated else "interrupted")
        return ExitStatus.TERMINATED if terminated else ExitStatus.INTERRUPTED
    log.error("malsync: error: %s", error)
    if isinstance(error, SettingError):
        log.error("malsync: %s", where_the_config_is(args))
    return error.exit_status if isinstance(error, MalsyncError) else ExitStatus.BAD_INPUT


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so a run ends the same way: saved, reported."""


class _TerminateLikeInterrupt:
    """While a command runs, SIGTERM (systemd, `timeout`) interrupts it like Ctrl-C, once:
    a second one while it saves and reports is ignored, so the ending is not cut short."""

    def __init__(self) -> None:
        self.received = False
        self._previous: object = None
        self._installed = threading.current_thread() is threading.main_thread()

    def _handle(self, signum: int, frame: object) -> None:
        if not self.received:
            self.received = True
            raise Terminated

    def __enter__(self) -> _TerminateLikeInterrupt:
        if self._installed:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    return int(raw_main(argv))
