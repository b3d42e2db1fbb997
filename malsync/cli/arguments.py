"""The command line's grammar: commands, options, help texts (argparse builders only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from malsync import __version__
from malsync.auth.providers import DEFAULT_SERVICE, PROVIDERS
from malsync.config.settings import ConflictPolicy, default_checkpoint_file, default_config_path

EXIT_CODES = """\
Exit codes:
  0    all well
  1    some entries failed, are invalid or unknown to aniSearch (see the report)
  2    bad usage, config or input file: nothing was sent; or the report or checkpoint
       could not be written: what was sent is recorded, run again to resume
  3    the server stopped the run, or the sign-in must be renewed (malsync login)
  130  interrupted (Ctrl-C); 143 terminated: run the same command again to resume"""


def _shared_options(
    parser: argparse.ArgumentParser, *, top: bool, quiet_verbose: bool = True
) -> None:
    """--config, -q and -v, accepted before and after the command.

    The command's copies default to SUPPRESS, so an option given before the command is not
    overwritten by the command's own default. Commands whose output is data (`config ...`)
    take no -q or -v after them: there is nothing to leave out or to add.
    """
    default: object = None if top else argparse.SUPPRESS
    flag_default: object = False if top else argparse.SUPPRESS
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="PATH",
        help=f"config file (default: {default_config_path()})",
    )
    if not quiet_verbose:
        return
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=flag_default,
        help="print nothing when all is well: only errors and what needs you (for cron)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=flag_default, help="add debug detail"
    )


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    example: str,
    *,
    quiet_verbose: bool = True,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"Example:\n  {example}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    _shared_options(parser, top=False, quiet_verbose=quiet_verbose)
    return parser


def _flag(
    parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup, name: str, *help: str
) -> None:
    """An option that is on or off."""
    parser.add_argument(name, action="store_true", help="".join(help))


def _state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help=f"checkpoint file (default: [sync] state, else {default_checkpoint_file()})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="malsync",
        description="Move a MyAnimeList anime and manga list to aniSearch, and keep it in sync.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("-V", "--version", action="version", version=f"malsync {__version__}")
    _shared_options(parser, top=True)
    # Not required here: without one, parse_command_line lists the commands.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _sync_parser(commands)
    status = _command(
        commands,
        "status",
        "sign-in and checkpoint: last run, outcomes, failures",
        "Say whether malsync is signed in and until when (or that aniSearch refused to renew "
        "the sign-in), and what the checkpoint knows: the last run, the outcome counts and "
        "what failed. Prints to standard output; --json gives the same for scripts.",
        "malsync status --json",
    )
    _state_option(status)
    _flag(status, "--json", "print the same as one JSON document (times as Unix)")
    _login_parser(commands)
    logout = _command(
        commands,
        "logout",
        "revoke the stored sign-in and delete it",
        "Revoke the stored refresh token at aniSearch and delete the stored sign-in; with "
        "myanimelist, delete the stored MAL sign-in (MAL offers no revocation).",
        "malsync logout myanimelist",
    )
    _service_argument(logout)
    _restore_parser(commands)
    _setup_parsers(commands)
    _schedule_parser(commands)
    _notify_parser(commands)
    return parser


def _sync_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = _command(
        commands,
        "sync",
        "send your MAL list to aniSearch (or plan with --dry-run)",
        "Read your MAL list (export files, a folder of them, or live with --mal-user), plan "
        "every entry against the checkpoint and what aniSearch holds, and send what changed, "
        "inside aniSearch's rate limits. Stop it at any time and run the same command again: "
        "it resumes where it stopped.",
        "malsync sync --dry-run animelist.xml.gz mangalist.xml.gz --report plan.json\n"
        "  malsync sync --mal-user YourMalName --yes -q",
    )
    add_sync_options(sync)


def add_sync_options(sync: argparse.ArgumentParser) -> None:
    """What a sync takes: for `sync`, and for `schedule`, which runs exactly such a sync."""
    sync.add_argument(
        "exports",
        nargs="*",
        type=Path,
        metavar="EXPORT",
        help="MAL export (.xml or .xml.gz), or a folder: its newest animelist_* and mangalist_*",
    )
    sync.add_argument(
        "--mal-user",
        metavar="NAME",
        help="read NAME's list live from MAL instead (@me: the signed-in user; "
        "default: [myanimelist] user when no export is given)",
    )
    sync.add_argument(
        "--media",
        choices=["anime", "manga"],
        help="with --mal-user: read only this list (default: both)",
    )
    _flag(
        sync,
        "--dry-run",
        "plan only, change nothing; reads aniSearch to compare only if a token is set up",
    )
    sync.add_argument(
        "--report",
        type=Path,
        metavar="PATH",
        help="write a report here: an HTML page if PATH ends in .html, else JSON",
    )
    _state_option(sync)
    _flag(
        sync,
        "--force",
        "send entries even if unchanged; --report may then replace a file that is not a "
        "malsync report",
    )
    sync.add_argument(
        "--on-conflict",
        choices=[policy.value for policy in ConflictPolicy],
        help="when aniSearch holds something else: merge takes what changed on MAL since the "
        "last sync and keeps edits made on aniSearch; mal-wins sends MAL's values "
        "(default: [sync] on_conflict, else merge)",
    )
    sync.add_argument(
        "--no-remote-diff",
        dest="remote_diff",
        action="store_false",
        help="do not read aniSearch first; trust the checkpoint alone",
    )
    _flag(
        sync,
        "--delete-missing",
        "delete ratings malsync wrote whose titles are no longer in the export",
    )
    _flag(sync, "--retry-unmatched", "ask again for titles aniSearch did not know")
    _flag(sync, "--yes", "confirm deletions without asking")


def _login_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    login = _command(
        commands,
        "login",
        "sign in to aniSearch, or to MyAnimeList for a private list (OAuth)",
        "Sign in in the browser (OAuth 2.0 with PKCE): to aniSearch (the default), or to "
        "MyAnimeList to read a private list. malsync stores the tokens, readable only by you, "
        "and renews them by itself.",
        "malsync login --paste\n  malsync login myanimelist",
    )
    _service_argument(login)
    _flag(login, "--no-browser", "print the sign-in address, open no browser")
    _flag(
        login, "--paste", "paste the address the browser ends on (for a browser on another machine)"
    )
    login.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the browser (default: 300)",
    )


def _service_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "service",
        nargs="?",
        choices=list(PROVIDERS),
        default=DEFAULT_SERVICE,
        help=f"where to sign in (default: {DEFAULT_SERVICE})",
    )


def _restore_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    restore = _command(
        commands,
        "restore",
        "undo a run (or a whole migration) on aniSearch from its backup",
        "Put back every rating a run changed, as it was before the run, and delete the ones it "
        "created, from the backup taken before the run's first write. A first migration that "
        "was stopped and resumed is several runs: --since undoes them all.",
        "malsync restore --list\n  malsync restore --since 1 --dry-run",
    )
    restore.add_argument(
        "backup", nargs="?", type=Path, metavar="BACKUP", help="default: the latest run's backup"
    )
    _state_option(restore)
    which = restore.add_mutually_exclusive_group()
    _flag(which, "--list", "list the runs: time, counts, backup; change nothing")
    which.add_argument("--run", type=int, metavar="N", help="undo run N only")
    which.add_argument(
        "--since",
        type=int,
        metavar="N",
        help="undo run N and every later one, newest first: aniSearch holds what it held "
        "before run N",
    )
    _flag(restore, "--dry-run", "show the values that would be put back")
    _flag(restore, "--yes", "do not ask for confirmation")


def _setup_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = _command(
        commands,
        "init",
        "write a commented config file, asking for your contact and MAL user",
        "Write a new config file (readable only by you) from the commented example, asking for "
        "the contact aniSearch requires and, if you have them, your aniSearch and MyAnimeList "
        "client ids and your MAL user name. Without a terminal it writes the example as it is. "
        "An existing file is never replaced without --force. -q leaves out everything but the "
        "questions and errors.",
        "malsync init\n  malsync init --config ~/malsync/config.toml </dev/null",
    )
    _flag(init, "--force", "replace an existing config file")
    config = _command(
        commands,
        "config",
        "where the config file is, what it sets, and the example",
        "Show the config: `path` prints where it is read from, `show` the settings a run "
        "would use (secrets masked), `example` the commented example that documents every "
        "setting. Each prints to standard output.",
        "malsync config show",
        quiet_verbose=False,
    )
    actions = config.add_subparsers(dest="config_action", metavar="ACTION")  # see above
    for name, summary, description in (
        ("path", "print the config file's path", "Print where the config file is read from."),
        (
            "show",
            "print the effective settings, secrets masked",
            "Print the settings a run would use (the config file and the environment over the "
            "defaults), with every token, secret and client id masked.",
        ),
        (
            "example",
            "print the commented example config",
            "Print the commented example config that documents every setting and its default.",
        ),
    ):
        _command(actions, name, summary, description, f"malsync config {name}", quiet_verbose=False)


def _schedule_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schedule = _command(
        commands,
        "schedule",
        "run a sync every night: a systemd user timer (or a crontab line)",
        "Write malsync.service and malsync.timer to the systemd user folder "
        "($XDG_CONFIG_HOME/systemd/user, default ~/.config/systemd/user) for exactly the sync "
        "the other arguments describe, run by this malsync with -q, and enable the timer where "
        "systemctl --user works (else print the command that does). The run waits a random "
        "delay of up to 15 minutes; a run missed while the machine was off comes at the next "
        "boot. Export paths, --report and --state are made absolute.",
        "malsync schedule --at 03:15 --mal-user YourMalName --yes --report ~/malsync/report.json"
        "\n  malsync schedule --at 03:15 --cron ~/Downloads\n  malsync schedule --remove",
    )
    schedule.add_argument(
        "--at", metavar="HH:MM", help="the time of day to run the sync (24-hour clock)"
    )
    how = schedule.add_mutually_exclusive_group()
    _flag(how, "--print", "show the two units, write nothing")
    _flag(how, "--cron", "print the crontab line for the same sync instead, write nothing")
    _flag(how, "--remove", "disable the timer and delete the units")
    _flag(schedule, "--replace", "replace (or remove) units that malsync schedule did not write")
    add_sync_options(schedule)


def _notify_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    notify = _command(
        commands,
        "notify",
        "the messages a run sends when it needs you; --test sends one",
        "List the notification URLs ([notify] urls or MALSYNC_NOTIFY_URLS, masked), or with "
        "--test send a test message to each. A run sends a message (through Apprise: "
        "pip install 'malsync[notify]') when it failed or was stopped, when titles newly "
        "failed or are newly unknown to aniSearch, or when a sign-in expires within three "
        "days; none when all is well. Exit 1 here: a message could not be sent.",
        "malsync notify --test",
    )
    _flag(notify, "--test", "send a test message to every URL")
