"""`malsync init` and `malsync config ...`: the first hour, before anything is synced."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from malsync.cli.console import Console
from malsync.config.settings import (
    CONTACT_PATTERN,
    MAL_ME,
    MAL_USER_PATTERN,
    Settings,
    default_config_path,
)
from malsync.errors import ExitStatus

if TYPE_CHECKING:  # the whole composition is for the commands that run, not for --help
    from malsync.compose import Composition

log = logging.getLogger("malsync")

_CONTACT_HELP = (
    "aniSearch wants a way to reach the person behind every request (it may block requests "
    "without one): an e-mail address or a web address such as your aniSearch profile."
)


def config_path(args: argparse.Namespace) -> Path:
    return args.config if args.config is not None else default_config_path()


def where_the_config_is(args: argparse.Namespace) -> str:
    """For every "set X in the config" message: which file that is, and how to make it."""
    path = config_path(args)
    if path.exists():
        return f"The config file is {path}."
    return (
        f"The config file is {path}; it does not exist yet: malsync init writes it "
        "(malsync config example shows every setting)."
    )


def settings_free_command(args: argparse.Namespace, console: Console) -> ExitStatus | None:
    """Commands that must work while the config is missing or broken; None for the others."""
    if args.command == "init":
        return _init(args, console)
    if args.command == "config" and args.config_action == "path":
        path = config_path(args)
        console.out([str(path)])
        if not path.exists():
            console.emit([f"({path} does not exist yet: malsync init writes it.)"])
        return ExitStatus.OK
    if args.command == "config" and args.config_action == "example":
        from malsync.config.template import example_config  # for `config example` only

        console.stdout.write(example_config())
        return ExitStatus.OK
    return None


def config_command(args: argparse.Namespace, root: Composition, console: Console) -> ExitStatus:
    return show_config(args, root.settings, console)  # `config path` and `example` need none


def show_config(args: argparse.Namespace, settings: Settings, console: Console) -> ExitStatus:
    from malsync.config.template import settings_lines  # for `config show` only

    path = config_path(args)
    source = (
        f"# {path}" if settings.config_path is not None else f"# {path} does not exist: defaults"
    )
    console.out([source, *settings_lines(settings)])
    return ExitStatus.OK


def _init(args: argparse.Namespace, console: Console) -> ExitStatus:
    # The example config, read from the package's files: for `init`, not for every command.
    from malsync.config.template import (
        check_writable,
        example_config,
        filled_example,
        write_new_config,
    )

    path = config_path(args)
    if not console.interactive():
        write_new_config(path, example_config(), force=args.force)
        log.info("Wrote the commented example config to %s (readable only by you).", path)
        log.info("Set [anisearch] contact in it before the first real sync.")
        log.info("%s", _next_step(""))
        return ExitStatus.OK
    check_writable(path, force=args.force)  # before asking anything
    console.emit([f"A new config file: {path}", _CONTACT_HELP])
    contact = _ask_valid(console, "Contact (e-mail address or https://… address): ", _contact)
    anisearch_id = _ask(
        console, "aniSearch OAuth client id (from api@anisearch.com; Enter to skip): "
    )
    mal_id = _ask(console, "MyAnimeList client id (to read your list live; Enter to skip): ")
    user = _ask_valid(
        console,
        "Your MyAnimeList user name, to read your list live (@me for a private list; Enter "
        "to skip): ",
        _mal_user,
    )
    user = MAL_ME if user.lower() == MAL_ME else user
    values = {
        ("anisearch", "contact"): contact,
        ("oauth", "client_id"): anisearch_id,
        ("myanimelist", "client_id"): mal_id,
        ("myanimelist", "user"): user,
    }
    write_new_config(path, filled_example(values), force=args.force)
    log.info("Wrote %s (readable only by you); every other setting is commented there.", path)
    if not contact:
        log.info("Set [anisearch] contact in it before the first real sync.")
    if user and not mal_id:
        log.info("Reading your list from MAL needs your MAL client id: [myanimelist] client_id.")
    if user == MAL_ME:
        log.info("Your private list is read signed in: run malsync login myanimelist once.")
    log.info("%s", _next_step(user))
    return ExitStatus.OK


def _next_step(user: str) -> str:
    """What to run after init: plan first, then sign in to aniSearch, then the real sync."""
    source = "" if user else " EXPORT_OR_FOLDER"
    whose = "your" if user == MAL_ME else f"{user}'s"
    plans = f"reads {whose} list from MAL, " if user else ""
    return (
        f"Next: malsync sync --dry-run{source} ({plans}plans only, sends nothing); then "
        f"malsync login signs you in to aniSearch, and malsync sync{source} sends your list."
    )


def _contact(text: str) -> str | None:
    if not text or CONTACT_PATTERN.fullmatch(text):
        return None
    return f"{text!r} is neither an e-mail address nor a web address."


def _mal_user(text: str) -> str | None:
    if not text or text.lower() == MAL_ME or MAL_USER_PATTERN.fullmatch(text):
        return None
    return f"{text!r} is not a MAL user name (letters, digits, - and _)."


def _ask(console: Console, prompt: str) -> str:
    return console.read_line(prompt).strip()


def _ask_valid(console: Console, prompt: str, problem: Callable[[str], str | None]) -> str:
    """An answer `problem` finds nothing wrong with, asked up to three times; else none."""
    for _ in range(3):
        answer = _ask(console, prompt)
        wrong = problem(answer)
        if wrong is None:
            return answer
        console.emit([wrong])
    return ""
