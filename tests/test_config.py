from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from malsync.config import settings as config
from malsync.config.config_file import tomllib
from malsync.config.settings import Limits, MappingOptions, Settings, load_settings
from malsync.redaction import Secret
from tests.conftest import ROOT

EXAMPLE = ROOT / "malsync" / "config.example.toml"  # the packaged one; the root copy equals it


def test_example_config_documents_every_key_with_its_default() -> None:
    loaded = load_settings(EXAMPLE, {})
    assert dataclasses.replace(loaded, config_path=None) == Settings()
    data = tomllib.loads(EXAMPLE.read_text())
    defaults = Settings()
    # Each section's keys, as the settings group them: by service, each with its sign-in.
    sections = {
        "anisearch": [defaults.anisearch],
        "oauth": [defaults.anisearch.sign_in],
        "limits": [defaults.limits],
        "mapping": [defaults.mapping],
        "retry": [defaults.retry],
        "sync": [defaults.sync],
        "myanimelist": [defaults.myanimelist, defaults.myanimelist.sign_in],
    }
    for section, parts in sections.items():
        names = {field.name for part in parts for field in dataclasses.fields(part)}
        names -= {"token_origin", "sign_in"}  # derived, or in [oauth]
        names |= {"contact"} if section == "anisearch" else set()
        names -= {"revoke_url"} if section == "myanimelist" else set()  # MAL revokes nothing
        names = {"state" if name == "checkpoint_file" else name for name in names}  # [sync] state
        assert names <= set(data[section]), f"[{section}] misses {names - set(data[section])}"


def test_environment_token_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[anisearch]\ntoken = "from-file"\n')
    assert load_settings(config, {}).anisearch.token == Secret("from-file")
    from_env = load_settings(config, {"ANISEARCH_TOKEN": "from-env"}).anisearch.token
    assert from_env == Secret("from-env")


def test_secret_never_shows_itself() -> None:
    secret = Secret("abc123-very-secret")
    assert "abc123" not in repr(secret)
    assert "abc123" not in str(secret)
    assert "abc123" not in f"{secret} {[secret]} {secret!r}"
    assert "abc123" not in repr(load_settings(None, {"ANISEARCH_TOKEN": "abc123-x"}))


def test_relative_state_path_is_relative_to_the_config(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "c.toml"
    config.parent.mkdir()
    config.write_text('[sync]\nstate = "state/db.sqlite3"\n')
    assert (
        load_settings(config, {}).sync.checkpoint_file == tmp_path / "conf" / "state" / "db.sqlite3"
    )


def test_missing_default_config_is_fine() -> None:
    assert load_settings(None, {}).config_path is None


def test_every_default_is_the_dataclass_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Change a default in its dataclass and the loaded settings follow: it is written once."""

    @dataclasses.dataclass(frozen=True)
    class OtherLimits(Limits):
        upsert_requests: int = 7

    @dataclasses.dataclass(frozen=True)
    class OtherMapping(MappingOptions):
        is_visible: bool = False

    monkeypatch.setattr(config, "Limits", OtherLimits)
    monkeypatch.setattr(config, "MappingOptions", OtherMapping)
    settings = load_settings(None, {})
    assert settings.limits.upsert_requests == 7
    assert settings.mapping.is_visible is False


def test_command_line_values_override_the_file(tmp_path: Path) -> None:
    config_file = tmp_path / "c.toml"
    config_file.write_text('[sync]\non_conflict = "no-regress"\nstate = "s.db"\n')
    loaded = load_settings(config_file, {})
    assert loaded.sync.on_conflict is config.ConflictPolicy.NO_REGRESS
    assert loaded.override().sync == loaded.sync
    other = loaded.override(
        checkpoint_file=tmp_path / "x.db", on_conflict=config.ConflictPolicy.KEEP_ANISEARCH
    )
    assert (other.sync.checkpoint_file, other.sync.on_conflict) == (
        tmp_path / "x.db",
        config.ConflictPolicy.KEEP_ANISEARCH,
    )


def test_myanimelist_defaults_sit_beside_anisearch_without_sharing_port_or_file() -> None:
    settings = Settings()
    mal, anisearch = settings.myanimelist, settings.anisearch.sign_in
    assert mal.sign_in.token_file == anisearch.token_file.with_name("mal_token.json")
    assert mal.sign_in.redirect_uri.startswith("http://127.0.0.1:")
    assert mal.sign_in.redirect_uri.split(":")[2] != anisearch.redirect_uri.split(":")[2]
    assert (mal.sign_in.client_id, mal.pace_seconds, mal.api_url) == (
        None,
        1.0,
        "https://api.myanimelist.net/v2",
    )


def test_myanimelist_section_is_read_and_checked(tmp_path: Path) -> None:
    import pytest

    from malsync.errors import ConfigError

    config = tmp_path / "c.toml"
    config.write_text(
        '[myanimelist]\nclient_id = "file-client-id-42"\nuser = "alice"\n'
        'token_file = "t/mal.json"\npace_seconds = 2\n'
    )
    mal = load_settings(config, {}).myanimelist
    assert mal.sign_in.client_id == Secret("file-client-id-42")
    assert (mal.user, mal.sign_in.token_file, mal.pace_seconds) == (
        "alice",
        tmp_path / "t/mal.json",
        2.0,
    )
    assert "file-client-id-42" not in repr(mal)
    for bad, message in [
        ("pace_seconds = -1", "pace_seconds must be a number of seconds from 0 to 60"),
        ("pace_seconds = nan", "pace_seconds must be a number of seconds from 0 to 60"),
        ("clientid = 'x'", "[myanimelist] clientid is not a known setting"),
    ]:
        config.write_text(f"[myanimelist]\n{bad}\n")
        with pytest.raises(ConfigError) as caught:
            load_settings(config, {})
        assert message in str(caught.value)
