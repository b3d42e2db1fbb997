"""Command line: parse arguments, load settings, call the core, map the outcome to an exit code.

Each command's code is imported when that command runs (`COMMANDS`), so that `--version`,
`--help` and a dry run load nothing they do not use: no HTTP library, browser or listener.
SIGTERM ends a command as Ctrl-C does; both are raised only where no library holds a lock (see
`InterruptLikeCtrlC`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, cast

from malsync.cli.arguments import build_parser
from malsync.cli.collector import collection_spaced
from malsync.cli.console import Console
from malsync.cli.hints import parse_command_line
from malsync.cli.progress import BarAwareHandler
from malsync.cli.setup import settings_free_command, where_the_config_is
from malsync.config.settings import ConflictPolicy, Settings, load_settings
from malsync.errors import ConfigError, ExitStatus, MalsyncError, SettingError, Terminated
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
    with InterruptLikeCtrlC() as termination:
        try:
            done = settings_free_command(args, console)
            if done is not None:
                return done
            settings = _settings(args, os.environ if env is None else env, console)
            status = program(args, settings, console)
        except (MalsyncError, KeyboardInterrupt, OSError) as error:
            return _failed(error, args, terminated=termination.received)
    if termination.received and status is ExitStatus.INTERRUPTED:
        return ExitStatus.TERMINATED
    return status


def _settings(args: argparse.Namespace, env: Mapping[str, str], console: Console) -> Settings:
    try:
        return resolve_settings(args, env)
    except ConfigError as error:
        if args.command == "sync":
            from malsync.cli.nightly import after_unreadable_config

            after_unreadable_config(args, env, str(error), console)
        raise


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


# Signals. SIGTERM and Ctrl-C end a command where an exception cannot leave a lock held.
#
# Python raises a signal's exception at whatever point the main thread is. Inside a library's
# critical section that can leave a lock taken: queue.Queue, which urllib3's connection pool
# takes for every request, takes its plain (not reentrant) Lock in Python code (`with` calls
# threading.Condition.__enter__), and an exception raised right after the lock is taken, before
# the `with` block begins, skips its release. The ending of the run (the answer's connection put
# back, the connections closed, the checkpoint and the report) then waits for that lock forever.
#
# So the exception is raised at once only where the main thread runs malsync's own code (which
# takes no lock there, and whose checkpoint rolls back a transaction a signal left open) or waits
# on the network (`_WAITS`: a slow server, a connection being made); the sleeps of a rate-limit
# wait are made from malsync's code. Anywhere else it is held until the thread gets back to
# malsync's code or into one of those waits, found with the tracing hooks (as pdb stops at
# Ctrl-C): the next line of a malsync function on the stack, or the next call of one.

# Where the main thread waits holding no lock, by module and function: a signal is not held
# there, so that a slow server, or a console browser `malsync login` waits for, does not hold
# up the end of a command.
_WAITS = frozenset(
    {
        ("socket", "readinto"),  # an answer (its status line, headers or body) coming in
        ("ssl", "read"),
        ("ssl", "recv_into"),
        ("ssl", "do_handshake"),
        ("socket", "create_connection"),
        ("urllib3.util.connection", "create_connection"),
        ("subprocess", "_try_wait"),  # a child process's end (the waitpid lock is a `with`)
    }
)

TraceFunction = Any  # sys.settrace's callback: (frame, event, arg) -> TraceFunction | None


def _ours(frame: FrameType) -> bool:
    module = str(frame.f_globals.get("__name__", ""))
    return module == "malsync" or module.startswith("malsync.")


def safe_to_raise(frame: FrameType | None) -> bool:
    """Whether an exception raised in `frame` (the innermost one) can leave no lock held."""
    if frame is None or _ours(frame):
        return True
    return (str(frame.f_globals.get("__name__", "")), frame.f_code.co_name) in _WAITS


class InterruptLikeCtrlC:
    """While a command runs, SIGTERM (systemd, `timeout`) interrupts it like Ctrl-C, once: a
    second one while it saves and reports is ignored, so that the ending is not cut short.
    Ctrl-C interrupts it as before, where Python's own handler is set (not where it is ignored).
    Both are raised only where that is safe (see the comment above); a second Ctrl-C while
    the first is still held is raised at once, for a command stuck in a library's wait."""

    def __init__(self) -> None:
        self.received = False  # SIGTERM: the run ends as terminated (exit 143)
        self._installed = threading.current_thread() is threading.main_thread()
        self._previous: dict[int, Any] = {}
        self._held: type[KeyboardInterrupt] | None = None
        self._traced: list[FrameType] = []
        self._trace_before: TraceFunction = None
        self._tracer_at_start: TraceFunction = None
        self._interrupted = False  # a Ctrl-C came

    def __enter__(self) -> InterruptLikeCtrlC:
        self._tracer_at_start = sys.gettrace()  # a debugger's or coverage's, if any
        if self._installed:
            self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._terminate)
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._release()  # a signal still held: the command ended before it could be raised
        # A held signal was raised from a trace function, which makes Python unset the thread's
        # tracer: the one the command started with (coverage, a debugger) is set again.
        if sys.gettrace() is not self._tracer_at_start:
            sys.settrace(self._tracer_at_start)

    def _terminate(self, signum: int, frame: FrameType | None) -> None:
        # Once: and not after a Ctrl-C, whose saving and reporting it would cut short.
        first = not self.received and not self._interrupted
        self.received = True
        if first:
            self._raise(Terminated, frame)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        self._interrupted = True
        if self._held is not None:
            self._release()
            raise KeyboardInterrupt
        self._raise(KeyboardInterrupt, frame)

    def _raise(self, exception: type[KeyboardInterrupt], frame: FrameType | None) -> None:
        """Raise `exception` now if it is safe in `frame`, else hold it until it is."""
        if safe_to_raise(frame):
            raise exception
        if self._held is not None:
            return
        self._held = exception
        self._trace_before = sys.gettrace()
        while frame is not None:  # the malsync functions the thread returns to
            if _ours(frame):
                frame.f_trace = self._on_event
                self._traced.append(frame)
            frame = frame.f_back
        sys.settrace(self._on_call)

    def _on_call(self, frame: FrameType, event: str, arg: object) -> TraceFunction:
        """Every function called while a signal is held: in a safe one it is raised (not in
        this class's own: a handler, called where the next signal lands, or `__exit__`)."""
        if frame.f_code not in _HANDLING and safe_to_raise(frame):
            self._deliver()
        return None

    def _on_event(self, frame: FrameType, event: str, arg: object) -> TraceFunction:
        """A line (or the return) of a malsync function that was on the stack: raised here."""
        self._deliver()
        return None

    def _deliver(self) -> None:
        """Raised from the trace function, which Python then unsets (a debugger's goes too)."""
        exception = self._held
        self._release()
        if exception is not None:
            raise exception

    def _release(self) -> None:
        """Stop holding a signal and put back the tracing as it was."""
        if self._held is None:
            return
        self._held = None
        for frame in self._traced:
            frame.f_trace = None
        self._traced.clear()
        sys.settrace(self._trace_before)
        self._trace_before = None


# The class's own functions, which run where a signal lands or as the command ends.
_HANDLING = frozenset(
    function.__code__ for function in vars(InterruptLikeCtrlC).values() if callable(function)
)


def main(argv: Sequence[str] | None = None) -> int:
    return int(raw_main(argv))
