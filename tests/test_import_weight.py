"""Pure modules stay pure: what importing them, or running the light commands, loads.

Each check runs in a fresh interpreter, so that nothing another test imported hides a load.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HTTP_LIBRARIES = ("requests", "urllib3", "http.client")
SIGN_IN_ONLY = ("webbrowser", "http.server")

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


@pytest.mark.parametrize("module", ["malsync.pipeline.planner", "malsync.pipeline.remote_ratings"])
def test_the_pure_pipeline_loads_no_http_library(module: str) -> None:
    assert _loaded_by_import(module, HTTP_LIBRARIES) == []


def test_the_check_sees_an_http_library_where_one_is_loaded() -> None:
    # The same check on the module that does talk to aniSearch, so that it can fail.
    assert _loaded_by_import("malsync.anisearch.remote", HTTP_LIBRARIES) == sorted(HTTP_LIBRARIES)
