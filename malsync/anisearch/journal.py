"""What a write to aniSearch is for, and the journal that tells the checkpoint of each request.

A request is noted before it is sent, with the change it would make, so that a run killed before
the answer arrives cannot hide that change from restore; its answer is stored together with what
it settles, in one transaction, so that a run killed at any moment loses at most the request in
flight. The session does this for every request; a caller only says, in a `Write`, what the
request settles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.anisearch.ratelimit import RateWindow
from malsync.pipeline.records import MediaType, Payload, Settlement

# What an answer must mean to end a request: the entry's fate is known (accepted, unknown,
# refused as sent).
ENDING_MEANINGS = frozenset(
    {ResponseMeaning.OK, ResponseMeaning.NOT_FOUND, ResponseMeaning.REJECTED}
)


@dataclass(frozen=True)
class Write:
    """One PUT or DELETE: how messages name it, and the entry's fate an answer settles.

    `settles` is stored with an answer in `settled_by` (some of the ending answers), in the
    transaction that records the answer; its change is noted before each attempt is sent.
    """

    label: str
    settles: Settlement | None = None
    settled_by: frozenset[ResponseMeaning] = frozenset({ResponseMeaning.OK})

    def settlement(self, response: ApiResponse) -> Settlement | None:
        return self.settles if response.meaning in self.settled_by else None


class RatingWriter(Protocol):
    """What writes ratings on aniSearch (the session; a scripted one in tests)."""

    def put_rating(
        self, media: MediaType, item_id: int, payload: Payload, write: Write
    ) -> ApiResponse: ...

    def delete_rating(self, media: MediaType, anisearch_id: int, write: Write) -> ApiResponse: ...


class CheckpointRequests(Protocol):
    """The part of the checkpoint that remembers requests: their times for the rate window, and
    what they settled."""

    def request_started(self, kind: str, at: float, intended: Settlement | None = None) -> int: ...

    def request_finished(
        self, request_id: int, at: float, settled: Settlement | None = None
    ) -> None: ...


@dataclass(frozen=True)
class Sent:
    """A request the journal noted, waiting for its answer."""

    request_id: int
    write: Write | None


@dataclass(frozen=True)
class RequestJournal:
    """Tells the checkpoint of each request as it is sent and as it is answered; without one (a
    dry run that has no checkpoint yet, or one it cannot write) it tells no one."""

    checkpoint: CheckpointRequests | None = None

    def started(self, window: RateWindow, at: float, write: Write | None) -> Sent | None:
        if self.checkpoint is None:
            return None
        intended = write.settles if write is not None else None
        return Sent(self.checkpoint.request_started(window.value, at, intended), write)

    def answered(self, sent: Sent | None, response: ApiResponse, at: float) -> None:
        if self.checkpoint is None or sent is None:
            return
        settled = sent.write.settlement(response) if sent.write is not None else None
        self.checkpoint.request_finished(sent.request_id, at, settled)
