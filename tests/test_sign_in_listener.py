"""The listener that receives the browser after a sign-in, against other local processes: one
that connects and says nothing, one that forges the answer."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.fake_anisearch import FakeAniSearch
from tests.test_oauth import login_in_subprocess, oauth_config, token_file


def redirect_uri(address: str) -> str:
    return parse_qs(urlsplit(address).query)["redirect_uri"][0]


def silent_connection(uri: str) -> socket.socket:
    """What a browser's idle pre-connection (or any local process) can do: connect, say nothing."""
    parts = urlsplit(uri)
    return socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5)


def test_a_silent_connection_does_not_keep_the_sign_in_waiting_past_its_timeout(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    config = oauth_config(tmp_path, fake)
    process, address = login_in_subprocess(config, tmp_path, "--timeout", "2")
    started = time.monotonic()
    with silent_connection(redirect_uri(address)):
        try:
            _, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail("the sign-in waited as long as the silent connection stayed")
        took = time.monotonic() - started
    assert process.returncode == 2, err
    assert "no answer from the browser within 2 s; nothing was stored" in err
    assert took < 10
    assert not token_file(config).exists()


def test_a_forged_answer_is_refused_and_the_real_one_still_signs_in(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    """Another local process sends its own code first; a silent connection stays open."""
    config = oauth_config(tmp_path, fake)
    process, address = login_in_subprocess(config, tmp_path, "--timeout", "30")
    callback = redirect_uri(address)
    with silent_connection(callback):
        forged = requests.get(f"{callback}?code=x&state=forged", timeout=5)
        unsigned = requests.get(f"{callback}?code=x", timeout=5)
        assert process.poll() is None  # still waiting for the real answer
        page = requests.get(address, timeout=10)  # the fake redirects there, as a browser
        _, err = process.communicate(timeout=30)
    for refused in (forged, unsigned):
        assert refused.status_code == 400
        assert "does not belong to this sign-in" in refused.text
        assert "signed in." not in refused.text
    assert page.status_code == 200
    assert "malsync is signed in" in page.text
    assert process.returncode == 0, err
    assert "Signed in to aniSearch" in err
    stored = json.loads(token_file(config).read_text())
    assert stored["access_token"] == fake.issued_access_tokens[-1]
    assert len(fake.spent_codes) == 1  # only the real code was exchanged
