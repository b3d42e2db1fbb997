"""Options as people type them: shared options on either side of the command, no abbreviations."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.conftest import SAMPLES

SAMPLE = str(SAMPLES / "animelist_sample.xml")
# Each command with what it needs to get as far as reading its config.
COMMANDS = {
    "sync": ["--dry-run", SAMPLE],
    "status": [],
    "login": ["--no-browser"],
    "logout": [],
    "restore": ["--dry-run"],
    "config show": [],
}
# Commands that work without a config (they write or locate it): help only.
SETTINGS_FREE = ["init", "config path", "config example"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_config_is_read_on_either_side_of_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, before: bool
) -> None:
    missing = str(tmp_path / "does" / "not" / "exist.toml")
    options = ["--config", missing]
    argv = (
        [*options, *command.split(), *COMMANDS[command]]
        if before
        else [*command.split(), *COMMANDS[command], *options]
    )
    assert main(argv) == 2
    assert f"{missing}: config file not found" in capsys.readouterr().err


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_quiet_works_on_either_side(capsys: pytest.CaptureFixture[str], before: bool) -> None:
    argv = ["-q", "sync", "--dry-run", SAMPLE] if before else ["sync", "--dry-run", SAMPLE, "-q"]
    assert main(argv) == 0
    # A run that went well says nothing: no summary, no file lines, no warnings.
    assert capsys.readouterr().err == ""
    assert main(["sync", "--dry-run", SAMPLE]) == 0
    assert "Outcome: planned 6" in capsys.readouterr().err  # the summary stays without -q


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_verbose_works_on_either_side(capsys: pytest.CaptureFixture[str], before: bool) -> None:
    argv = ["-v", "sync", "--dry-run", SAMPLE] if before else ["sync", "--dry-run", SAMPLE, "-v"]
    assert main(argv) == 0
    assert '"use_myanimelist_id": true' in capsys.readouterr().err  # request bodies, as JSON


def test_quiet_and_verbose_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "sync", "--dry-run", SAMPLE, "-v"]) == 2
    assert "-q and -v" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["sync", "--delete", SAMPLE],
        ["sync", "--dry", SAMPLE],
        ["status", "--conf", "x.toml"],
        ["restore", "--dry"],
    ],
)
def test_abbreviated_options_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    from malsync import __version__

    assert main([flag]) == 0
    assert capsys.readouterr().out.strip() == f"malsync {__version__}"


@pytest.mark.parametrize("command", sorted([*COMMANDS, *SETTINGS_FREE, "config"]))
def test_every_command_help_has_a_description_an_example_and_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command.split(), "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example:" in text
    assert "Exit codes:" in text
    description = text.split("\n\n")[1].strip()
    assert description and not description.startswith(("positional", "options"))


def test_config_commands_print_data_and_take_no_quiet_or_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "path", "-q"]) == 2
    assert "unrecognized arguments: -q" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["sync", "--dryrun", SAMPLE], "--dry-run"),
        (["sync", SAMPLE, "--dry-run", "--reprot", "plan.json"], "--report"),
        (["sync", "--dry", SAMPLE], "--dry-run"),
        (["status", "--jsno"], "--json"),
        (["restore", "--sinse", "1"], "--since"),
        (["login", "--no-browsr"], "--no-browser"),
    ],
)
def test_a_mistyped_option_is_answered_with_the_one_meant(
    argv: list[str], meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"did you mean {meant}?" in err
    assert "Traceback" not in err


def test_an_option_of_another_command_names_the_commands_that_take_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--dry-run is an option of sync, restore and schedule, not of status" in err
    assert main(["status", "--mal-user", "x"]) == 2
    assert "--mal-user is an option of sync and schedule, not of status" in capsys.readouterr().err
    assert main(["snyc", SAMPLE]) == 2
    assert "unknown command 'snyc'; did you mean sync?" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--dry-run", "sync", SAMPLE], "--dry-run belongs"),
        (["--dryrun", "sync", SAMPLE], "--dryrun: did you mean --dry-run? --dryrun belongs"),
        (["-q", "--dry-run", "--report", "my plan.json", "sync", SAMPLE], "--dry-run and --report"),
    ],
)
def test_an_option_before_the_command_is_said_to_belong_after_it_with_the_line_that_works(
    argv: list[str],
    said: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"malsync: error: {said}" in err
    line = err.split(" after the command: ")[1].strip()
    assert line.startswith("malsync ") and " sync --dry-run " in line
    assert main(shlex.split(line)[1:]) == 0  # the line it shows does what was meant
    if "-q" in shlex.split(line):  # quiet: a run that went well says nothing
        assert capsys.readouterr().err == ""
        assert (tmp_path / "my plan.json").exists()
    else:
        assert "Dry run: nothing was sent" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "choices"),
    [
        (["config"], ["path", "show", "example"]),
        (
            [],
            [
                "sync",
                "status",
                "login",
                "logout",
                "restore",
                "init",
                "config",
                "schedule",
                "notify",
            ],
        ),
    ],
)
def test_a_command_without_its_action_lists_the_actions(
    argv: list[str], choices: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    what = "actions" if argv else "commands"
    listing = err.split(f"give one of these {what}:\n")[1].splitlines()
    assert [line.split()[0] for line in listing] == choices
    assert all(len(line.split()) > 1 for line in listing)  # each with what it does
