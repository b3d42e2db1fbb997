from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from malsync import config
from malsync.config import Limits, MappingOptions, Settings, load_settings, tomllib
from malsync.redaction import Secret
from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def test_example_config_documents_every_key_with_its_default() -> None:
    loaded = load_settings(EXAMPLE, {})
    assert dataclasses.replace(loaded, source=None) == Settings()
    data = tomllib.loads(EXAMPLE.read_text())
    for section in ("anisearch", "oauth", "limits", "mapping", "retry", "sync"):
        names = {field.name for field in dataclasses.fields(getattr(Settings(), section))}
        names -= {"token_origin", "anisearch_ids"}  # derived, or in [mappings.*]
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
    assert load_settings(config, {}).sync.state == tmp_path / "conf" / "state" / "db.sqlite3"


def test_missing_default_config_is_fine() -> None:
    assert load_settings(None, {}).source is None


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
        state=tmp_path / "x.db", on_conflict=config.ConflictPolicy.KEEP_ANISEARCH
    )
    assert (other.sync.state, other.sync.on_conflict) == (
        tmp_path / "x.db",
        config.ConflictPolicy.KEEP_ANISEARCH,
    )
