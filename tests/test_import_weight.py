"""Pure modules stay pure: what importing them, or running the light commands, loads.

Each check runs in a fresh interpreter, so that nothing another test imported hides a load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.exports import many, write

HTTP_LIBRARIES = ("requests", "urllib3", "http.client")
SIGN_IN_ONLY = ("webbrowser", "http.server")
TALKING_ONLY = ("tenacity", "dateutil.parser")  # retries, and Retry-After's dates

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
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN.format(names=SIGN_IN_ONLY + HTTP_LIBRARIES + TALKING_ONLY),
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == [0, []], result.stderr


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
