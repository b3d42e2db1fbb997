"""One sign-in, two runs renewing it at once (two checkpoints on one account, a nightly run and
a manual one): the services rotate refresh tokens, so the second refresh with the same token is
refused although the token file then holds a valid sign-in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from malsync.auth.providers import ANISEARCH, MYANIMELIST, Provider
from malsync.auth.token_source import StoredToken, stored_token_source
from malsync.auth.tokens import TokenSet, TokenStore
from malsync.cli.main import main
from malsync.config.settings import Settings, SignInSettings, load_settings
from tests.fake_anisearch import ALL_SCOPES, FakeAniSearch
from tests.fake_mal import FakeMal, MalUser, anime_item
from tests.test_mal_sync import mal_section
from tests.test_oauth import oauth_config

TokenAnswer = tuple[int, Any, dict[str, str]]


@dataclass
class Service:
    """A signed-in service with a fake token endpoint malsync renews at."""

    provider: Provider
    settings: Settings
    config: Path
    store: TokenStore
    refreshes: Callable[[], int]  # refresh requests the service received
    issue: Callable[[], dict[str, Any]]  # a token answer, as the service gives one
    server: FakeAniSearch | FakeMal

    @property
    def sign_in_settings(self) -> SignInSettings:
        if self.provider is ANISEARCH:
            return self.settings.anisearch.sign_in
        return self.settings.myanimelist.sign_in

    def stored(self) -> StoredToken:
        """The stored sign-in as one run holds it, read when the run starts."""
        source = stored_token_source(self.sign_in_settings, self.settings.contact, self.provider)
        assert source is not None
        return source

    def sign_in(self, *, expired: bool) -> TokenSet:
        tokens = TokenSet.from_response(self.issue())
        if expired:
            tokens = replace(tokens, expires_at=time.time() - 10)
        self.store.save(tokens)
        return tokens

    @property
    def refused_marker(self) -> Path:
        return self.store.path.with_name(self.store.path.name + ".refused")


@pytest.fixture(params=[ANISEARCH, MYANIMELIST], ids=["anisearch", "myanimelist"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    users = {"owner": MalUser(anime=[anime_item(7)])}
    with FakeAniSearch() as fake, FakeMal(users=users) as mal:
        config = oauth_config(tmp_path, fake)
        config.write_text(config.read_text() + mal_section(mal))
        settings = load_settings(config, {})
        provider: Provider = request.param
        sign_in = (
            settings.anisearch.sign_in if provider is ANISEARCH else settings.myanimelist.sign_in
        )
        store = TokenStore(sign_in.token_file, provider.login_command)
        if provider is ANISEARCH:
            yield Service(
                provider,
                settings,
                config,
                store,
                lambda: sum(
                    r.path == "/oauth/token" and b"grant_type=refresh_token" in r.body
                    for r in fake.received
                ),
                lambda: fake._issue(ALL_SCOPES, time.time()),
                fake,
            )
        else:
            yield Service(
                provider,
                settings,
                config,
                store,
                lambda: sum(
                    r.path.endswith("/token") and r.query.get("grant_type") == "refresh_token"
                    for r in mal.received
                ),
                lambda: mal._issue("owner", time.time()),  # also inside its handler
                mal,
            )


def wrap_token_endpoint(
    server: FakeAniSearch | FakeMal,
    monkeypatch: pytest.MonkeyPatch,
    before: Callable[[dict[str, str], float], None],
) -> None:
    """Run `before` on each refresh the endpoint receives, then answer as it would."""
    original = server._token

    def token(form: dict[str, str], now: float) -> TokenAnswer:
        if form.get("grant_type") == "refresh_token":
            before(form, now)
        return original(form, now)

    monkeypatch.setattr(server, "_token", token)


def test_two_runs_renewing_one_sign_in_at_once_both_go_on_with_one_renewal(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.sign_in(expired=True)
    # The token answer takes a while, so that the second run asks while the first waits.
    wrap_token_endpoint(service.server, monkeypatch, lambda form, now: time.sleep(0.3))
    runs = [service.stored() for _ in range(2)]
    start = threading.Barrier(2)
    tokens: dict[int, str | BaseException] = {}

    def renew(index: int) -> None:
        start.wait()
        try:
            tokens[index] = runs[index].current().reveal()
        except BaseException as error:
            tokens[index] = error

    threads = [threading.Thread(target=renew, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert isinstance(tokens[0], str) and isinstance(tokens[1], str), tokens
    assert tokens[0] == tokens[1]
    assert service.refreshes() == 1  # the second run took the first's renewal
    stored = service.store.load()
    assert stored is not None and stored.access_token.reveal() == tokens[0]
    assert not service.refused_marker.exists()
    assert service.store.refused() is None


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "also-expired"])
def test_a_refusal_after_another_run_renewed_takes_the_new_sign_in(
    service: Service, monkeypatch: pytest.MonkeyPatch, fresh: bool
) -> None:
    """Another run (an older malsync that takes no lock) renews just before this one asks: the
    service refuses this run's refresh token, and the token file holds the new sign-in."""
    service.sign_in(expired=True)
    run = service.stored()
    renewed_meanwhile: list[str] = []

    def other_run_renews_first(form: dict[str, str], now: float) -> None:
        if renewed_meanwhile:
            return
        renewed = TokenSet.from_response(service.issue())  # what the other run received
        service.server.refresh_tokens.pop(form["refresh_token"], None)  # spent by it
        if not fresh:
            renewed = replace(renewed, expires_at=time.time() - 10)
        service.store.save(renewed)
        renewed_meanwhile.append(renewed.access_token.reveal())

    wrap_token_endpoint(service.server, monkeypatch, other_run_renews_first)
    monkeypatch.setattr(service.store.__class__, "renewing", _no_lock, raising=False)
    token = run.current().reveal()
    stored = service.store.load()
    assert stored is not None and stored.access_token.reveal() == token
    if fresh:
        assert token == renewed_meanwhile[0]
        assert service.refreshes() == 1
    else:
        assert token != renewed_meanwhile[0]  # renewed once more, with the other's refresh token
        assert service.refreshes() == 2
    assert not service.refused_marker.exists()


def _no_lock(self: TokenStore) -> Any:
    """The lock as an older malsync takes it: not at all."""
    from contextlib import nullcontext

    return nullcontext()


@pytest.mark.parametrize("service", [MYANIMELIST], ids=["myanimelist"], indirect=True)
def test_a_refused_mal_sign_in_says_to_sign_in_again_once(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.sign_in(expired=True)
    service.server.refresh_tokens.clear()  # MAL refuses the refresh token itself
    config = str(service.config)
    assert main(["sync", "--dry-run", "--config", config, "--mal-user", "@me"]) == 3
    err = capsys.readouterr().err
    assert err.count("run malsync login myanimelist") == 1, err
    assert service.refused_marker.exists()  # the next run does not send the dead token again
