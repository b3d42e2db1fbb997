"""What a person hears of a sync: the summary at a terminal; with -q nothing when all went
well; and one message through Apprise ([notify] urls) when the run needs them."""

from __future__ import annotations

import argparse
import logging
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from malsync.auth.providers import MYANIMELIST
from malsync.cli.console import Console
from malsync.commands.status import anisearch_sign_in, mal_sign_in
from malsync.compose import Composition
from malsync.config.notify_urls import NotifyUrl
from malsync.config.settings import Settings, notify_settings_alone
from malsync.errors import ExitStatus, SettingError
from malsync.notify.notice import Notice, RunEnding, Severity, attention_lines, notice_for
from malsync.pipeline.records import Outcome, counted
from malsync.report.run_report import (
    Report,
    checkpoint_saved,
    is_news_outcome,
    problem_lines,
    summary_lines,
)

log = logging.getLogger("malsync")
EXPIRY_WARNING_SECONDS = 3 * 24 * 3600


@dataclass(frozen=True)
class SyncDone:
    """A sync that ran to its report: how it ended and what it wrote."""

    report: Report
    status: ExitStatus
    report_path: Path | None  # written
    unmatched: Path | None  # written (there are titles aniSearch does not know)


def after_sync(
    args: argparse.Namespace, settings: Settings, console: Console, done: SyncDone
) -> ExitStatus:
    """The summary (or, with -q, only what needs the person), and the message if any."""
    report = done.report
    problem = report.run.stopped
    if done.status is ExitStatus.BAD_INPUT and report.exit_status is not ExitStatus.BAD_INPUT:
        problem = "the report or unmatched.csv could not be written" + checkpoint_saved(report.run)
    ending = RunEnding(
        status=done.status,
        problem=problem,
        new_problems=tuple(report.new_problems()),
        sign_in=expiring_sign_ins(args, settings, time.time()),
        look_closer=_look_closer(args, done.report_path),
        unmatched_file=str(done.unmatched) if done.unmatched is not None else None,
    )
    if args.quiet:
        console.emit(_quiet_lines(report, ending))
    else:
        where = [f"Report: {done.report_path}"] if done.report_path is not None else []
        console.emit([*summary_lines(report), *where, *ending.sign_in])
    tell(settings.notify.urls, notice_for(ending), console)
    return done.status


def after_failed_sync(
    args: argparse.Namespace,
    settings: Settings,
    console: Console,
    status: ExitStatus,
    problem: str,
) -> None:
    """A sync that stopped before its report (exit 2 or 3): the message says why."""
    ending = RunEnding(
        status=status,
        problem=problem,
        sign_in=expiring_sign_ins(args, settings, time.time()),
        look_closer=_look_closer(args, None),
    )
    tell(settings.notify.urls, notice_for(ending), console)


def _quiet_lines(report: Report, ending: RunEnding) -> list[str]:
    """Nothing for a run that went well, nor for titles a person has heard of already."""
    lines = attention_lines(ending)
    invalid = [entry for entry in report.problems() if entry.outcome is Outcome.INVALID]
    lines.extend(problem_lines(invalid, report.run.dry_run))
    told = {id(entry) for entry in ending.new_problems}
    again = [e for e in report.problems() if is_news_outcome(e) and id(e) not in told]
    if lines and again:
        were = "was" if len(again) == 1 else "were"
        lines.append(f"{counted(len(again), 'more title')} {were} not synced, as in earlier runs.")
    return [*lines, f"Look closer: {ending.look_closer}"] if lines else []


def _look_closer(args: argparse.Namespace, report_path: Path | None) -> str:
    command = ["malsync", "status"]
    if args.config is not None:
        command.extend(["--config", str(args.config)])
    if getattr(args, "state", None) is not None:
        command.extend(["--state", str(args.state)])
    text = shlex.join(command)
    return f"{text} (and the report, {report_path})" if report_path is not None else text


def expiring_sign_ins(args: argparse.Namespace, settings: Settings, now: float) -> tuple[str, ...]:
    """Sign-ins this sync uses whose renewal runs out within three days, where that is known."""
    parts = [("aniSearch", "malsync login", anisearch_sign_in(settings.anisearch, now))]
    reader = getattr(args, "mal_user", None) or settings.myanimelist.user
    if not getattr(args, "exports", None) and reader.lower() == "@me":
        parts.append(
            ("MyAnimeList", MYANIMELIST.login_command, mal_sign_in(settings.myanimelist, now))
        )
    lines = []
    for service, command, part in parts:
        until = part.get("renewable_until") if part["state"] in ("signed_in", "renewable") else None
        if until is not None and now < until < now + EXPIRY_WARNING_SECONDS:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(until))
            lines.append(
                f"The {service} sign-in can be renewed only until {when}: run {command} "
                "before then, or the nightly run stops (exit 3)."
            )
    return tuple(lines)


def after_unreadable_config(
    args: argparse.Namespace, env: Mapping[str, str], problem: str, console: Console
) -> None:
    """A sync whose config cannot be read (exit 2) still sends its message, where the
    environment or the file's own [notify] urls say: a mistake made editing the config must
    not fail the nightly run unheard."""
    ending = RunEnding(
        status=ExitStatus.BAD_INPUT, problem=problem, look_closer=_look_closer(args, None)
    )
    tell(notify_settings_alone(args.config, env).urls, notice_for(ending), console)


def tell(urls: Sequence[NotifyUrl], notice: Notice | None, console: Console) -> None:
    """Send the notice, if there is one and somewhere to send it; a failure is one warning
    line (shown with -q too), never the run's failure."""
    if notice is None or not urls:
        return
    from malsync.notify.sender import AppriseMissing, send_notice  # for a message to send

    try:
        deliveries = send_notice(urls, notice)
    except AppriseMissing as error:
        console.emit([f"malsync: warning: no message was sent: {error}"])
        return
    for delivery in deliveries:
        if delivery.problem is not None:
            console.emit([delivery.warning()])
        else:
            log.info("A message about this run went to %s.", delivery.url.masked)


def notify_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    settings = root.settings
    urls = settings.notify.urls
    if not urls:
        raise SettingError(
            'no notification URLs: set [notify] urls = ["ntfy://my-topic"] (Apprise URLs) in '
            "the config, or MALSYNC_NOTIFY_URLS in the environment"
        )
    if not args.test:
        console.out([url.masked for url in urls])
        origin = settings.notify.origin
        console.emit([f"From {origin}; malsync notify --test sends a test message."])
        return ExitStatus.OK
    from malsync.notify.sender import send_notice  # for a message to send

    deliveries = send_notice(urls, _test_notice())  # AppriseMissing: exit 2, with the hint
    console.emit([d.warning() if d.problem else f"Sent to {d.url.masked}." for d in deliveries])
    return ExitStatus.OK if all(d.problem is None for d in deliveries) else ExitStatus.SOME_FAILED


def _test_notice() -> Notice:
    import socket  # for the host's name: only the test message says it

    lines: Sequence[str] = (
        f"A test message from malsync on {socket.gethostname()}: messages arrive here.",
        "A sync sends one when it failed or was stopped, when titles newly failed or are newly "
        "unknown to aniSearch, or when a sign-in expires within three days; none when all is well.",
    )
    return Notice("malsync: test message", tuple(lines), Severity.INFO)
