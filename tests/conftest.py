from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from malsync.pipeline.planner import Decision
from malsync.pipeline.records import Outcome, Settlement
from tests.fake_anisearch import FakeAniSearch

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_exports"
REAL_EXPORTS = ROOT.parent / "shared" / "real_exports"


@pytest.fixture
def real_exports() -> Path:
    if not REAL_EXPORTS.is_dir():
        pytest.skip(f"real exports not available: {REAL_EXPORTS} is absent (../shared not laid)")
    return REAL_EXPORTS


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the developer's own config, checkpoint, token and cached links."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ANISEARCH_TOKEN", raising=False)
    monkeypatch.delenv("ANISEARCH_DATABASE_TOKEN", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeAniSearch]:
    with FakeAniSearch() as server:
        yield server


def write_config(
    folder: Path,
    base_url: str,
    *,
    contact: str = "tester@example.com",
    upsert: tuple[int, float] = (100, 2.0),
    attempts: int = 4,
    extra: str = "",
) -> Path:
    """A config pointing at the fake server, with scaled-down limits and fast retries."""
    config = folder / "config.toml"
    config.write_text(
        f"""
[anisearch]
base_url = "{base_url}"
contact = "{contact}"

[limits]
upsert_requests = {upsert[0]}
upsert_window_seconds = {upsert[1]}
read_requests = 10
read_window_seconds = 2

[retry]
attempts = {attempts}
initial_wait_seconds = 0.01
max_wait_seconds = 0.05
connect_timeout_seconds = 2
read_timeout_seconds = 2

[sync]
state = "state.sqlite3"
{extra}
"""
    )
    return config


def settled(decision: Decision, outcome: Outcome, error: str | None = None) -> Settlement:
    """What a request made of `decision`'s entry, as `execute` gives it to the report."""
    assert decision.key is not None
    return Settlement(decision.key, decision.title, outcome, 1, error=error)
