"""Read what aniSearch holds, through the same throttled, retried path as every request."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from malsync.client import Answer
from malsync.errors import ServerStop
from malsync.planner import RemoteRating, RemoteState, remote_rating
from malsync.records import MediaType
from malsync.uploader import READ, ApiCaller, RequestFailed, describe

RawRatings = dict[str, list[dict[str, Any]]]


def fetch_remote(caller: ApiCaller, media: Iterable[MediaType]) -> tuple[RemoteState, RawRatings]:
    """One GET per media type; raises ServerStop when aniSearch cannot be read."""
    ratings: dict[MediaType, list[RemoteRating]] = {}
    raw: RawRatings = {}
    for kind in sorted(set(media), key=lambda each: each.value):
        label = f"reading your {kind.value} ratings on aniSearch"
        try:
            answered = caller.call(READ, partial(caller.client.get_ratings, kind), label)
        except RequestFailed as failure:
            raise ServerStop(f"{label} failed: {failure}; nothing was sent") from None
        caller.finish(answered)
        body = answered.response.body
        if answered.response.answer is not Answer.OK or not isinstance(body, list):
            problem = (
                describe(answered.response)
                if answered.response.answer is not Answer.OK
                else "the answer is not a list"
            )
            raise ServerStop(f"{label} failed ({problem}); nothing was sent")
        raw[kind.value] = [item for item in body if isinstance(item, dict)]
        ratings[kind] = [
            rating for rating in map(remote_rating, raw[kind.value]) if rating is not None
        ]
    return RemoteState.build(ratings), raw
