"""The sending policy on its own, against a scripted session and the real checkpoint."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.anisearch.journal import Write
from malsync.anisearch.session import RequestFailed
from malsync.errors import ExitStatus, ServerStop
from malsync.net.pacing import Countdown
from malsync.pipeline.planner import Decision, Verdict, payload_hash
from malsync.pipeline.records import MediaType, Outcome, Payload, Settlement
from malsync.pipeline.uploader import execute
from malsync.store.checkpoint import Checkpoint

OK = ApiResponse(ResponseMeaning.OK, 200, "")
NOT_FOUND = ApiResponse(ResponseMeaning.NOT_FOUND, 404, "unknown id")
REJECTED = ApiResponse(ResponseMeaning.REJECTED, 400, "bad priority")


class ScriptedSession:
    """Answers each request with the next scripted answer (or raises it) and records the call."""

    def __init__(self, *answers: ApiResponse | BaseException) -> None:
        self.answers: deque[ApiResponse | BaseException] = deque(answers)
        self.calls: list[tuple[str, int]] = []
        self.settled: list[Settlement | None] = []
        self.countdown = Countdown()  # execute() points its listener at the progress bar

    def _answer(self, write: Write) -> ApiResponse:
        answer = self.answers.popleft()
        if isinstance(answer, BaseException):
            raise answer
        self.settled.append(write.settlement(answer))
        return answer

    def put_rating(
        self, media: MediaType, item_id: int, payload: Payload, write: Write
    ) -> ApiResponse:
        self.calls.append(("PUT", item_id))
        return self._answer(write)

    def delete_rating(self, media: MediaType, anisearch_id: int, write: Write) -> ApiResponse:
        self.calls.append(("DELETE", anisearch_id))
        return self._answer(write)

    def eta(self, puts: int, others: int) -> float:
        return float(puts + others)


def send(mal_id: int, **changes: Any) -> Decision:
    body: Payload = {"status": "completed", "use_myanimelist_id": True}
    decision = Decision(MediaType.ANIME, mal_id, f"T{mal_id}", "a.xml", Verdict.SEND, body, ())
    for name, value in changes.items():
        decision = decision.__class__(**{**_fields(decision), name: value})
    return decision


def _fields(decision: Decision) -> dict[str, Any]:
    return {name: getattr(decision, name) for name in decision.__slots__}


def test_each_request_gets_its_result_and_the_checkpoint_hears_of_it(tmp_path: Path) -> None:
    decisions = [
        send(1),
        send(2).becomes(Verdict.UNCHANGED),
        send(3),
        send(4),
        send(5, verdict=Verdict.DELETE, payload=None, anisearch_id=77),
    ]
    session = ScriptedSession(OK, NOT_FOUND, REJECTED, OK)
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run([])
        execution = execute(decisions, session, checkpoint, run)
        outcomes = checkpoint.outcome_counts()
    assert session.calls == [("PUT", 1), ("PUT", 3), ("PUT", 4), ("DELETE", 77)]
    assert {i: r.outcome for i, r in execution.results.items()} == {
        0: Outcome.UPLOADED,
        2: Outcome.NOT_FOUND,
        3: Outcome.FAILED,
        4: Outcome.DELETED,
    }
    assert execution.results[3].error == "HTTP 400: bad priority"
    assert execution.stopped is None
    # Only an accepted PUT and a done DELETE settle with their request (one transaction).
    assert [s.outcome if s else None for s in session.settled] == [
        Outcome.UPLOADED,
        None,
        None,
        Outcome.DELETED,
    ]
    # Those two reach the checkpoint through the session, with their request; the rest directly.
    assert outcomes == {"failed": 1, "not_found": 1, "unchanged": 1}


def test_a_stop_leaves_the_rest_not_sent(tmp_path: Path) -> None:
    session = ScriptedSession(OK, ServerStop("aniSearch answered HTTP 403"))
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        execution = execute([send(1), send(2), send(3)], session, checkpoint, 1)
    assert [execution.results[i].outcome for i in range(3)] == [
        Outcome.UPLOADED,
        Outcome.NOT_SENT,
        Outcome.NOT_SENT,
    ]
    assert execution.stop_status is ExitStatus.SERVER_STOPPED
    assert execution.stopped == "aniSearch answered HTTP 403"


def test_a_request_that_keeps_failing_fails_only_its_entry(tmp_path: Path) -> None:
    gave_up = RequestFailed(ApiResponse(ResponseMeaning.TRANSIENT, 503, "down"), 4)
    session = ScriptedSession(gave_up, OK)
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        execution = execute([send(1), send(2)], session, checkpoint, 1)
        failed = checkpoint.entries(("failed",))
    assert [execution.results[i].outcome for i in range(2)] == [Outcome.FAILED, Outcome.UPLOADED]
    assert failed[0].error == "HTTP 503: down (gave up after 4 tries)"


def test_ctrl_c_is_a_stop_too(tmp_path: Path) -> None:
    session = ScriptedSession(KeyboardInterrupt())
    from tests.test_waits import RecordingProgress  # it imports this module

    progress = RecordingProgress()
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        execution = execute([send(1)], session, checkpoint, 1, progress)
    assert progress.told[-1] == "close, cut short"  # the bar is not drawn under the ^C again
    assert execution.stop_status is ExitStatus.INTERRUPTED
    assert execution.results[0].outcome is Outcome.NOT_SENT


def test_the_checkpoint_keeps_mals_whole_body_where_the_put_sent_part_of_it(
    tmp_path: Path,
) -> None:
    whole: Payload = {"status": "completed", "episodes_watched": 10, "use_myanimelist_id": True}
    trimmed = send(1, mal_body=whole)  # the PUT carries only status: the rest is left alone
    already = send(2, mal_body=whole).becomes(Verdict.UNCHANGED)
    session = ScriptedSession(OK)
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        execute([trimmed, already], session, checkpoint, checkpoint.start_run([]))
        checkpoint.settle(session.settled[0])  # what the session's journal does with it
        bases = checkpoint.accepted_bodies()
        hashes = checkpoint.accepted_hashes()
    assert bases == {(MediaType.ANIME, 1): whole, (MediaType.ANIME, 2): whole}
    assert hashes[(MediaType.ANIME, 1)] == hashes[(MediaType.ANIME, 2)] == payload_hash(whole)
