"""The report built from decisions and results, and the summary a person reads."""

from __future__ import annotations

from malsync.errors import ExitStatus
from malsync.pipeline.planner import Decision, Verdict
from malsync.pipeline.records import MediaType, Outcome
from malsync.report.run_report import Report, RunInfo, summary_lines
from tests.conftest import settled


def decision(mal_id: int, verdict: Verdict, status: str = "completed", **kw: object) -> Decision:
    media = kw.pop("media", MediaType.ANIME)
    assert isinstance(media, MediaType)
    reason = kw.pop("reason", None)
    assert reason is None or isinstance(reason, str)
    return Decision(media, mal_id, f"T{mal_id}", "a.xml", verdict, {"status": status}, (), reason)


def test_a_dry_run_plans_what_a_real_run_did_not_send() -> None:
    decisions = [decision(1, Verdict.SEND), decision(2, Verdict.UNCHANGED)]
    dry = Report.build(decisions, {}, RunInfo(("a.xml",), dry_run=True))
    real = Report.build(decisions, {}, RunInfo(("a.xml",), dry_run=False))
    assert [e.outcome for e in dry.entries] == [Outcome.PLANNED, Outcome.UNCHANGED]
    assert [e.outcome for e in real.entries] == [Outcome.NOT_SENT, Outcome.UNCHANGED]


def test_summary_counts_media_statuses_outcomes_and_problems() -> None:
    decisions = [
        decision(1, Verdict.SEND),
        decision(2, Verdict.SEND, "bookmark"),
        decision(3, Verdict.INVALID, reason="has no status"),
        decision(4, Verdict.SEND, media=MediaType.MANGA),
        Decision(MediaType.ANIME, 9, "Gone", "checkpoint", Verdict.DELETE, None, ()),
    ]
    results = {
        0: settled(decisions[0], Outcome.UPLOADED),
        1: settled(
            decisions[1], Outcome.NOT_FOUND, "aniSearch does not know MAL id 2 (HTTP 404: no)"
        ),
        3: settled(decisions[3], Outcome.UPLOADED),
        4: settled(decisions[4], Outcome.DELETED),
    }
    report = Report.build(decisions, results, RunInfo(("a.xml", "m.xml"), dry_run=False))
    summary = report.summary()
    assert summary["outcomes"] == {"deleted": 1, "invalid": 1, "not_found": 1, "uploaded": 2}
    assert summary["media"] == {
        "anime": {"total": 3, "status": {"bookmark": 1, "completed": 2}, "mal_status": {}},
        "manga": {"total": 1, "status": {"completed": 1}, "mal_status": {}},
    }
    assert summary["deletions"] == 1
    assert report.exit_status is ExitStatus.SOME_FAILED
    lines = summary_lines(report)
    assert lines[:3] == [
        "anime: 3 entries (bookmark 1, completed 2)",
        "manga: 1 entry (completed 1)",
        "Outcome: deleted 1, invalid 1, not_found 1, uploaded 2",
    ]
    assert "2 entries were not synced:" in lines
    assert (
        "  not_found: anime 2 'T2': aniSearch does not know MAL id 2 (HTTP 404: no) "
        "https://myanimelist.net/anime/2" in lines
    )


def test_a_stop_decides_the_exit_status() -> None:
    run = RunInfo((), dry_run=False, stopped="403", stop_status=ExitStatus.SERVER_STOPPED)
    report = Report.build([decision(1, Verdict.SEND)], {}, run)
    assert report.exit_status is ExitStatus.SERVER_STOPPED
    assert summary_lines(report)[-1] == "Stopped: 403"
    assert Report.build([], {}, RunInfo((), dry_run=True)).exit_status is ExitStatus.OK


def test_one_problem_reads_as_one() -> None:
    sent = [decision(1, Verdict.SEND)]
    results = {0: settled(sent[0], Outcome.FAILED, "HTTP 400: bad")}
    report = Report.build(sent, results, RunInfo((), dry_run=False))
    assert "1 entry was not synced:" in summary_lines(report)
