"""Pure modules stay pure: what importing them, or running the light commands, loads.

Each check runs in a fresh interpreter, so that nothing another test imported hides a load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_webhook import WebhookReceiver

HTTP_LIBRARIES = ("requests", "urllib3", "http.client")
SIGN_IN_ONLY = ("webbrowser", "http.server")
TALKING_ONLY = ("tenacity", "dateutil.parser")  # retries, and Retry-After's dates
# What a dry run without sign-in and without a checkpoint never uses: the checkpoint's SQLite,
# the read of aniSearch's ratings, the timer's state (`status`), the sender of messages, and
# the example config (`init`, `config`). Each is imported where it is used.
DEFERRED = (
    "sqlite3",
    "malsync.store.checkpoint",
    "malsync.anisearch.ratings",
    "malsync.commands.schedule",
    "malsync.notify.sender",
    "malsync.config.template",
)

_LOADED = """
import json, sys
import {module}
print(json.dumps(sorted(name for name in {names!r} if name in sys.modules)))
"""


def _loaded_by_import(module: str, names: tuple[str, ...]) -> list[str]:
    script = _LOADED.format(module=module, names=names)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "module", ["malsync.pipeline.planner", "malsync.pipeline.anisearch_ratings"]
)
def test_the_pure_pipeline_loads_no_http_library(module: str) -> None:
    assert _loaded_by_import(module, HTTP_LIBRARIES) == []


def test_the_check_sees_an_http_library_where_one_is_loaded() -> None:
    # The same check on aniSearch's HTTP client, so that it can fail.
    assert _loaded_by_import("malsync.anisearch.client", HTTP_LIBRARIES) == sorted(HTTP_LIBRARIES)


_RUN = """
import json, sys
from malsync.cli.main import raw_main
status = raw_main(sys.argv[1:])
print(json.dumps([int(status), sorted(name for name in {names!r} if name in sys.modules)]))
"""


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["sync", "--help"], ["sync", "--dry-run", "-q", "{export}"]],
    ids=["version", "help", "sync-help", "dry-run"],
)
def test_the_light_commands_load_no_browser_listener_http_or_retry_library(
    tmp_path: Path, argv: list[str]
) -> None:
    """A dry run without sign-in, --version and --help load no browser and no HTTP server, and
    no HTTP library or retry machinery either: they open no connection, so they pay for none."""
    export = write(tmp_path / "animelist.xml", many(3))
    config = tmp_path / "c.toml"
    config.write_text("")
    args = [arg.format(export=export) for arg in argv]
    if args[0] == "sync":
        args[1:1] = ["--config", str(config), "--state", str(tmp_path / "s.db")]
    names = SIGN_IN_ONLY + HTTP_LIBRARIES + TALKING_ONLY
    assert _loaded_by_run(tmp_path, args, names) == [0, []]


def _loaded_by_run(
    tmp_path: Path, args: list[str], names: tuple[str, ...], env: dict[str, str] | None = None
) -> list[Any]:
    """`malsync ARGS` in a fresh interpreter: its exit status, and which of `names` it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _RUN.format(names=names), *args],
        cwd=ROOT,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_dry_run_without_sign_in_or_checkpoint_loads_none_of_the_deferred(tmp_path: Path) -> None:
    """No checkpoint yet and no sign-in: nothing is read from aniSearch or written, and the
    run ends without a message, so none of DEFERRED is loaded."""
    export = write(tmp_path / "animelist.xml", many(3))
    config = tmp_path / "c.toml"
    config.write_text('[notify]\nurls = ["json://127.0.0.1:9/hook"]\n')
    state = tmp_path / "s.db"
    args = ["sync", "--config", str(config), "--state", str(state), "--dry-run", "-q", str(export)]
    assert _loaded_by_run(tmp_path, args, DEFERRED) == [0, []]
    assert not state.exists()


@pytest.mark.parametrize(
    ("command", "loads"),
    [
        ("sync {export}", ("sqlite3", "malsync.store.checkpoint", "malsync.anisearch.ratings")),
        ("status", ("malsync.commands.schedule",)),
        ("config show", ("malsync.config.template",)),
        ("notify --test", ("malsync.notify.sender",)),
    ],
    ids=["real-sync", "status", "config-show", "notify-test"],
)
def test_the_deferred_check_sees_the_modules_where_a_command_uses_them(
    tmp_path: Path, fake: FakeAniSearch, command: str, loads: tuple[str, ...]
) -> None:
    # The same check on the commands that use them, so that it can fail: a signed-in sync
    # opens the checkpoint and reads the ratings, `notify --test` sends (or finds no Apprise).
    export = write(tmp_path / "animelist.xml", many(3))
    with WebhookReceiver() as hook:
        urls = f"[notify]\nurls = [{json.dumps(hook.url())}]"
        config = write_config(tmp_path, fake.base_url, extra=urls)
        args = [*command.format(export=export).split(), "--config", str(config)]
        _, loaded = _loaded_by_run(tmp_path, args, DEFERRED, {"ANISEARCH_TOKEN": GOOD_TOKEN})
    assert loaded == sorted(loads)
    if command.startswith("sync"):
        assert len(fake.puts()) == 3


def test_the_sign_in_check_sees_the_browser_where_login_loads_it() -> None:
    # The same check on the module `malsync login` imports, so that it can fail.
    assert _loaded_by_import("malsync.auth.browser", SIGN_IN_ONLY) == sorted(SIGN_IN_ONLY)


_RETRIES = """
import json, sys, time
from malsync.anisearch.ratelimit import parse_retry_after
from malsync.config.settings import RetryOptions
from malsync.net.backoff import retrying
retrying(RetryOptions(), "a request", OSError, time.sleep)
parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)
print(json.dumps(sorted(name for name in {names!r} if name in sys.modules)))
"""


def test_the_retry_check_sees_the_libraries_where_a_talking_run_loads_them() -> None:
    # A run that talks builds a retry policy and may read a Retry-After date: so that it can fail.
    script = _RETRIES.format(names=TALKING_ONLY)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == sorted(TALKING_ONLY)
