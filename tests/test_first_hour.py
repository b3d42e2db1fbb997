"""The first hour: `malsync init`, `malsync config ...`, and config messages that say where."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from malsync.cli.console import Console
from malsync.cli.main import main, raw_main
from malsync.config.settings import default_config_path, load_settings
from malsync.config.template import example_config
from malsync.redaction import Secret
from tests.conftest import ROOT, SAMPLES


class Terminal(io.StringIO):
    """Standard input as a person at a keyboard: a terminal, with answers typed in advance."""

    def isatty(self) -> bool:
        return True


def run(argv: list[str], typed: str | None = None) -> tuple[int, str, str]:
    """Run malsync with `typed` at a terminal (None: no terminal); returns status, out, err."""
    stdin = Terminal(typed) if typed is not None else io.StringIO()
    out, err = io.StringIO(), io.StringIO()
    status = raw_main(argv, Console(stdin=stdin, stdout=out, stderr=err), env={})
    return int(status), out.getvalue(), err.getvalue()


def test_the_packaged_example_is_the_repository_copy_and_what_config_example_prints() -> None:
    assert example_config() == (ROOT / "config.example.toml").read_text(encoding="utf-8")
    assert run(["config", "example"])[1] == example_config()


def test_init_without_a_terminal_writes_the_commented_example_0600() -> None:
    status, _, err = run(["init"])
    path = default_config_path()
    assert status == 0
    assert path.read_text(encoding="utf-8") == example_config()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"Wrote the commented example config to {path}" in err
    assert "Set [anisearch] contact in it" in err


def test_init_never_replaces_a_config_without_force(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[anisearch]\ncontact = "me@example.com"\n')
    status, _, err = run(["init", "--config", str(path)], typed="other@example.com\n\n\n")
    assert status == 2
    assert f"{path} exists already; nothing was written" in err
    assert "Contact" not in err  # refused before asking anything
    assert path.read_text() == '[anisearch]\ncontact = "me@example.com"\n'
    assert run(["init", "--config", str(path), "--force"])[0] == 0
    assert path.read_text() == example_config()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_init_at_a_terminal_asks_for_the_contact_and_the_client_ids(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    typed = "not a contact\nme@example.com\nanisearch-client-1\n\n"
    status, out, err = run(["init", "--config", str(path)], typed=typed)
    assert status == 0, err
    assert "'not a contact' is neither an e-mail address nor a web address." in err
    settings = load_settings(path, {})
    assert settings.contact == "me@example.com"
    assert settings.anisearch.sign_in.client_id == Secret("anisearch-client-1")
    assert settings.myanimelist.sign_in.client_id is None
    text = path.read_text()
    assert "# Goes into the User-Agent" in text  # the comments stay
    assert text.count("\n") == example_config().count("\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert out == ""


def test_config_path_prints_the_file_and_says_when_it_does_not_exist(tmp_path: Path) -> None:
    status, out, err = run(["config", "path"])
    assert (status, out) == (0, f"{default_config_path()}\n")
    assert "does not exist yet: malsync init writes it" in err
    mine = tmp_path / "c.toml"
    mine.write_text("")
    assert run(["--config", str(mine), "config", "path"])[1:] == (f"{mine}\n", "")


def test_config_show_masks_every_secret(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[anisearch]\ncontact = "https://www.anisearch.com/member/42"\ntoken = "tok-very-secret"\n'
        '[oauth]\nclient_id = "anisearch-client-id"\nclient_secret = "oauth-very-secret"\n'
        '[myanimelist]\nclient_id = "mal-client-secret-id"\n'
        '[mappings.anime]\n"5114" = 5048\n'
    )
    status, out, _ = run(["config", "show", "--config", str(path)])
    assert status == 0
    assert out.startswith(f"# {path}\n[anisearch]\n")
    assert 'contact = "https://www.anisearch.com/member/42"' in out
    assert 'token = "(set, not shown)"' in out
    assert 'plan_to_watch = "bookmark"' in out
    assert '"5114" = 5048' in out
    secrets = ("tok-very-secret", "oauth-very-secret", "mal-client-secret-id")
    # Both services' client ids are one kind of setting, masked alike.
    for secret in (*secrets, "anisearch-client-id"):
        assert secret not in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[anisearch]\ncontct = "a@b.org"\n',
            "[anisearch] contct is not a known setting; did you mean `contact`?",
        ),
        ("[anisaerch]\n", "[anisaerch] is not a known section; did you mean `anisearch`?"),
        (
            '[anisearch]\ncontact = "Jane"\n',
            "[anisearch] contact must be an e-mail address or "
            "a web address (https://…), not 'Jane'",
        ),
    ],
)
def test_config_mistakes_are_named_with_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["sync", "--dry-run", "--config", str(path), str(SAMPLES)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err
    assert "Traceback" not in err


def test_a_missing_setting_names_the_config_file_and_malsync_init(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sync", "--mal-user", "@me"]) == 2  # no [myanimelist] client id, no sign-in
    err = capsys.readouterr().err
    assert "[myanimelist] client_id is not set" in err
    assert (
        f"The config file is {default_config_path()}; it does not exist yet: malsync init "
        "writes it" in err
    )


def test_init_asks_for_the_mal_user_and_says_to_sign_in_next(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    typed = "me@example.com\n\nmal-client-1\nnot a name!\nalice_92\n"
    status, out, err = run(["init", "--config", str(path)], typed=typed)
    assert status == 0, err
    assert "'not a name!' is not a MAL user name" in err
    settings = load_settings(path, {})
    assert settings.myanimelist.user == "alice_92"
    assert settings.myanimelist.sign_in.client_id == Secret("mal-client-1")
    next_line = next(line for line in err.splitlines() if line.startswith("Next:"))
    assert "malsync sync --dry-run (reads alice_92's list from MAL" in next_line
    assert "malsync login" in next_line
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert out == ""


def test_init_for_a_private_list_says_to_sign_in_to_mal_and_without_a_user_names_exports(
    tmp_path: Path,
) -> None:
    status, _, err = run(["init", "--config", str(tmp_path / "a.toml")], typed="\n\nid\n@ME\n")
    assert status == 0
    assert load_settings(tmp_path / "a.toml", {}).myanimelist.user == "@me"
    assert "run malsync login myanimelist once" in err
    status, _, err = run(["init", "--config", str(tmp_path / "b.toml")], typed="\n\n\n\n")
    assert status == 0
    assert load_settings(tmp_path / "b.toml", {}).myanimelist.user == ""
    assert "Next: malsync sync --dry-run EXPORT_OR_FOLDER" in err and "malsync login" in err
    assert run(["init", "--config", str(tmp_path / "c.toml")])[2].count("malsync login") == 1
