"""A mistyped command line answered with what was meant, not only `unrecognized arguments`.

`malsync sync --dryrun` asks whether `--dry-run` was meant; `malsync --dry-run sync` says the
option belongs after the command and shows the line that works; `malsync config` alone lists
its actions. The grammar is read from the parser itself, so a new option needs nothing here.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass

Options = dict[str, bool]  # option string -> whether it takes a value


def _options(parser: argparse.ArgumentParser) -> Options:
    return {
        option: action.nargs != 0 for action in parser._actions for option in action.option_strings
    }


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _command_options(parser: argparse.ArgumentParser) -> dict[str, Options]:
    """Each command's options, a command with actions (`config show`) by its full name."""
    found: dict[str, Options] = {}
    commands = _subcommands(parser)
    for name, command in (commands.choices if commands else {}).items():
        found[name] = _options(command)
        for action, options in _command_options(command).items():
            found[f"{name} {action}"] = options
    return found


def _meant(name: str, candidates: Sequence[str]) -> str | None:
    """The close match a person most likely meant, if there is one."""
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class _Misplaced:
    """An option given before the command that malsync itself does not take."""

    start: int
    end: int  # past its value, if it takes one
    name: str
    value: str | None  # from `--option=value`


def _before_command(
    argv: Sequence[str], top: Options, everywhere: Options
) -> tuple[int | None, list[_Misplaced]]:
    """Where the command is, and the options before it that belong to no part before it."""
    misplaced: list[_Misplaced] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            break
        if not token.startswith("-") or token == "-":
            return index, misplaced
        name, equals, value = token.partition("=")
        if name in top or (name[1:2] != "-" and all(f"-{c}" in top for c in name[1:])):
            index += 1 + (top.get(name, False) and not equals)
            continue
        meant = name if name in everywhere else _meant(name, list(everywhere))
        end = index + 1 + (meant is not None and everywhere[meant] and not equals)
        misplaced.append(_Misplaced(index, end, name, value if equals else None))
        index = end
    return None, misplaced


def _hint(name: str, own: Sequence[str], commands: dict[str, Options], command: str) -> str:
    """For an option `command` does not take: which command takes it, or the one meant."""
    takers = [other for other, options in commands.items() if name in options]
    if 0 < len(takers) <= 3:
        listed = " and ".join([", ".join(takers[:-1]), takers[-1]] if len(takers) > 1 else takers)
        return f"{name} is an option of {listed}, not of {command}"
    meant = _meant(name, own)
    return f"did you mean {meant}?" if meant is not None and not takers else ""


def _check_order(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """`malsync --dry-run sync`: say that the option goes after the command, and how."""
    top = _options(parser)
    commands = _command_options(parser)
    everywhere = {o: v for options in commands.values() for o, v in options.items()}
    at, misplaced = _before_command(argv, top, everywhere)
    command = argv[at] if at is not None else ""
    if command not in commands:
        _no_command(parser, command, misplaced, commands, everywhere)
    if not misplaced:
        return
    assert at is not None
    own = commands[command]
    hints, moved, names, fixed = [], [], [], dict(enumerate(argv))
    for each in misplaced:
        meant = each.name if each.name in own else _meant(each.name, list(own))
        if meant is None:
            hint = _hint(each.name, list(top), commands, command)
            parser.error("; ".join(filter(None, [f"unrecognized arguments: {each.name}", hint])))
        if meant != each.name:
            hints.append(f"{each.name}: did you mean {meant}?")
        given = [f"{meant}={each.value}"] if each.value is not None else [meant]
        if meant in top:  # mistyped, and right where it is
            fixed[each.start] = given[0]
            continue
        moved += [*given, *argv[each.start + 1 : each.end]]
        names.append(each.name)
        for index in range(each.start, each.end):
            del fixed[index]
    before = [fixed[index] for index in range(at) if index in fixed]
    line = shlex.join(["malsync", *before, command, *moved, *argv[at + 1 :]])
    if not moved:
        parser.error(" ".join([*hints, f"That is: {line}"]))
    verb = "belongs" if len(names) == 1 else "belong"
    parser.error(" ".join([*hints, f"{' and '.join(names)} {verb} after the command: {line}"]))


def _no_command(
    parser: argparse.ArgumentParser,
    command: str,
    misplaced: Sequence[_Misplaced],
    commands: dict[str, Options],
    everywhere: Options,
) -> None:
    """No command, or a mistyped one: the command meant, or the commands an option goes with."""
    top_level = [name for name in commands if " " not in name]
    meant = _meant(command, top_level) if command else None
    if meant is not None:
        parser.error(f"unknown command {command!r}; did you mean {meant}?")
    if not misplaced or command:
        return  # argparse names what is wrong
    first = misplaced[0].name
    option = first if first in everywhere else _meant(first, list(everywhere))
    takers = [name for name, options in commands.items() if option in options]
    if option is not None and takers:
        examples = " or ".join(f"malsync {name} {option}" for name in takers)
        parser.error(f"{first} goes after a command, e.g. {examples}")


def _chosen(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[argparse.ArgumentParser, str]:
    """The parser of the command (and action) given, and its name."""
    name = ""
    while (commands := _subcommands(parser)) is not None:
        chosen = getattr(args, commands.dest, None)
        if chosen is None:
            break
        parser, name = commands.choices[chosen], f"{name} {chosen}".strip()
    return parser, name


def _unknown(
    parser: argparse.ArgumentParser, command: str, top: argparse.ArgumentParser, extras: list[str]
) -> str:
    """argparse's own words, and for each mistyped option the one meant (or which command
    takes it, when it is another command's)."""
    own = list(_options(parser))
    commands = _command_options(top)
    options = [extra.partition("=")[0] for extra in extras if extra.startswith("-")]
    hints = [(name, _hint(name, own, commands, command)) for name in options if name != "-"]
    said = [hint if len(extras) == 1 else f"{name}: {hint}" for name, hint in hints if hint]
    return "; ".join([f"unrecognized arguments: {' '.join(extras)}", *said])


def _missing_choice(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A command (or `config`) given without what it needs next: list the choices."""
    commands = _subcommands(parser)
    if commands is None or getattr(args, commands.dest, None) is not None:
        return
    what = commands.metavar.lower() if isinstance(commands.metavar, str) else "choice"
    width = max(len(choice.dest) for choice in commands._choices_actions)
    listing = [f"  {c.dest:<{width}}  {c.help or ''}".rstrip() for c in commands._choices_actions]
    parser.error("\n".join([f"give one of these {what}s:", *listing]))


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse as argparse does, with a hint where it would only say what it did not take."""
    given = list(sys.argv[1:] if argv is None else argv)
    _check_order(parser, given)
    args, extras = parser.parse_known_args(given)
    chosen, name = _chosen(parser, args)
    if extras:
        chosen.error(_unknown(chosen, name, parser, extras))
    _missing_choice(chosen, args)
    return args
