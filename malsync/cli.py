"""Command line: parse arguments, load settings, call the core, map the outcome to an exit code."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from malsync import __version__
from malsync.config import Settings, load_settings
from malsync.errors import ExitStatus, MalsyncError
from malsync.progress import BarProgress
from malsync.report import Report, summary_lines, write_report
from malsync.status import status_lines
from malsync.sync import SyncRequest, run_sync

log = logging.getLogger("malsync")


class _RedactSecrets(logging.Filter):
    """Last line of defence: no log record may carry the access token, whatever logged it."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


_redactor = _RedactSecrets()


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="config file (default: user config folder)")
    noise = common.add_mutually_exclusive_group()
    noise.add_argument(
        "-q", "--quiet", action="store_true", help="print only the final summary and errors"
    )
    noise.add_argument("-v", "--verbose", action="store_true", help="add debug detail")

    parser = argparse.ArgumentParser(
        prog="malsync",
        description="Move a MyAnimeList anime and manga list to aniSearch, and keep it in sync.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"malsync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sync = commands.add_parser(
        "sync", parents=[common], help="send MAL exports to aniSearch (or plan with --dry-run)"
    )
    sync.add_argument("exports", nargs="+", type=Path, metavar="EXPORT", help=".xml or .xml.gz")
    sync.add_argument("--dry-run", action="store_true", help="plan only: no token, no network")
    sync.add_argument("--report", type=Path, metavar="PATH", help="write a JSON report here")
    sync.add_argument("--state", type=Path, metavar="PATH", help="checkpoint file")
    sync.add_argument("--force", action="store_true", help="send entries even if unchanged")

    status = commands.add_parser("status", parents=[common], help="summarise the checkpoint")
    status.add_argument("--state", type=Path, metavar="PATH", help="checkpoint file")
    return parser


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    log.setLevel(level)


def _emit(lines: Sequence[str]) -> None:
    """The final summary is printed whatever the verbosity: it is what -q keeps."""
    for line in lines:
        print(line, file=sys.stderr)


def program(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    if args.command == "sync":
        return _sync_command(args, settings)
    if args.command == "status":
        _emit(status_lines(settings, args.state))
        return ExitStatus.OK
    raise AssertionError(args.command)  # pragma: no cover - argparse rejects other commands


def _sync_command(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    request = SyncRequest(
        exports=tuple(args.exports), dry_run=args.dry_run, force=args.force, state=args.state
    )
    show_bar = not args.quiet and not args.dry_run and sys.stderr.isatty()
    report = run_sync(settings, request, BarProgress() if show_bar else None)
    return _finish(report, args.report)


def _finish(report: Report, report_path: Path | None) -> ExitStatus:
    if report_path is not None:
        try:
            write_report(report, report_path)
        except OSError as error:
            log.error("malsync: cannot write the report %s: %s", report_path, error.strerror)
    _emit(summary_lines(report))
    if report.stopped_status is not None:
        return report.stopped_status
    return ExitStatus.ENTRIES_FAILED if report.problems() else ExitStatus.OK


def raw_main(argv: Sequence[str] | None = None) -> ExitStatus:
    """Parse, run, and map every failure to its exit status without a traceback for user errors."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return ExitStatus.OK if exit_.code in (0, None) else ExitStatus.BAD_INPUT
    _setup_logging(args.quiet, args.verbose)
    try:
        settings = load_settings(args.config, os.environ)
        if settings.anisearch.token is not None:
            _redactor.secrets = [settings.anisearch.token.reveal()]
        return program(args, settings)
    except MalsyncError as error:
        log.error("malsync: error: %s", error)
        return error.exit_status
    except KeyboardInterrupt:
        log.error("malsync: interrupted")
        return ExitStatus.INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    return int(raw_main(argv))
