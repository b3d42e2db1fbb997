"""Tokens a header cannot carry, token files others can read, and config values that would crash
or hang a run: each stops with one line (exit 2) that never shows a token."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from malsync.auth.tokens import TokenSet
from malsync.cli.main import main
from malsync.config.settings import load_settings
from malsync.errors import ConfigError
from malsync.redaction import Secret, redact
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

HALF = "Zq8rT2vLm9"  # each half of a token long enough to be a credential on its own
BROKEN_TOKENS = [f"{HALF}\n{HALF[::-1]}", f"{HALF} {HALF[::-1]}", f"{HALF}\u00e9{HALF[::-1]}"]


def assert_token_not_shown(*texts: str) -> None:
    for text in texts:
        assert HALF not in text
        assert HALF[::-1] not in text


@pytest.mark.parametrize("token", BROKEN_TOKENS)
def test_a_broken_token_in_the_environment_stops_before_any_request(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str,
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", token)
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / "report.json"
    assert sync(config, write(tmp_path / "l.xml", many(2)), "--report", str(report)) == 2
    err = capsys.readouterr().err
    assert "ANISEARCH_TOKEN holds a line break, a space or a character outside ASCII" in err
    assert_token_not_shown(err)
    assert fake.received == []
    assert not report.exists()


def test_a_broken_token_in_the_config_file_names_the_key_not_the_value(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[anisearch]\ntoken = {json.dumps(BROKEN_TOKENS[0])}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, {})
    assert f"{config}: [anisearch] token holds a line break" in str(raised.value)
    assert_token_not_shown(str(raised.value))


def test_a_broken_mal_client_id_is_refused_unshown(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    with pytest.raises(ConfigError, match="MAL_CLIENT_ID holds a line break") as raised:
        load_settings(config, {"MAL_CLIENT_ID": BROKEN_TOKENS[0]})
    assert_token_not_shown(str(raised.value))


def stored_sign_in(folder: Path, access_token: str, mode: int = 0o600) -> Path:
    token_file = folder / "token.json"
    token_file.write_text(
        json.dumps(
            {"access_token": access_token, "refresh_token": None, "expires_at": 4e9, "scopes": None}
        )
    )
    token_file.chmod(mode)
    return token_file


def test_a_broken_token_in_the_token_file_is_refused_unshown(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = stored_sign_in(tmp_path, BROKEN_TOKENS[0])
    config = write_config(tmp_path, fake.base_url, extra=f'[oauth]\ntoken_file = "{token_file}"')
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 2
    err = capsys.readouterr().err
    assert f"{token_file}: the token file holds a token with characters no token has" in err
    assert_token_not_shown(err)
    assert fake.received == []


def test_a_token_answer_with_a_broken_token_is_not_taken() -> None:
    with pytest.raises(ValueError, match="no token has") as raised:
        TokenSet.from_response({"access_token": BROKEN_TOKENS[0], "expires_in": 3600})
    assert_token_not_shown(str(raised.value))


def test_redaction_catches_a_token_escaped_by_repr_json_or_split_in_lines() -> None:
    secret = Secret(BROKEN_TOKENS[0])
    shown = [
        repr(f"Bearer {secret.reveal()}"),  # as requests shows a header it refuses
        json.dumps({"error": secret.reveal()}),
        f"got {HALF} and then",
        f"line two was {HALF[::-1]}",
    ]
    for text in shown:
        assert_token_not_shown(redact(text))


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_token_file_others_can_read_is_made_private_with_a_warning(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = stored_sign_in(tmp_path, GOOD_TOKEN, mode=0o644)
    config = write_config(tmp_path, fake.base_url, extra=f'[oauth]\ntoken_file = "{token_file}"')
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 0
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert f"{token_file}: the token file could be read by others (mode 0644); it is 0600" in err
    assert len(fake.accepted_puts()) == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[anisearch]\ncontact = "t\u00e9ster@example.com"', "[anisearch] contact must be one"),
        ('[anisearch]\ncontact = "a\\u0007b@example.com"', "[anisearch] contact must be one"),
        ("[retry]\nread_timeout_seconds = inf", "[retry] read_timeout_seconds must be greater"),
        ("[retry]\nconnect_timeout_seconds = nan", "[retry] connect_timeout_seconds must be"),
        ("[retry]\ntotal_timeout_seconds = 3601", "at most 600"),
        ("[retry]\nattempts = 1000000", "[retry] attempts must be greater than 0 and at most 100"),
        ("[limits]\nupsert_window_seconds = 1e300", "at most 86400"),
        ("[limits]\nread_window_seconds = -inf", "[limits] read_window_seconds must be"),
        ('[anisearch]\nbase_url = "https://"', "[anisearch] base_url must be an http(s)://"),
        ('[anisearch]\nbase_url = "http://[::1/v1"', "[anisearch] base_url must be an http(s)"),
        ('[anisearch]\nbase_url = "https://a.example:99999/v1"', "[anisearch] base_url must be"),
        ('[anisearch]\nbase_url = "ftp://a.example/v1"', "[anisearch] base_url must be"),
        ('[anisearch]\nbase_url = "https://a.example/v 1"', "[anisearch] base_url must be"),
        ('[anisearch]\nbase_url = "https://u:pw@a.example/"', "must not hold a user name"),
        ('[oauth]\ntoken_url = "www.anisearch.com/oauth"', "[oauth] token_url must be an"),
        ('[oauth]\nauthorize_url = ""', "[oauth] authorize_url must be an http(s)"),
        ('[myanimelist]\napi_url = "https:///v2"', "[myanimelist] api_url must be an http(s)"),
        ('[myanimelist]\ntoken_url = "nonsense"', "[myanimelist] token_url must be an"),
        ('[mappings.anime]\n"\u00b2" = 5048', "[mappings.anime] \u00b2 must map"),
        ('[mappings.anime]\n"\u0661\u0662" = 5048', "must map a MAL id to an aniSearch id"),
        ('[mappings.manga]\n"99999999999999999999" = 5048', "must map a MAL id"),
        ('[mappings.manga]\n"+13" = 724', "must map a MAL id"),
        ('[mappings.manga]\n"13" = 99999999999999999999', "must map a MAL id"),
    ],
)
def test_config_values_that_would_crash_or_hang_are_one_line_errors(
    tmp_path: Path, text: str, problem: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, {})
    message = str(raised.value)
    assert message.startswith(f"{config}: ")
    assert problem in message
    assert "\n" not in message


def test_a_config_file_not_in_utf8_is_named_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes('[anisearch]\ncontact = "caf\u00e9@example.com"\n'.encode("latin-1"))
    assert (
        main(
            ["sync", "--dry-run", "--config", str(config), str(write(tmp_path / "l.xml", many(1)))]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"{config}: not UTF-8 text (at byte offset 26); save it as UTF-8" in err
    assert "Traceback" not in err


def test_values_at_the_maximum_are_taken(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        "[retry]\nattempts = 100\nread_timeout_seconds = 600\ntotal_timeout_seconds = 600\n"
        "[limits]\nupsert_window_seconds = 86400\n"
        '[anisearch]\nbase_url = "http://[::1]:8080/v1"\n'
        'contact = "t@example.com"\n'
        '[mappings.anime]\n"9223372036854775807" = 1\n'
    )
    settings = load_settings(config, {})
    assert settings.retry.attempts == 100
    assert settings.retry.total_timeout_seconds == 600
    assert settings.anisearch.base_url == "http://[::1]:8080/v1"
