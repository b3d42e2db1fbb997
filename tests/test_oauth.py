"""Sign-in with PKCE against the fake authorization server, the token store, renewal in a run."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from malsync.auth import browser, oauth
from malsync.cli.main import main
from tests.conftest import ROOT, write_config
from tests.exports import many, write
from tests.fake_anisearch import CLIENT_ID, CLIENT_SECRET, FakeAniSearch


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def oauth_config(folder: Path, fake: FakeAniSearch, upsert: tuple[int, float] = (100, 2.0)) -> Path:
    root = fake.base_url.removesuffix("/v1")
    return write_config(
        folder,
        fake.base_url,
        upsert=upsert,
        extra=f"""
[oauth]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
authorize_url = "{root}/oauth/authorize"
token_url = "{root}/oauth/token"
revoke_url = "{root}/oauth/revoke"
redirect_uri = "http://127.0.0.1:{free_port()}/callback"
token_file = "tokens/token.json"
""",
    )


def token_file(config: Path) -> Path:
    return config.parent / "tokens" / "token.json"


def every_secret(fake: FakeAniSearch) -> set[str]:
    secrets = set(fake.issued_access_tokens) | set(fake.refresh_tokens) | set(fake.revoked)
    secrets |= set(fake.spent_codes) | set(fake.codes) | {CLIENT_SECRET}
    return {secret for secret in secrets if secret}


def login_in_subprocess(
    config: Path, tmp_path: Path, *extra: str
) -> tuple[subprocess.Popen[str], str]:
    """Start `malsync login --no-browser EXTRA...` and return it, once it listens, with the
    address it printed."""
    command = ["login", "--no-browser", *extra, "--config", str(config)]
    process = subprocess.Popen(
        [sys.executable, "-m", "malsync", *command],
        cwd=ROOT,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for _ in range(10):
        line = process.stderr.readline()
        if line.startswith("http"):
            return process, line.strip()
    process.kill()
    raise AssertionError("malsync login printed no address")


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, rest = process.communicate(timeout=30)
    return process.returncode, rest


def test_login_follows_the_browser_round_trip_and_stores_0600_tokens(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    config = oauth_config(tmp_path, fake)
    process, url = login_in_subprocess(config, tmp_path)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["scope"] == "ratings.anime ratings.manga user.profile"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 20

    page = requests.get(url, timeout=10)  # the fake redirects to malsync's listener, as a browser
    assert page.status_code == 200
    assert "You can close this tab" in page.text
    status, err = finish(process)
    assert status == 0, err
    assert "Signed in to aniSearch (scopes: ratings.anime ratings.manga user.profile)." in err

    stored = token_file(config)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    data = json.loads(stored.read_text())
    assert data["access_token"] == fake.issued_access_tokens[-1]
    assert data["refresh_token"] in fake.refresh_tokens
    assert data["scopes"] == ["ratings.anime", "ratings.manga", "user.profile"]
    for secret in every_secret(fake):
        assert secret not in err


def login_by_paste(config: Path, monkeypatch: pytest.MonkeyPatch, tamper: str = "") -> int:
    """Run `malsync login --paste` in-process, pasting where the authorize step redirected."""
    captured: dict[str, str] = {}

    def show_and_capture(url: str) -> None:
        captured["url"] = url

    original_login = browser.login

    def login_capturing(*args, **kwargs):  # type: ignore[no-untyped-def]
        def read_pasted() -> str:
            answer = requests.get(captured["url"], allow_redirects=False, timeout=10)
            return answer.headers["Location"] + tamper

        kwargs["show"] = show_and_capture
        kwargs["read_pasted"] = read_pasted
        return original_login(*args, **kwargs)

    monkeypatch.setattr("malsync.auth.browser.login", login_capturing)
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    return main(["login", "--paste", "--config", str(config)])


def test_login_by_pasting_the_redirect_address(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = oauth_config(tmp_path, fake)
    assert login_by_paste(config, monkeypatch) == 0
    assert json.loads(token_file(config).read_text())["access_token"] in fake.tokens


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("deny", "aniSearch did not sign you in (access_denied)"),
        ("wrong_state", "the answer does not belong to this sign-in"),
    ],
)
def test_refused_or_forged_redirect_stores_nothing(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    message: str,
) -> None:
    fake.authorize_mode = mode
    config = oauth_config(tmp_path, fake)
    assert login_by_paste(config, monkeypatch) == 2
    assert message in capsys.readouterr().err
    assert not token_file(config).exists()
    assert fake.issued_access_tokens == []


def test_wrong_verifier_is_refused_and_nothing_is_stored(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = browser.new_pkce()
    monkeypatch.setattr(browser, "new_pkce", lambda: browser.Pkce("x" * 64, real.challenge))
    config = oauth_config(tmp_path, fake)
    assert login_by_paste(config, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "the token exchange failed (HTTP 400: invalid_grant PKCE failed)" in err
    assert not token_file(config).exists()


def test_a_spent_code_cannot_be_used_again(fake: FakeAniSearch, tmp_path: Path) -> None:
    from malsync.config.settings import load_settings

    settings = load_settings(oauth_config(tmp_path, fake), {})
    pkce = browser.new_pkce()
    url = browser.authorization_url(settings.anisearch.sign_in, "s" * 24, pkce.challenge)
    location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    code = browser.parse_redirect(location, "s" * 24)
    client = oauth.OAuthClient(settings.anisearch.sign_in, settings.contact)
    client.exchange(code, pkce.verifier)
    with pytest.raises(oauth.LoginError, match="code not valid"):
        client.exchange(code, pkce.verifier)


def test_login_times_out_without_an_answer(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = oauth_config(tmp_path, fake)
    assert main(["login", "--no-browser", "--timeout", "0.5", "--config", str(config)]) == 2
    assert "no answer from the browser within 0.5 s" in capsys.readouterr().err
    assert not token_file(config).exists()


def test_login_needs_a_client_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "https://api.anisearch.com/v1")
    assert main(["login", "--no-browser", "--config", str(config)]) == 2
    assert "[oauth] client_id is not set: ask aniSearch" in capsys.readouterr().err


def signed_in(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch, **config: object
) -> Path:
    path = oauth_config(tmp_path, fake, **config)  # type: ignore[arg-type]
    assert login_by_paste(path, monkeypatch) == 0
    monkeypatch.undo()  # back to the real login and stdin; the environment has no token
    monkeypatch.delenv("ANISEARCH_TOKEN", raising=False)
    return path


def test_a_sync_outlives_several_access_tokens(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fake.access_lifetime = 0.25  # four windows of 50 requests: it expires between each two
    fake.upsert_limit = (50, 1.0)
    config = signed_in(tmp_path, fake, monkeypatch, upsert=(50, 1.0))
    report = tmp_path / "report.json"
    export_path = write(tmp_path / "l.xml", many(200))
    assert (
        main(["sync", "-v", "--config", str(config), str(export_path), "--report", str(report)])
        == 0
    )
    assert json.loads(report.read_text())["summary"]["outcomes"] == {"uploaded": 200}
    assert len(fake.issued_access_tokens) >= 4
    assert stat.S_IMODE(token_file(config).stat().st_mode) == 0o600
    stored = json.loads(token_file(config).read_text())
    assert stored["access_token"] == fake.issued_access_tokens[-1]
    out, err = capfd.readouterr()
    for secret in every_secret(fake):
        assert secret not in out + err + report.read_text()


def test_a_401_renews_the_token_once_and_repeats_the_request(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = signed_in(tmp_path, fake, monkeypatch)
    export_path = write(tmp_path / "l.xml", many(6))
    original_answer = fake._answer
    calls = {"n": 0}

    def revoke_access_on_third(handler, method, body, now):  # type: ignore[no-untyped-def]
        calls["n"] += method == "PUT"
        if method == "PUT" and calls["n"] == 3:
            for token in fake.issued_access_tokens:
                fake.tokens.pop(token, None)  # the server forgets the token, as on a revocation
        return original_answer(handler, method, body, now)

    monkeypatch.setattr(fake, "_answer", revoke_access_on_third)
    assert main(["sync", "--config", str(config), str(export_path)]) == 0
    statuses = [r.status for r in fake.puts()]
    assert statuses == [200, 200, 401, 200, 200, 200, 200]
    assert [r.path for r in fake.puts()][2:4] == ["/v1/my/anime/3/ratings"] * 2


def test_an_expired_refresh_token_stops_with_exit_3_and_login_again(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fake.access_lifetime = 0.2
    fake.refresh_lifetime = 0.2
    config = signed_in(tmp_path, fake, monkeypatch)
    time.sleep(0.3)
    assert main(["sync", "--config", str(config), str(write(tmp_path / "l.xml", many(3)))]) == 3
    out, err = capfd.readouterr()
    assert "could not renew the access token (HTTP 400: invalid_grant refresh token)" in err
    assert "run malsync login again" in err
    assert fake.accepted_puts() == []
    for secret in every_secret(fake):
        assert secret not in out + err


def test_missing_scope_is_said_up_front(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.granted_scopes = frozenset({"ratings.anime"})
    config = signed_in(tmp_path, fake, monkeypatch)
    capsys.readouterr()
    manga = write(tmp_path / "m.xml", many(2, media="manga"))
    assert main(["sync", "--config", str(config), str(manga)]) == 2
    assert "lacks the scope ratings.manga" in capsys.readouterr().err
    assert fake.puts() == []


def test_status_and_logout(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    config = signed_in(tmp_path, fake, monkeypatch)
    refresh_token = json.loads(token_file(config).read_text())["refresh_token"]
    capfd.readouterr()
    assert main(["status", "--config", str(config)]) == 0
    assert "Signed in: access token valid until" in capfd.readouterr().out
    assert main(["logout", "--config", str(config)]) == 0
    assert fake.revoked == [refresh_token]
    assert not token_file(config).exists()
    assert main(["status", "--config", str(config)]) == 0
    out, err = capfd.readouterr()
    assert "Not signed in" in out
    for secret in every_secret(fake):
        assert secret not in out + err


def test_token_store_is_0600_even_over_a_wider_file_and_a_lax_umask(tmp_path: Path) -> None:
    from malsync.auth.tokens import TokenSet, TokenStore
    from malsync.redaction import Secret

    path = tmp_path / "store" / "token.json"
    path.parent.mkdir()
    path.write_text("{}")
    path.chmod(0o644)
    old_umask = os.umask(0)
    try:
        TokenStore(path).save(
            TokenSet(Secret("a"), Secret("r"), time.time() + 60, None, time.time())
        )
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["token.json"]
    loaded = TokenStore(path).load()
    assert loaded is not None
    assert loaded.access_token == Secret("a")


def test_status_says_when_the_sign_in_was_refused_until_the_next_login(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = signed_in(tmp_path, fake, monkeypatch)
    stored = json.loads(token_file(config).read_text())
    token_file(config).write_text(json.dumps({**stored, "expires_at": time.time() - 10}))
    fake.refresh_tokens.clear()  # aniSearch no longer knows the refresh token
    assert main(["sync", "--config", str(config), str(write(tmp_path / "l.xml", many(2)))]) == 3
    capsys.readouterr()

    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "aniSearch: the sign-in is no longer valid: aniSearch refused to renew it on" in out
    assert "Run malsync login to sign in again." in out
    assert "the next sync renews it" not in out
    assert main(["status", "--json", "--config", str(config)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["anisearch"]["state"] == "refused"

    assert login_by_paste(config, monkeypatch) == 0
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["status", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["anisearch"]["state"] == "signed_in"


@pytest.mark.parametrize("pasted", ["hello", "https://www.anisearch.com/oauth/authorize?state=x"])
def test_pasting_something_else_than_the_redirect_address_says_what_to_paste(
    tmp_path: Path, fake: FakeAniSearch, pasted: str
) -> None:
    from malsync.cli.console import Console
    from malsync.cli.main import raw_main

    config = oauth_config(tmp_path, fake)
    from malsync.config.settings import load_settings

    redirect = load_settings(config, {}).anisearch.sign_in.redirect_uri
    shown = io.StringIO()
    console = Console(stdin=io.StringIO(pasted + "\n"), stdout=io.StringIO(), stderr=shown)
    assert raw_main(["login", "--paste", "--config", str(config)], console, env={}) == 2
    err = shown.getvalue()
    before, after = err.split("Paste that address here")
    assert 'the browser shows a "cannot connect" page: that is expected' in before
    assert (
        "that is not the address the browser ended on; it starts with "
        f"{redirect}?code=…; nothing was stored" in after
    )
    assert "state differs" not in err
    assert not token_file(config).exists()
