"""`malsync sync` on the command line: the sources and output paths from the arguments, the
run, its report and unmatched.csv, and what a person hears of it (cli/nightly.py)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from malsync.auth.providers import ANISEARCH, MYANIMELIST
from malsync.cli.console import Console
from malsync.cli.nightly import SyncDone, after_failed_sync, after_sync
from malsync.cli.progress import BarProgress
from malsync.commands.sync import SyncRequest, run_sync
from malsync.commands.sync_deletions import deletion_lines
from malsync.compose import Composition
from malsync.config.settings import default_config_path
from malsync.errors import ConfigError, ExitStatus, MalsyncError
from malsync.json_text import indented_json
from malsync.pipeline.planner import Decision
from malsync.pipeline.records import MediaType, counted
from malsync.report.run_report import Report, capped, checkpoint_saved, write_report
from malsync.report.target import STDOUT, Protected, checkpoint_files, report_target
from malsync.report.unmatched_csv import UNMATCHED_FILE, write_unmatched
from malsync.report.written import holds_an_unmatched_list
from malsync.sources import Source
from malsync.sources.export import ExportSource
from malsync.store.backup import backup_folder

log = logging.getLogger("malsync")


def sync_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    try:
        done = _run_sync(args, root, console)
    except MalsyncError as error:
        after_failed_sync(args, root.settings, console, error.exit_status, str(error))
        raise
    except OSError as error:  # the machine's trouble (a full disk): raw_main says it, exit 2
        after_failed_sync(args, root.settings, console, ExitStatus.BAD_INPUT, str(error))
        raise
    return after_sync(args, root.settings, console, done)


def _run_sync(args: argparse.Namespace, root: Composition, console: Console) -> SyncDone:
    sources = _sources(args, root)
    report_path, unmatched_path = _output_paths(args, root, sources)
    request = SyncRequest(
        sources=sources,
        dry_run=args.dry_run,
        force=args.force,
        remote_diff=args.remote_diff,
        delete_missing=args.delete_missing,
        retry_unmatched=args.retry_unmatched,
    )
    show_bar = not args.quiet and not args.dry_run and console.shows_progress()
    progress = BarProgress(console.stderr) if show_bar else None

    def confirm(deletions: Sequence[Decision]) -> bool:
        return args.yes or _ask_to_delete(console, deletions)

    report = run_sync(root.sync_setup(), request, progress, confirm)
    written = _write_unmatched(report, unmatched_path) if unmatched_path is not None else True
    unmatched = unmatched_path if written and report.unmatched() else None
    if report_path == STDOUT:
        console.out([indented_json(report.to_json())])
        report_path = None
    elif report_path is not None:
        try:
            write_report(report, report_path)
        except OSError as error:
            log.error(
                "malsync: cannot write the report %s: %s%s",
                report_path,
                error.strerror,
                checkpoint_saved(report.run),
            )
            written, report_path = False, None
    # A run whose report is missing must not look like a success to a script.
    status = report.exit_status if written else max(report.exit_status, ExitStatus.BAD_INPUT)
    return SyncDone(report, status, report_path, unmatched)


def _output_paths(
    args: argparse.Namespace, root: Composition, sources: Sequence[Source]
) -> tuple[Path | None, Path | None]:
    """The report and unmatched.csv paths, refused before the run if writing them would destroy
    a file malsync reads or keeps: an input, the checkpoint, a backup, the config, a token."""
    checkpoint_file = root.checkpoint_file
    protected = [
        *checkpoint_files(checkpoint_file, backup_folder(checkpoint_file)),
        *(Protected(s.path, "an input export") for s in sources if isinstance(s, ExportSource)),
        *(Protected(path, "an input") for path in args.exports if not path.is_dir()),
        Protected(args.config or default_config_path(), "the config file"),
        Protected(root.sign_in(ANISEARCH).token_file, "the aniSearch token file"),
        Protected(root.sign_in(MYANIMELIST).token_file, "the MyAnimeList token file"),
    ]
    force = args.force
    report = report_target(args.report, protected, force=force) if args.report is not None else None
    # Beside the report; a real run without one (or with stdout) puts it beside the checkpoint.
    if report is not None and report != STDOUT:
        beside = args.report.parent / UNMATCHED_FILE
    elif not args.dry_run:
        beside = checkpoint_file.parent / UNMATCHED_FILE
    else:
        return report, None
    return report, report_target(
        beside, protected, option=UNMATCHED_FILE, force=force, ours=holds_an_unmatched_list
    )


def _sources(args: argparse.Namespace, root: Composition) -> tuple[Source, ...]:
    """Export files (or folders of them), or the live MAL list: one kind per run."""
    if args.exports and args.mal_user:
        raise ConfigError("give export files or --mal-user, not both")
    if args.exports and args.media:
        raise ConfigError("--media goes with --mal-user; exports say what they hold")
    return root.sources(args.exports, args.mal_user, MediaType(args.media) if args.media else None)


def _ask_to_delete(console: Console, deletions: Sequence[Decision]) -> bool:
    lines = deletion_lines(deletions)  # one a title: a bundle's members are one rating
    listing = capped([f"  {line}" for line in lines])
    these = "this rating" if len(lines) == 1 else f"these {len(lines)} ratings"
    return console.ask(
        f"Delete {these} on aniSearch? They are no longer on your MAL list.",
        listing,
    )


def _write_unmatched(report: Report, path: Path) -> bool:
    """Whether it went well; no empty file, and none left from an earlier run (one there means
    something to fix)."""
    count = len(report.unmatched())
    try:
        if not count:
            path.unlink(missing_ok=True)
            return True
        write_unmatched(report, path)
    except OSError as error:
        log.error(
            "malsync: cannot write %s: %s%s", path, error.strerror, checkpoint_saved(report.run)
        )
        return False
    verbs = "is" if count == 1 else "are"
    log.info("%s aniSearch does not know %s listed in %s", counted(count, "title"), verbs, path)
    return True
