"""Command line: parse arguments, load settings, call the core, map the outcome to an exit code."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from malsync.auth.oauth import logout
from malsync.auth.providers import ANISEARCH, PROVIDERS
from malsync.cli.arguments import build_parser
from malsync.cli.console import Console
from malsync.cli.hints import parse_command_line
from malsync.cli.nightly import notify_command
from malsync.cli.progress import BarAwareHandler
from malsync.cli.schedule_command import schedule_command
from malsync.cli.setup import settings_free_command, show_config, where_the_config_is
from malsync.cli.sync_command import sync_command
from malsync.commands.restore import (
    RestoreResult,
    RestoreStep,
    RunChoice,
    list_runs,
    run_restore,
)
from malsync.commands.restore_listing import RESTORE_LISTING_FILE, run_list_lines, undoing_lines
from malsync.commands.status import status_document, status_lines
from malsync.compose import Composition
from malsync.config.settings import ConflictPolicy, Settings, load_settings
from malsync.errors import ConfigError, ExitStatus, MalsyncError, SettingError
from malsync.fileio import atomic_write
from malsync.pipeline.records import counted
from malsync.redaction import redact
from malsync.report.run_report import (
    capped,
)

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
Command = Callable[[argparse.Namespace, Composition, Console], ExitStatus]


def program(args: argparse.Namespace, settings: Settings, console: Console) -> ExitStatus:
    """The command's work; failures surface as MalsyncError for `raw_main` to turn into codes."""
    return COMMANDS[args.command](args, Composition(settings), console)


def _status_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    settings = root.settings
    document = status_document(settings.anisearch, settings.myanimelist, root.checkpoint_file)
    if args.json:
        console.out([json.dumps(document, indent=2, ensure_ascii=False)])
    else:
        console.out(status_lines(document))
    # Shown all the same, but a checkpoint no sync can use must not look fine to a script.
    damaged = document["checkpoint"].get("problem") is not None
    return ExitStatus.BAD_INPUT if damaged else ExitStatus.OK


def _restore_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    if args.backup is not None and (args.list or args.run is not None or args.since is not None):
        raise ConfigError("give a BACKUP file or --list, --run or --since, not both")
    if args.list:
        console.emit(run_list_lines(list_runs(root.checkpoint_file), root.checkpoint_file))
        return ExitStatus.OK

    asked = False

    def confirm(result: RestoreResult) -> bool:
        nonlocal asked
        if args.yes:
            return True
        console.emit(undoing_lines(result))  # what it undoes, before it asks
        asked = True
        steps = result.steps
        listing = capped([f"  {step.describe()}" for step in steps])
        these = "this rating" if len(steps) == 1 else f"these {len(steps)} ratings"
        return console.ask(f"Change {these} on aniSearch back?", listing)

    choice = RunChoice(args.backup, args.run, args.since)
    result = run_restore(
        root.open_session, root.checkpoint_file, choice, dry_run=args.dry_run, confirm=confirm
    )
    lines = [] if asked else undoing_lines(result)
    if not result.steps:
        if not (result.kept or result.stopped):
            lines.append("aniSearch already holds what it held before that run: nothing to do.")
    elif args.dry_run:
        lines.append(f"Dry run: {counted(len(result.steps), 'change')} would be made:")
        lines.extend(_dry_run_listing(result.steps, root.checkpoint_file.parent))
    elif not result.confirmed:
        console.emit([*lines, "Not confirmed: nothing was changed."])
        return ExitStatus.BAD_INPUT
    else:
        lines.append(f"Restored {result.done} of {len(result.steps)} titles.")
        lines.extend(f"  failed: {failure}" for failure in result.failed)
    if result.stopped:
        lines.append(f"Stopped: {result.stopped}")
    console.emit(lines)
    return result.exit_status


def _dry_run_listing(steps: Sequence[RestoreStep], folder: Path) -> list[str]:
    """Each change with its values; longer than a screen, the whole list goes to a file."""
    listing = [f"  {step.describe()}: {step.values()}" for step in steps]
    screen = max(10, shutil.get_terminal_size().lines - 6)
    if len(listing) <= screen:
        return listing
    path = folder / RESTORE_LISTING_FILE

    def dump(handle: TextIO) -> None:
        handle.writelines(line.strip() + "\n" for line in listing)

    try:
        atomic_write(path, dump, private=True)  # titles and notes: personal data
    except OSError as error:
        log.error("malsync: cannot write %s: %s", path, error.strerror)
        return capped(listing, screen)
    return [*listing[:screen], f"  ... the full list of {len(listing)} changes is in {path}"]


def _login_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    from malsync.auth.browser import login  # the browser and the listener: for this command only

    provider = PROVIDERS[args.service]
    sign_in = root.sign_in(provider)
    redirect_uri = sign_in.redirect_uri

    def show(url: str) -> None:
        # The address carries the client id, which the service needs: shown as it is.
        console.emit([f"Open this address in a browser and sign in to {provider.name}:"])
        console.emit([url], redacted=False)
        if args.paste:
            console.emit(
                [
                    f"After you sign in, {provider.name} sends the browser to {redirect_uri}, "
                    'and the browser shows a "cannot connect" page: that is expected. Copy '
                    f"that page's whole address (it starts with {redirect_uri}?code=) from "
                    "the address bar."
                ]
            )

    def read_pasted() -> str:
        return console.read_line("Paste that address here, then press Enter: ")

    tokens = login(
        sign_in,
        root.contact,
        show=show,
        open_browser=not args.no_browser and not args.paste,
        read_pasted=read_pasted if args.paste else None,
        timeout=args.timeout,
        provider=provider,
    )
    lines = [f"Signed in to {provider.name}."]
    if provider is ANISEARCH:
        scopes = " ".join(sorted(tokens.scopes)) if tokens.scopes is not None else "not stated"
        lines = [f"Signed in to aniSearch (scopes: {scopes})."]
    lines.append(
        f"The tokens are in {sign_in.token_file}, readable only by you; malsync renews them by "
        "itself."
    )
    token_origin = root.settings.anisearch.token_origin
    if provider is ANISEARCH and token_origin:
        lines.append(f"Note: {token_origin} is set and is used instead.")
    console.emit(lines)
    return ExitStatus.OK


def _logout_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    provider = PROVIDERS[args.service]
    sign_in = root.sign_in(provider)
    signed_out = logout(sign_in, root.contact, provider)
    problem = signed_out.problem
    if not signed_out.stored:
        console.emit([f"Not signed in to {provider.name}: nothing to do."])
        return ExitStatus.OK
    if signed_out.damaged:
        damaged = f"the damaged {provider.name} token file {sign_in.token_file}"
        console.emit([f"Signed out: {damaged} was deleted."])
        return ExitStatus.OK
    if problem:
        console.emit(
            [
                f"The stored sign-in was deleted, but revoking it at {provider.name} failed: "
                f"{problem}.",
                f"The refresh token stays valid on {provider.name}'s side until it expires.",
            ]
        )
        return ExitStatus.SOME_FAILED
    if not provider.revocable:
        console.emit([f"Signed out: the stored {provider.name} sign-in was deleted."])
        return ExitStatus.OK
    console.emit(["Signed out: the refresh token was revoked and the stored sign-in deleted."])
    return ExitStatus.OK


def _config_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    return show_config(args, root.settings, console)  # `config path` and `example` need none


COMMANDS: dict[str, Command] = {
    "sync": sync_command,
    "status": _status_command,
    "login": _login_command,
    "logout": _logout_command,
    "restore": _restore_command,
    "config": _config_command,
    "schedule": schedule_command,
    "notify": notify_command,
}


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
