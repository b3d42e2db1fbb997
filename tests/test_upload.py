"""The real `malsync sync` against the fake aniSearch server on 127.0.0.1."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from malsync.cli.main import main
from tests.cli_runner import sync
from tests.conftest import SAMPLES, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

SAMPLE_FILES = sorted(str(path) for path in SAMPLES.iterdir() if ".xml" in path.name)


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    return GOOD_TOKEN


def report_of(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    entries = {(e["media"], e["mal_id"]): e for e in data["entries"]}
    return {"summary": data["summary"], "entries": entries}


def test_samples_are_uploaded_exactly_as_planned(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    plan_path, report_path = tmp_path / "plan.json", tmp_path / "report.json"
    assert main(["sync", "--dry-run", *SAMPLE_FILES, "--report", str(plan_path)]) == 0
    assert sync(config, *SAMPLE_FILES, "--report", str(report_path)) == 0

    plan = json.loads(plan_path.read_text())["entries"]
    puts = fake.puts()
    assert len(puts) == 14
    received = {(r.path, json.dumps(r.body, sort_keys=True)) for r in puts}
    expected = {
        (f"/v1/my/{e['media']}/{e['mal_id']}/ratings", json.dumps(e["payload"], sort_keys=True))
        for e in plan
    }
    assert received == expected
    for request in puts:
        assert request.headers["User-Agent"] == "malsync/0.1.0 (tester@example.com)"
        assert request.headers["Authorization"] == f"Bearer {GOOD_TOKEN}"
        assert request.headers["Content-Type"] == "application/json"
    assert fake.ratings[("manga", fake.anisearch_id(2))]["chapters_read"] == 374

    report = json.loads(report_path.read_text())
    assert report["summary"]["outcomes"] == {"uploaded": 14}
    assert report["summary"]["dry_run"] is False
    assert "Outcome: uploaded 14" in capsys.readouterr().err


def test_resync_sends_nothing_for_an_unchanged_export_and_one_request_per_change(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "list.xml", many(30))
    assert sync(config, export_path) == 0
    assert len(fake.puts()) == 30

    assert sync(config, export_path) == 0
    assert len(fake.puts()) == 30, "an unchanged export sent requests"
    assert "Outcome: unchanged 30" in capsys.readouterr().err

    entries = many(30).split("<anime>")  # entries[7] is MAL id 7
    entries[7] = entries[7].replace("<my_score>0</my_score>", "<my_score>9</my_score>")
    write(export_path, "<anime>".join(entries))
    assert sync(config, export_path) == 0
    puts = fake.puts()
    assert len(puts) == 31
    assert puts[-1].path == "/v1/my/anime/7/ratings"
    assert puts[-1].body["public_rating"] == 9

    assert sync(config, export_path, "--force") == 0
    assert len(fake.puts()) == 61


def test_dry_run_shows_what_the_checkpoint_makes_unchanged(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "list.xml", many(5))
    assert sync(config, export_path) == 0
    capsys.readouterr()
    assert sync(config, export_path, "--dry-run") == 0
    assert "Outcome: unchanged 5" in capsys.readouterr().err
    assert len(fake.puts()) == 5


@pytest.mark.parametrize(
    ("config_change", "message"),
    [
        ({"contact": ""}, "[anisearch] contact is not set"),
        ({"base_url": "http://api.example.com/v1"}, "must be https://"),
    ],
)
def test_refuses_to_start_without_contact_or_over_plain_http(
    tmp_path: Path,
    fake: FakeAniSearch,
    token: str,
    capsys: pytest.CaptureFixture[str],
    config_change: dict[str, str],
    message: str,
) -> None:
    arguments = {"base_url": fake.base_url, **config_change}
    base_url = arguments.pop("base_url")
    config = write_config(tmp_path, base_url, **arguments)
    assert sync(config, *SAMPLE_FILES) == 2
    assert message in capsys.readouterr().err
    assert fake.received == []


def test_refuses_to_start_without_a_token(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sync(write_config(tmp_path, fake.base_url), *SAMPLE_FILES) == 2
    assert "not signed in to aniSearch: run malsync login" in capsys.readouterr().err
    assert fake.received == []


def test_the_fake_server_refuses_generic_user_agents(fake: FakeAniSearch) -> None:
    import requests

    response = requests.put(
        f"{fake.base_url}/my/anime/1/ratings",
        json={"status": "completed"},
        headers={"Authorization": f"Bearer {GOOD_TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 403


def test_throttled_to_the_limit_without_a_single_429(
    tmp_path: Path, fake: FakeAniSearch, token: str
) -> None:
    fake.upsert_limit = (40, 1.0)
    config = write_config(tmp_path, fake.base_url, upsert=(40, 1.0))
    assert sync(config, write(tmp_path / "list.xml", many(100))) == 0
    assert len(fake.accepted_puts()) == 100
    assert fake.rate_limited == 0
    assert fake.max_in_any_window() <= 40


def test_a_restarted_run_respects_the_window_of_the_previous_one(
    tmp_path: Path, fake: FakeAniSearch, token: str
) -> None:
    fake.upsert_limit = (30, 2.0)
    config = write_config(tmp_path, fake.base_url, upsert=(30, 2.0))
    assert sync(config, write(tmp_path / "a.xml", many(30))) == 0
    assert sync(config, write(tmp_path / "b.xml", many(10, first_id=1000))) == 0
    assert fake.rate_limited == 0
    assert len(fake.accepted_puts()) == 40
    assert fake.max_in_any_window() <= 30


def test_the_window_counts_each_request_from_its_answer_so_a_slow_one_makes_no_burst(
    tmp_path: Path, fake: FakeAniSearch, token: str
) -> None:
    """aniSearch counts a request when it arrives (or answers it), which can be well after it
    was sent: spaced a window from when the first PUT was sent, the second would reach it
    right after the first; spaced from the first's answer it cannot."""
    fake.upsert_limit = (1, 0.5)
    fake.faults.held_puts.append(0.8)  # the first PUT reaches aniSearch 0.8 s after it is sent
    config = write_config(tmp_path, fake.base_url, upsert=(1, 0.5))
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 0
    assert fake.rate_limited == 0
    assert len(fake.accepted_puts()) == 3
    assert fake.max_in_any_window() <= 1


@pytest.mark.parametrize("retry_after", ["seconds", "date", None])
def test_429_is_waited_out_and_retried(
    tmp_path: Path, fake: FakeAniSearch, token: str, retry_after: str | None
) -> None:
    """The server's allowance is smaller than the client believes: 429s must be absorbed."""
    fake.upsert_limit = (5, 1.0)
    fake.faults.retry_after = retry_after
    config = write_config(tmp_path, fake.base_url, upsert=(100, 1.0))
    report = tmp_path / "r.json"
    assert sync(config, write(tmp_path / "l.xml", many(8)), "--report", str(report)) == 0
    assert fake.rate_limited >= 1
    assert len(fake.accepted_puts()) == 8
    assert json.loads(report.read_text())["summary"]["outcomes"] == {"uploaded": 8}
    # After a 429 the client waited: the next request came no sooner than the window allowed.
    times = [r.at for r in fake.puts()]
    first_refusal = next(i for i, r in enumerate(fake.puts()) if r.status == 429)
    assert times[first_refusal + 1] - times[first_refusal] >= 0.5


def test_persistent_429_stops_the_run_with_exit_3(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.faults.scripted.extend([429] * 3)
    fake.faults.retry_after = "seconds"
    config = write_config(tmp_path, fake.base_url, extra="")
    config.write_text(config.read_text().replace("[retry]", "[retry]\nrate_limited_attempts = 3"))
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 3
    assert "429 Too Many Requests 3 times in a row" in capsys.readouterr().err
    assert len(fake.puts()) == 3


def test_server_errors_and_dropped_connections_are_retried(
    tmp_path: Path, fake: FakeAniSearch, token: str
) -> None:
    fake.faults.error_rate = 0.25
    fake.faults.drop_rate = 0.15
    config = write_config(tmp_path, fake.base_url, attempts=10)
    report = tmp_path / "r.json"
    assert sync(config, write(tmp_path / "l.xml", many(40)), "--report", str(report)) == 0
    statuses = Counter(r.status for r in fake.puts())
    assert statuses[503] > 0
    assert statuses[None] > 0
    assert {path for path in (r.path for r in fake.accepted_puts())} == {
        f"/v1/my/anime/{i}/ratings" for i in range(1, 41)
    }
    assert json.loads(report.read_text())["summary"]["outcomes"] == {"uploaded": 40}


def test_slow_replies_time_out_and_are_retried(
    tmp_path: Path, fake: FakeAniSearch, token: str
) -> None:
    fake.faults.delay_seconds = 1.5
    config = write_config(tmp_path, fake.base_url, attempts=2)
    config.write_text(
        config.read_text().replace("read_timeout_seconds = 2", "read_timeout_seconds = 0.5")
    )
    report = tmp_path / "r.json"
    extra = ("--report", str(report), "--no-remote-diff")  # only the PUTs, not the read first
    assert sync(config, write(tmp_path / "l.xml", many(1)), *extra) == 1
    entry = json.loads(report.read_text())["entries"][0]
    assert entry["outcome"] == "failed"
    assert entry["error"] == "no answer in time (gave up after 2 tries)"
    assert len(fake.puts()) == 2


def test_an_entry_that_keeps_failing_is_failed_and_the_run_goes_on(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.faults.scripted.extend([500, 502, 503])
    config = write_config(tmp_path, fake.base_url, attempts=3)
    report = tmp_path / "r.json"
    assert sync(config, write(tmp_path / "l.xml", many(4)), "--report", str(report)) == 1
    entries = report_of(report)["entries"]
    assert entries[("anime", 1)]["outcome"] == "failed"
    assert entries[("anime", 1)]["error"] == "HTTP 503: scripted 503 (gave up after 3 tries)"
    assert [entries[("anime", i)]["outcome"] for i in (2, 3, 4)] == ["uploaded"] * 3
    assert "failed: anime 1 'Title 1': HTTP 503: scripted 503" in capsys.readouterr().err


def test_400_fails_the_entry_with_the_servers_message_and_no_retry(
    tmp_path: Path, fake: FakeAniSearch, token: str
) -> None:
    fake.rejected_mal_ids[("anime", 2)] = "notes too long"
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / "r.json"
    assert sync(config, write(tmp_path / "l.xml", many(3)), "--report", str(report)) == 1
    entries = report_of(report)["entries"]
    assert entries[("anime", 2)]["outcome"] == "failed"
    assert entries[("anime", 2)]["error"] == "HTTP 400: notes too long"
    assert [r.path for r in fake.puts()].count("/v1/my/anime/2/ratings") == 1
    assert entries[("anime", 3)]["outcome"] == "uploaded"


def test_unknown_mal_id_is_not_found_with_title_and_link(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.unknown_mal_ids.add(("anime", 2))
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / "r.json"
    assert sync(config, write(tmp_path / "l.xml", many(3)), "--report", str(report)) == 1
    entry = report_of(report)["entries"][("anime", 2)]
    assert entry["outcome"] == "not_found"
    assert entry["title"] == "Title 2"
    assert entry["mal_url"] == "https://myanimelist.net/anime/2"
    err = capsys.readouterr().err
    assert "not_found: anime 2 'Title 2'" in err
    assert "https://myanimelist.net/anime/2" in err


def test_401_stops_saves_and_the_next_run_finishes_the_rest(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(10))
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    # The token is revoked after four uploads.
    original = dict(fake.tokens)
    calls = {"n": 0}
    real_answer = fake._answer

    def revoke_after_four(handler, method, body, now):  # type: ignore[no-untyped-def]
        calls["n"] += method == "PUT"
        if method == "PUT" and calls["n"] == 5:
            fake.tokens.clear()
        return real_answer(handler, method, body, now)

    monkeypatch.setattr(fake, "_answer", revoke_after_four)
    report = tmp_path / "r.json"
    assert sync(config, export_path, "--report", str(report)) == 3
    err = capsys.readouterr().err
    assert "aniSearch refused the access token (HTTP 401" in err
    assert len(fake.puts()) == 5
    entries = report_of(report)["entries"]
    assert [entries[("anime", i)]["outcome"] for i in range(1, 11)] == ["uploaded"] * 4 + [
        "not_sent"
    ] * 6
    assert entries[("anime", 6)]["error"] == "not sent: the run stopped before it"

    fake.tokens.update(original)
    assert sync(config, export_path) == 0
    sent = [r.path for r in fake.puts()[5:]]
    assert sent == [f"/v1/my/anime/{i}/ratings" for i in range(5, 11)]


def test_403_stops_at_once_without_retry(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.faults.scripted.extend([200, 403])
    config = write_config(tmp_path, fake.base_url, attempts=5)
    assert sync(config, write(tmp_path / "l.xml", many(5))) == 3
    assert len(fake.puts()) == 2
    err = capsys.readouterr().err
    assert "aniSearch answered HTTP 403" in err
    assert "stopped at once" in err


def test_the_token_appears_nowhere(
    tmp_path: Path, fake: FakeAniSearch, token: str, capfd: pytest.CaptureFixture[str]
) -> None:
    fake.echo_token_in_errors = True
    fake.rejected_mal_ids[("anime", 1)] = f"bad request for token {GOOD_TOKEN}"
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / "r.json"
    export_path = write(tmp_path / "l.xml", many(3))
    assert sync(config, export_path, "-v", "--report", str(report)) == 1
    fake.tokens.clear()  # now every request is a 401 whose message echoes the token
    assert sync(config, export_path, "-v", "--force", "--report", str(report)) == 3
    assert main(["status", "--config", str(config)]) == 0
    out, err = capfd.readouterr()
    assert "bad request for token ***" in err
    assert "invalid access token ***" in err
    for text in (out, err, report.read_text()):
        assert GOOD_TOKEN not in text
    for path in tmp_path.rglob("state.sqlite3*"):
        assert GOOD_TOKEN.encode() not in path.read_bytes()


def test_status_summarises_the_checkpoint(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.unknown_mal_ids.add(("anime", 3))
    config = write_config(tmp_path, fake.base_url)
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "No checkpoint yet at" in out
    assert "Token: from ANISEARCH_TOKEN" in out
    assert sync(config, write(tmp_path / "l.xml", many(4))) == 1
    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"Checkpoint: {tmp_path / 'state.sqlite3'}" in out
    assert "Last run: started" in out
    assert "finished at" in out
    assert "Entries: not_found 1, uploaded 3" in out
    assert "not_found: anime 3 'Title 3'" in out
    assert "https://myanimelist.net/anime/3" in out
    assert main(["status", "--json", "--config", str(config)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["checkpoint"]["entries"] == {"not_found": 1, "uploaded": 3}
    assert document["checkpoint"]["last_run"]["status"] == "finished"
    assert [p["mal_id"] for p in document["checkpoint"]["problems"]] == [3]
    assert document["anisearch"] == {
        "state": "token",
        "token_origin": "ANISEARCH_TOKEN",
        "lines": ["Token: from ANISEARCH_TOKEN (used instead of a sign-in)"],
    }


def test_a_second_run_on_the_same_checkpoint_is_refused(
    tmp_path: Path, fake: FakeAniSearch, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from malsync.store.checkpoint import Checkpoint

    config = write_config(tmp_path, fake.base_url)
    with Checkpoint.open(tmp_path / "state.sqlite3", exclusive=True):
        assert sync(config, write(tmp_path / "l.xml", many(2))) == 2
    assert "another malsync run is using this checkpoint" in capsys.readouterr().err
    assert fake.received == []
    assert sync(config, tmp_path / "l.xml") == 0
