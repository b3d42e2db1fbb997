"""Messages through Apprise to a webhook on 127.0.0.1: one when a run needs a person, none else."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_webhook import WebhookReceiver

HOOK_PASSWORD = "hook-pass-5e2b9c1d"  # a credential inside the Apprise URL itself


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def config_with(tmp_path: Path, fake: FakeAniSearch, *urls: str) -> Path:
    listed = ", ".join(json.dumps(url) for url in urls)
    return write_config(tmp_path, fake.base_url, attempts=2, extra=f"[notify]\nurls = [{listed}]")


def assert_no_secret(hook: WebhookReceiver, *outputs: str) -> None:
    for text in [*(message.raw for message in hook.messages), *outputs]:
        assert GOOD_TOKEN not in text
        assert HOOK_PASSWORD not in text


def test_a_clean_run_sends_nothing_and_prints_nothing_with_q(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    capfd: pytest.CaptureFixture[str],
) -> None:
    config = config_with(tmp_path, fake, hook.url())
    export_path = write(tmp_path / "l.xml", many(3, my_finish_date="2010-09-00"))
    assert sync(config, export_path, "-q") == 0  # a first run, with warnings
    assert sync(config, export_path, "-q") == 0  # a re-sync that sends nothing
    assert len(fake.puts()) == 3
    assert hook.messages == []
    assert capfd.readouterr() == ("", "")


def test_a_403_stop_sends_one_message_saying_what_happened_and_what_to_do(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.faults.scripted.extend([200, 403])
    config = config_with(tmp_path, fake, hook.url(credentials=f"malsync:{HOOK_PASSWORD}"))
    assert sync(config, write(tmp_path / "l.xml", many(5)), "-q") == 3
    assert len(hook.messages) == 1
    message = hook.messages[0].body
    assert message["type"] == "failure"
    assert message["title"] == "malsync: the sync was stopped"
    assert "The sync stopped (exit 3): aniSearch answered HTTP 403" in message["message"]
    assert "the checkpoint is saved, and the next run resumes" in message["message"]
    assert f"Look closer: malsync status --config {config}" in message["message"]
    err = capsys.readouterr().err
    assert "The sync stopped (exit 3): aniSearch answered HTTP 403" in err  # -q still says it
    assert_no_secret(hook, err)


def test_a_stop_before_the_report_sends_its_error(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", "tok-not-known-to-the-fake-1234")
    config = config_with(tmp_path, fake, hook.url())
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 3
    assert [m.body["title"] for m in hook.messages] == ["malsync: the sync was stopped"]
    assert "aniSearch refused the access token" in hook.messages[0].body["message"]
    assert "tok-not-known-to-the-fake-1234" not in hook.messages[0].raw


def test_a_sync_that_cannot_run_says_why(
    tmp_path: Path, fake: FakeAniSearch, hook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with(tmp_path, fake, hook.url())
    config.write_text(config.read_text().replace('contact = "tester@example.com"', ""))
    assert sync(config, write(tmp_path / "l.xml", many(2)), "-q") == 2
    assert fake.puts() == []
    assert [m.body["title"] for m in hook.messages] == ["malsync: the sync could not run"]
    text = hook.messages[0].body["message"]
    assert text.startswith("The sync could not run (exit 2): [anisearch] contact is not set")
    assert "Run the same command by hand to check it once it is fixed." in text


def test_a_new_unknown_title_is_named_once_not_every_night(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.unknown_mal_ids.add(("anime", 2))
    config = config_with(tmp_path, fake, hook.url())
    export_path = write(tmp_path / "l.xml", many(3))
    assert sync(config, export_path, "-q") == 1
    assert len(hook.messages) == 1
    message = hook.messages[0].body
    assert message["title"] == "malsync: 1 title aniSearch does not know"
    assert message["type"] == "warning"
    text = message["message"]
    assert "New since the last run: 1 title was not synced:" in text
    assert "not_found: anime 2 'Title 2'" in text
    assert "https://myanimelist.net/anime/2" in text
    assert f"(listed in {tmp_path / 'unmatched.csv'})" in text
    err = capsys.readouterr().err
    assert "not_found: anime 2 'Title 2'" in err  # -q prints the new title too
    assert err.splitlines()[-1] == f"Look closer: malsync status --config {config}"

    # The next night: not asked again, nothing sent, nothing printed.
    assert sync(config, export_path, "-q") == 0
    # Asked again (30 days later, or --retry-unmatched): still unknown, but not news.
    assert sync(config, export_path, "-q", "--retry-unmatched") == 1
    assert len(hook.messages) == 1
    assert capsys.readouterr().err == ""
    assert_no_secret(hook)


def test_a_new_title_aniSearch_links_to_nothing_is_named_once_not_every_night(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # With aniSearch's MAL links, a title it does not know is unmatched before anything is
    # sent (no 404 to learn it from): still news the first night, and only then.
    fake.database.link("anime", 1, 100001)
    fake.database.link("anime", 3, 100003)
    config = config_with(tmp_path, fake, hook.url())
    export_path = write(tmp_path / "l.xml", many(3))
    assert sync(config, export_path, "-q") == 0
    assert len(hook.messages) == 1
    text = hook.messages[0].body["message"]
    assert "New since the last run: 1 title was not synced:" in text
    assert "unmatched: anime 2 'Title 2': aniSearch links no title to MAL id 2" in text
    assert "https://myanimelist.net/anime/2" in text
    assert "[mappings.anime]" in text
    err = capsys.readouterr().err
    assert "unmatched: anime 2 'Title 2'" in err  # -q prints the new title too
    assert [r.method for r in fake.puts()] == ["PUT", "PUT"]

    assert sync(config, export_path, "-q") == 0  # the next night: known, not news
    assert len(hook.messages) == 1
    assert capsys.readouterr().err == ""
    assert_no_secret(hook)


def test_a_title_that_fails_again_after_succeeding_is_news_again(
    tmp_path: Path, fake: FakeAniSearch, hook: WebhookReceiver
) -> None:
    config = config_with(tmp_path, fake, hook.url())
    fake.rejected_mal_ids[("anime", 1)] = "episodes_watched is too large"
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 1
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 1  # the same failure: no news
    del fake.rejected_mal_ids[("anime", 1)]
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 0
    fake.rejected_mal_ids[("anime", 1)] = "episodes_watched is too large"
    assert sync(config, write(tmp_path / "l.xml", many(2, my_score="7"))) == 1
    titles = [m.body["title"] for m in hook.messages]
    assert titles == ["malsync: 1 title not synced", "malsync: 1 title not synced"]
    assert "failed: anime 1 'Title 1': HTTP 400" in hook.messages[1].body["message"]


@pytest.mark.parametrize("receiver", ["answers 500", "closed port"])
def test_a_message_that_cannot_be_sent_is_one_warning_line_not_a_failed_run(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    capsys: pytest.CaptureFixture[str],
    receiver: str,
) -> None:
    hook.status = 500
    url = hook.url(credentials=f"malsync:{HOOK_PASSWORD}")
    if receiver == "closed port":
        hook.stop()
    fake.unknown_mal_ids.add(("anime", 1))
    config = config_with(tmp_path, fake, url)
    assert sync(config, write(tmp_path / "l.xml", many(2)), "-q") == 1  # as without [notify]
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    masked = url.split("@")[1].split("/")[0]
    assert warnings[0].startswith(
        f"malsync: warning: the message could not be sent to json://***@{masked}/***: "
    )
    assert "not_found: anime 1 'Title 1'" in err  # the run's own output is all there
    assert_no_secret(hook, err)


def test_a_sign_in_that_expires_within_three_days_is_said(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ANISEARCH_TOKEN")
    now = time.time()
    token_file = tmp_path / "xdg-config" / "malsync" / "token.json"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(
        json.dumps(
            {
                "access_token": GOOD_TOKEN,
                "refresh_token": "refresh-7c1e4b2a9d",
                "expires_at": now + 3600,
                "scopes": ["ratings.anime", "ratings.manga", "user.profile"],
                "obtained_at": now - 28 * 24 * 3600,  # the refresh token lasts 30 days
            }
        )
    )
    token_file.chmod(0o600)
    config = config_with(tmp_path, fake, hook.url())
    assert sync(config, write(tmp_path / "l.xml", many(1)), "-q") == 0
    assert [m.body["title"] for m in hook.messages] == ["malsync: sign in again soon"]
    text = hook.messages[0].body["message"]
    assert "The aniSearch sign-in can be renewed only until " in text
    assert "run malsync login before then" in text
    assert "The aniSearch sign-in can be renewed only until " in capsys.readouterr().err
    assert "refresh-7c1e4b2a9d" not in hook.messages[0].raw
    assert_no_secret(hook)


def test_notify_test_sends_one_message_to_each_url(
    tmp_path: Path, fake: FakeAniSearch, hook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with(tmp_path, fake, hook.url("/one"), hook.url("/two"))
    assert main(["notify", "--test", "--config", str(config)]) == 0
    assert [m.path for m in hook.messages] == ["/one", "/two"]
    assert {m.body["title"] for m in hook.messages} == {"malsync: test message"}
    host = hook.root.removeprefix("http://")
    assert capsys.readouterr().err.splitlines() == [f"Sent to json://{host}/***."] * 2
    hook.status = 500
    assert main(["notify", "--test", "--config", str(config)]) == 1


def test_notify_without_urls_says_where_to_set_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notify", "--test"]) == 2
    err = capsys.readouterr().err
    assert 'no notification URLs: set [notify] urls = ["ntfy://my-topic"]' in err
    assert "malsync init writes it" in err


def test_without_apprise_the_error_names_the_extra_and_a_run_goes_on(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise raises ImportError
    config = config_with(tmp_path, fake, hook.url())
    assert main(["notify", "--test", "--config", str(config)]) == 2
    assert "pip install 'malsync[notify]'" in capsys.readouterr().err
    fake.unknown_mal_ids.add(("anime", 1))
    assert sync(config, write(tmp_path / "l.xml", many(1)), "-q") == 1
    err = capsys.readouterr().err
    assert "malsync: warning: no message was sent: sending messages needs Apprise" in err
    assert hook.messages == []


def test_unencrypted_urls_go_only_to_this_machine(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with(tmp_path, fake, "json://192.0.2.7/hook", "ntfy://ntfy.example.org/t")
    assert main(["notify", "--test", "--config", str(config)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "malsync: warning: the message could not be sent to json://192.0.2.7/***: it is "
        "unencrypted and goes to another machine; use the secure form (jsons:// for json://) "
        "or a service on this machine",
        "malsync: warning: the message could not be sent to ntfy://ntfy.example.org/***: it is "
        "unencrypted and goes to another machine; use the secure form (ntfys:// for ntfy://) "
        "or a service on this machine",
    ]


def test_config_show_masks_the_urls_and_the_environment_wins(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bot = "123456789:AAH-bot-token-0f3e"
    config = config_with(tmp_path, fake, f"mailto://me:{HOOK_PASSWORD}@mail.example.org")
    assert main(["config", "show", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert 'urls = ["mailto://***@mail.example.org"]' in out
    monkeypatch.setenv("MALSYNC_NOTIFY_URLS", f"tgram://{bot}/4711, ntfy://secret-topic-77f1")
    assert main(["config", "show", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert 'urls = ["tgram://***", "ntfy://***"]' in out
    assert "# from MALSYNC_NOTIFY_URLS" in out
    for secret in (HOOK_PASSWORD, bot, "secret-topic-77f1", "AAH-bot-token-0f3e"):
        assert secret not in out
    assert main(["notify", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines() == ["tgram://***", "ntfy://***"]


@pytest.mark.parametrize(
    ("urls", "said"),
    [
        ('["no scheme here"]', "[notify] urls entry 1 is not an Apprise URL"),
        ('"ntfy://one"', "[notify] urls must be a list of Apprise URLs"),
    ],
)
def test_a_bad_url_is_refused_without_showing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], urls: str, said: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[notify]\nurls = {urls}\n")
    assert main(["config", "show", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert "no scheme here" not in err


def test_every_settings_section_is_documented_in_the_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "show"]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert "[notify]" in shown
    assert main(["config", "example"]) == 0
    example = capsys.readouterr().out.splitlines()
    for section in shown:
        assert section in example, section
    notify = example[example.index("[notify]") :]
    assert "urls = []" in notify[: notify.index("[mappings.anime]")]
    assert any("pip install 'malsync[notify]'" in line for line in notify)


def test_a_sync_whose_config_has_a_mistake_still_sends_its_message(
    tmp_path: Path, fake: FakeAniSearch, hook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo made while editing the config must not make the nightly run fail unheard."""
    config = config_with(tmp_path, fake, hook.url(credentials=f"malsync:{HOOK_PASSWORD}"))
    config.write_text(config.read_text().replace("upsert_requests", "upsert_limt"))
    assert sync(config, write(tmp_path / "l.xml", many(2)), "-q") == 2
    err = capsys.readouterr().err
    assert fake.puts() == []
    assert [m.body["title"] for m in hook.messages] == ["malsync: the sync could not run"]
    text = hook.messages[0].body["message"]
    assert text.startswith(f"The sync could not run (exit 2): {config}: [limits] upsert_limt")
    assert f"Look closer: malsync status --config {config}" in text
    assert err.splitlines()[0].startswith(f"malsync: error: {config}: [limits] upsert_limt"), err
    assert_no_secret(hook, err)


def test_a_config_that_is_not_toml_tells_the_urls_of_the_environment(
    tmp_path: Path,
    fake: FakeAniSearch,
    hook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = config_with(tmp_path, fake, hook.url())
    config.write_text(config.read_text() + "\n[sync\n")
    export_path = write(tmp_path / "l.xml", many(2))
    assert sync(config, export_path, "-q") == 2  # its own [notify] urls cannot be read
    assert hook.messages == []
    monkeypatch.setenv("MALSYNC_NOTIFY_URLS", hook.url())
    assert sync(config, export_path, "-q") == 2
    assert [m.body["title"] for m in hook.messages] == ["malsync: the sync could not run"]
    assert "not valid TOML" in hook.messages[0].body["message"]


def test_only_a_sync_sends_a_message_for_a_config_with_a_mistake(
    tmp_path: Path, fake: FakeAniSearch, hook: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with(tmp_path, fake, hook.url())
    config.write_text(config.read_text().replace("upsert_requests", "upsert_limt"))
    assert main(["status", "--config", str(config)]) == 2
    assert hook.messages == []
