"""Sign-in with MyAnimeList (PKCE plain) through the shared OAuth machinery, and reads with it."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from malsync.auth import browser, oauth
from malsync.auth.providers import ANISEARCH, MYANIMELIST
from malsync.auth.tokens import TokenStore
from malsync.compose import Composition
from malsync.config.settings import MalSettings, Settings, load_settings, mal_sign_in
from malsync.errors import ConfigError, ExitStatus
from malsync.pipeline.records import MediaType
from malsync.sources.mal_api import MalApiReader, MalReadError
from tests.fake_mal import CLIENT_ID, CLIENT_SECRET, FakeMal, MalUser, anime_item
from tests.test_oauth import free_port


@pytest.fixture
def fake() -> Iterator[FakeMal]:
    users = {"owner": MalUser(anime=[anime_item(i) for i in range(1, 1501)], private=True)}
    with FakeMal(users=users) as server:
        yield server


def mal_settings(folder: Path, fake: FakeMal, extra: str = "") -> Settings:
    config = folder / "config.toml"
    config.write_text(
        f"""
[anisearch]
contact = "tester@example.com"

[retry]
attempts = 3
initial_wait_seconds = 0.01
max_wait_seconds = 0.02

[myanimelist]
api_url = "{fake.api_url}"
client_id = "{CLIENT_ID}"
authorize_url = "{fake.authorize_url}"
token_url = "{fake.token_url}"
redirect_uri = "http://127.0.0.1:{free_port()}/callback"
token_file = "tokens/mal.json"
pace_seconds = 0
{extra}
"""
    )
    return load_settings(config, {})


def browser_login(settings: Settings, shown: list[str]) -> None:
    """Sign in as a browser would: open the address, follow MAL's redirect to the listener."""

    def show(url: str) -> None:
        shown.append(url)
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10}).start()

    browser.login(
        settings.myanimelist.sign_in,
        settings.contact,
        provider=MYANIMELIST,
        show=show,
        open_browser=False,
        timeout=10,
    )


def open_reader(settings: Settings) -> MalApiReader:
    return Composition(settings).mal_reader()


def test_login_uses_pkce_plain_and_stores_0600_tokens_apart_from_anisearch(
    tmp_path: Path, fake: FakeMal
) -> None:
    settings = mal_settings(tmp_path, fake)
    shown: list[str] = []
    browser_login(settings, shown)
    query = {k: v[0] for k, v in parse_qs(urlsplit(shown[0]).query).items()}
    assert query["code_challenge_method"] == "plain"
    assert 43 <= len(query["code_challenge"]) <= 128
    assert "scope" not in query
    assert query["client_id"] == CLIENT_ID
    token_post = [r for r in fake.received if r.path == "/v1/oauth2/token"]
    assert len(token_post) == 1 and token_post[0].status == 200
    # plain: the verifier sent to the token endpoint is the challenge itself (the fake checks it)
    assert token_post[0].query["code_verifier"] == query["code_challenge"]
    stored = settings.myanimelist.sign_in.token_file
    assert stored == tmp_path / "tokens" / "mal.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())["access_token"] == fake.issued_access_tokens[-1]
    assert not settings.anisearch.sign_in.token_file.exists()


def test_login_by_paste_and_a_web_app_sends_its_secret(tmp_path: Path, fake: FakeMal) -> None:
    fake.client_secret = CLIENT_SECRET
    settings = mal_settings(tmp_path, fake, f'client_secret = "{CLIENT_SECRET}"')
    urls: list[str] = []

    def pasted() -> str:
        return str(requests.get(urls[0], allow_redirects=False, timeout=10).headers["Location"])

    tokens = browser.login(
        settings.myanimelist.sign_in,
        settings.contact,
        provider=MYANIMELIST,
        show=urls.append,
        read_pasted=pasted,
    )
    assert tokens.access_token.reveal() == fake.issued_access_tokens[-1]
    token_post = next(r for r in fake.received if r.path == "/v1/oauth2/token")
    assert token_post.query["client_secret"] == CLIENT_SECRET


def test_the_fake_refuses_s256_like_mal(tmp_path: Path, fake: FakeMal) -> None:
    settings = mal_settings(tmp_path, fake)
    pkce = browser.new_pkce()
    url = browser.authorization_url(
        settings.myanimelist.sign_in, "s" * 24, pkce.challenge, ANISEARCH
    )
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert "only plain" in answer.text


def test_login_without_a_client_id_says_where_to_get_one(tmp_path: Path, fake: FakeMal) -> None:
    sign_in = dataclasses.replace(mal_sign_in(), token_file=tmp_path / "t.json")
    without = Settings(myanimelist=MalSettings(sign_in=sign_in))
    shown: list[str] = []
    with pytest.raises(ConfigError, match=r"myanimelist\.net/apiconfig") as caught:
        browser.login(
            without.myanimelist.sign_in,
            without.contact,
            provider=MYANIMELIST,
            show=shown.append,
            read_pasted=lambda: "",
        )
    assert "[myanimelist] client_id is not set (nor MAL_CLIENT_ID)" in str(caught.value)
    assert shown == [] and fake.received == []


def test_the_environment_client_id_wins(tmp_path: Path, fake: FakeMal) -> None:
    settings = mal_settings(tmp_path, fake)
    assert settings.config_path is not None
    from_env = load_settings(settings.config_path, {"MAL_CLIENT_ID": "env-client-id-123"})
    assert from_env.myanimelist.sign_in.client_id is not None
    assert from_env.myanimelist.sign_in.client_id.reveal() == "env-client-id-123"
    assert "env-client-id-123" not in repr(from_env)


def test_logout_deletes_the_mal_sign_in_only(tmp_path: Path, fake: FakeMal) -> None:
    settings = mal_settings(tmp_path, fake)
    browser_login(settings, [])
    anisearch_file = settings.anisearch.sign_in.token_file
    anisearch_file.parent.mkdir(parents=True, exist_ok=True)
    anisearch_file.write_text("{}")  # an aniSearch sign-in stays
    requests_before = len(fake.received)
    mal = settings.myanimelist.sign_in
    assert oauth.logout(mal, settings.contact, MYANIMELIST) == oauth.SignOut(stored=True)
    assert not settings.myanimelist.sign_in.token_file.exists()
    assert anisearch_file.exists()
    assert len(fake.received) == requests_before  # MAL has no revocation to call
    assert oauth.logout(mal, settings.contact, MYANIMELIST) == oauth.SignOut(stored=False)


def test_me_is_read_with_the_sign_in(tmp_path: Path, fake: FakeMal) -> None:
    settings = mal_settings(tmp_path, fake)
    browser_login(settings, [])
    with open_reader(settings) as mal:
        result = mal.read(MediaType.ANIME, "@me")
    assert len(result.entries) == 1500
    assert result.source == "myanimelist:@me"
    for request in fake.list_requests():
        assert request.headers["Authorization"] == f"Bearer {fake.issued_access_tokens[-1]}"
        assert "X-MAL-CLIENT-ID" not in request.headers


def test_expiring_tokens_are_renewed_before_and_during_a_read(
    tmp_path: Path, fake: FakeMal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = mal_settings(tmp_path, fake)
    browser_login(settings, [])
    caplog.clear()  # the fake browser's own requests carry the client id, as a browser's do
    store = TokenStore(settings.myanimelist.sign_in.token_file)
    first = store.load()
    assert first is not None
    # The server forgets the access token while the store still thinks it valid: a 401, then
    # one renewal and the same request again.
    fake.tokens[first.access_token.reveal()] = ("owner", 0.0)
    with open_reader(settings) as mal:
        result = mal.read(MediaType.ANIME, "@me")
    assert len(result.entries) == 1500
    assert [r.status for r in fake.list_requests()] == [401, 200, 200]
    renewed = store.load()
    assert renewed is not None and renewed.access_token.reveal() == fake.issued_access_tokens[-1]
    # Now the stored token runs out by the clock: it is renewed before the request goes out.
    assert renewed is not None
    store.save(dataclasses.replace(renewed, expires_at=time.time() - 1))
    fake.received.clear()
    with open_reader(settings) as mal:
        mal.read(MediaType.ANIME, "@me")
    assert [(r.path, r.status) for r in fake.received][:2] == [
        ("/v1/oauth2/token", 200),
        ("/v2/users/@me/animelist", 200),
    ]
    assert len(fake.issued_access_tokens) == 3
    assert "renewed the MyAnimeList access token" in caplog.text
    for secret in fake.secrets_seen():
        assert secret not in caplog.text


def test_a_sign_in_that_cannot_be_renewed_stops_the_read(
    tmp_path: Path, fake: FakeMal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = mal_settings(tmp_path, fake)
    browser_login(settings, [])
    caplog.clear()  # the fake browser's own requests carry the client id, as a browser's do
    fake.tokens.clear()
    fake.refresh_tokens.clear()
    with open_reader(settings) as mal, pytest.raises(MalReadError) as caught:
        mal.read(MediaType.ANIME, "@me")
    message = str(caught.value)
    assert message.startswith("MAL could not be read: @me needs the MyAnimeList sign-in")
    assert "could not renew the access token" in message
    assert "run malsync login myanimelist again" in message
    assert caught.value.exit_status == ExitStatus.SERVER_STOPPED
    for secret in fake.secrets_seen():
        assert secret not in message + caplog.text


def test_a_sign_in_refused_after_a_401_falls_back_to_the_client_id_for_a_named_user(
    tmp_path: Path, fake: FakeMal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake.users["bob"] = MalUser(anime=[anime_item(3)])
    settings = mal_settings(tmp_path, fake)
    browser_login(settings, [])
    fake.tokens.clear()  # the access token looks fresh but MAL no longer takes it
    fake.refresh_tokens.clear()
    with open_reader(settings) as mal:
        assert [entry.mal_id for entry in mal.read(MediaType.ANIME, "bob").entries] == [3]
    first, second = fake.list_requests()
    assert first.status == 401 and "Authorization" in first.headers
    assert second.status == 200 and "Authorization" not in second.headers
    assert "reading bob's public list with the client id" in caplog.text
    with open_reader(settings) as mal, pytest.raises(MalReadError, match="@me needs the"):
        mal.read(MediaType.ANIME, "@me")
    assert len(fake.list_requests()) == 2  # known refused: nothing more was sent
