"""Waits a person can see: a countdown on the bar, one line at -v, nothing at -q."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.anisearch.journal import Write
from malsync.anisearch.ratelimit import RateWindow
from malsync.anisearch.session import (
    WAIT_AS_ASKED,
    WAIT_FOR_WINDOW,
    WAIT_TO_RETRY,
    AniSearchSession,
)
from malsync.cli.main import main
from malsync.cli.progress import BarProgress
from malsync.config.settings import RetryOptions
from malsync.net.pacing import Countdown, SlidingWindow, format_wait
from malsync.pipeline.records import MediaType, Outcome
from malsync.pipeline.uploader import execute
from malsync.store.checkpoint import Checkpoint
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_uploader import send

OK = ApiResponse(ResponseMeaning.OK, 200, "OK")


class Clock:
    """Simulated time: sleeping moves it, and every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class ScriptedClient:
    answers: list[ApiResponse]
    sent_at: list[float] = field(default_factory=list)
    clock: Clock | None = None

    def put_rating(self, media: MediaType, item_id: int, payload: Any) -> ApiResponse:
        assert self.clock is not None
        self.sent_at.append(self.clock.now)
        return self.answers.pop(0)

    def close(self) -> None:
        pass


def session_with(clock: Clock, *answers: ApiResponse, limit: int = 2) -> AniSearchSession:
    put = SlidingWindow(limit, 120.0, clock=clock, sleep=clock.sleep)
    read = SlidingWindow(10, 60.0, clock=clock, sleep=clock.sleep)
    client = ScriptedClient(list(answers), clock=clock)
    retry = RetryOptions(attempts=3, initial_wait_seconds=4.0, max_wait_seconds=4.0)
    return AniSearchSession(
        client,  # type: ignore[arg-type]
        retry,
        {RateWindow.UPSERT: put, RateWindow.READ: read},
        countdown=Countdown(clock.sleep, clock),
        clock=clock,
    )


def test_a_full_window_is_a_countdown_to_the_next_batch() -> None:
    clock = Clock()
    session = session_with(clock, OK, OK, OK)
    heard: list[tuple[float, str]] = []
    session.countdown.listener = lambda left, reason: heard.append((round(left, 3), reason))
    for mal_id in (1, 2):
        session.put_rating(MediaType.ANIME, mal_id, {"status": "completed"}, Write("t"))
    assert heard == []  # inside the allowance: no wait
    session.put_rating(MediaType.ANIME, 3, {"status": "completed"}, Write("t"))

    waited = 120.0 + session.limiters[RateWindow.UPSERT].margin  # type: ignore[attr-defined]
    lefts = [left for left, _ in heard]
    assert {reason for _, reason in heard} == {WAIT_FOR_WINDOW}
    assert lefts[0] == pytest.approx(waited, abs=1e-3)
    assert lefts == sorted(lefts, reverse=True) and lefts[-1] == 0.0  # runs down, then over
    assert len(heard) == len(clock.sleeps) + 1  # told before every slice, and at the end
    assert max(clock.sleeps) <= 0.5  # short slices: the countdown moves, Ctrl-C lands at once
    assert sum(clock.sleeps) == pytest.approx(waited)


def test_a_retry_after_and_a_retry_backoff_say_why_they_wait() -> None:
    clock = Clock()
    limited = ApiResponse(ResponseMeaning.RATE_LIMITED, 429, "slow down", retry_after="3")
    broken = ApiResponse(ResponseMeaning.TRANSIENT, 503, "down")
    session = session_with(clock, limited, broken, OK, limit=100)
    reasons: list[str] = []
    session.countdown.listener = lambda left, reason: reasons.append(reason)
    assert session.put_rating(MediaType.ANIME, 1, {"status": "completed"}, Write("t")) is OK
    assert list(dict.fromkeys(reasons)) == [WAIT_AS_ASKED, WAIT_TO_RETRY]


def test_ctrl_c_during_a_wait_lands_at_once() -> None:
    clock = Clock()
    session = session_with(clock)

    def interrupted(seconds: float) -> None:
        clock.sleeps.append(seconds)
        raise KeyboardInterrupt

    session.countdown.sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        session.countdown.pause(90.0, WAIT_FOR_WINDOW)
    assert clock.sleeps == [0.5]


def test_a_clock_that_stands_still_cannot_make_a_wait_endless() -> None:
    slept: list[float] = []
    session = session_with(Clock())
    session.countdown.clock = lambda: 5.0
    session.countdown.sleep = slept.append
    session.countdown.pause(2.0, WAIT_FOR_WINDOW)
    assert sum(slept) == pytest.approx(2.0)


def test_the_bar_shows_the_countdown_and_an_eta_that_keeps_moving() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = BarProgress(stream, clock=lambda: now[0])
    bar.start(620, 0)
    for _ in range(100):
        bar.advance(Outcome.UPLOADED, 700.0)
    now[0] += 28.0
    bar.waiting(92.0, WAIT_FOR_WINDOW)
    assert bar.postfix() == (
        "uploaded 100, unchanged 0, eta 11:12, "
        "waiting for aniSearch's limit \u2014 next batch in 1:32"
    )
    now[0] += 0.5
    bar.waiting(91.5, WAIT_FOR_WINDOW)
    assert bar.postfix().endswith(
        "eta 11:11, waiting for aniSearch's limit \u2014 next batch in 1:32"
    )
    bar.waiting(0.0, WAIT_FOR_WINDOW)
    assert "waiting" not in bar.postfix()
    bar.close()
    assert "next batch in 1:32" in stream.getvalue()  # what the terminal was sent


@pytest.mark.parametrize("cut_short", [False, True])
def test_a_bar_cut_short_by_ctrl_c_is_not_drawn_again_under_the_terminals_echo(
    cut_short: bool,
) -> None:
    """A bar as wide as the terminal pushes the ^C the terminal echoes onto a new line; a last
    drawing of the bar there showed it twice. A finished run's bar is drawn in its end state."""
    stream = io.StringIO()
    bar = BarProgress(stream)
    bar.start(3, 0)
    bar.advance(Outcome.UPLOADED, 1.0)
    shown = len(stream.getvalue())
    bar.close(cut_short=cut_short)
    after = stream.getvalue()[shown:]
    assert ("1/3" in after) is not cut_short, repr(after)


def test_format_wait() -> None:
    assert [format_wait(s) for s in (0.2, 7, 92, 3725)] == ["0:01", "0:07", "1:32", "1:02:05"]


@pytest.mark.parametrize(("flag", "shown"), [("-v", True), ("-q", False), (None, False)])
def test_a_wait_is_one_line_at_v_and_nothing_otherwise(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    shown: bool,
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url, upsert=(2, 0.6))
    export_path = write(tmp_path / "l.xml", many(3))
    arguments = ["sync", "--config", str(config), str(export_path), *([flag] if flag else [])]
    assert main(arguments) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if WAIT_FOR_WINDOW in line]
    assert len(lines) == (1 if shown else 0)
    if shown:
        assert lines[0] in (f"{WAIT_FOR_WINDOW} 0:01", f"{WAIT_FOR_WINDOW} 0:00")


class RecordingProgress:
    def __init__(self) -> None:
        self.told: list[str] = []

    def start(self, total: int, unchanged: int) -> None:
        self.told.append(f"start {total}")

    def advance(self, outcome: Outcome, eta_seconds: float) -> None:
        self.told.append(outcome.value)

    def waiting(self, seconds_left: float, reason: str) -> None:
        if not self.told[-1].startswith("wait"):
            self.told.append(f"wait {format_wait(seconds_left)}")

    def close(self, *, cut_short: bool = False) -> None:
        self.told.append("close, cut short" if cut_short else "close")


def test_a_run_tells_its_progress_of_the_wait_between_batches(tmp_path: Path) -> None:
    clock = Clock()
    session = session_with(clock, OK, OK, OK)
    progress = RecordingProgress()
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run([])
        execute([send(1), send(2), send(3)], session, checkpoint, run, progress)
    assert progress.told == ["start 3", "uploaded", "uploaded", "wait 2:01", "uploaded", "close"]
    assert session.countdown.listener is None  # the session is left as it was
