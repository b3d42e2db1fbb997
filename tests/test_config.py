from __future__ import annotations

import dataclasses
from pathlib import Path

from malsync.config import Secret, Settings, load_settings, tomllib
from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def test_example_config_documents_every_key_with_its_default() -> None:
    loaded = load_settings(EXAMPLE, {})
    assert dataclasses.replace(loaded, source=None) == Settings()
    data = tomllib.loads(EXAMPLE.read_text())
    for section in ("anisearch", "oauth", "limits", "mapping", "retry", "sync", "myanimelist"):
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
