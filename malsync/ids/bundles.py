"""One request body per aniSearch title, from the bodies the mapper made for MAL entries.

aniSearch's titles and MAL's entries are not one-to-one. Sending each MAL entry on its own would
let two members of a bundle overwrite each other's rating, and leave parts unrated; instead every
aniSearch title gets one body, the same every run for the same list:

- **A bundle** (several MAL entries, one aniSearch title) gets the members' bodies merged
  (`merge_bundle`):
  - status: when all members agree, that status; otherwise `ongoing` if any member is ongoing
    (watching, reading), else `on_hold` if any is on hold, else `dropped` if any is dropped,
    else (completed mixed with bookmark, plan-to-watch) `ongoing`. These are aniSearch's
    statuses as `[mapping.status]` made them.
  - episodes, chapters and volumes: the sum of the members that state them (at most the
    mapper's most, 65,535);
  - score: the mean of the scored members, rounded half up (7 and 8 give 8); none scored, no
    score. The personal rating, where sent, follows the merged score (score x 10);
  - start date the earliest; end date the latest, and only when the merged status is
    completed (an unfinished bundle has no end);
  - rewatching (rereading) if any member is; times rewatched the least; rewatch desire and
    priority the highest; visible only if every member is;
  - notes joined, each member's under its MAL title (a line "Title:" above them), in MAL id
    order.
  A bundle of one member is exactly that member's body.
- **Parts** (one MAL entry, several aniSearch titles): every part gets the entry's status,
  score, dates, notes, priority and rewatch fields. The progress counts (episodes, chapters,
  volumes) cover all parts together and cannot be divided without knowing each part's length,
  so they go to the first part only (the lowest aniSearch id); the other parts get none, and
  aniSearch keeps what it holds there.
- Without links for a media type, each entry is sent by its MAL id, as before the links; an
  unlinked entry is sent nowhere (`pipeline.title_ids`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from malsync.ids.title_ids import (
    HandMappings,
    IdSource,
    LinkTables,
    TitleIds,
    resolve_title_ids,
)
from malsync.pipeline.mapper import COUNT_MAX, MEDIA_FIELDS
from malsync.pipeline.records import EntryKey, MediaType, Payload

BY_MAL_ID_FIELD = "use_myanimelist_id"
# A disagreement among these is settled by the first found here; any other mix is `ongoing`.
_STATUS_PRECEDENCE = ("ongoing", "on_hold", "dropped")
_MIXED_STATUS = "ongoing"
_COMPLETED = "completed"
# Where a request goes: media, aniSearch id (or MAL id), and whether it is a MAL id.
_Target = tuple[MediaType, int, bool]


@dataclass(frozen=True, slots=True)
class Member:
    """A MAL entry as the mapper made it: the body it would be sent with on its own."""

    media: MediaType
    mal_id: int
    title: str
    payload: Payload

    @property
    def key(self) -> EntryKey:
        return (self.media, self.mal_id)


@dataclass(frozen=True, slots=True)
class TitleRequest:
    """One PUT: to aniSearch title `target`, or by MAL id `target` when `by_mal_id`."""

    media: MediaType
    target: int
    by_mal_id: bool
    payload: Payload
    members: tuple[Member, ...]  # the MAL entries that went into it, by MAL id

    @property
    def anisearch_id(self) -> int | None:
        return None if self.by_mal_id else self.target

    @property
    def is_bundle(self) -> bool:
        return len(self.members) > 1


@dataclass(frozen=True)
class TitlePlan:
    """Every request a list makes, every entry's ids and why, and the entries sent nowhere."""

    requests: tuple[TitleRequest, ...]  # in the order their first member was listed
    ids: Mapping[EntryKey, TitleIds]
    unmatched: tuple[Member, ...]

    def went_into(self, key: EntryKey) -> tuple[TitleRequest, ...]:
        """The requests an entry went into (several for parts; none when unmatched)."""
        return tuple(
            request for request in self.requests if any(m.key == key for m in request.members)
        )


def plan_titles(members: Iterable[Member], hand: HandMappings, links: LinkTables) -> TitlePlan:
    """One request per aniSearch title (bundles merged, parts given their share), one per entry
    sent by MAL id, and the unlinked entries. An entry listed twice counts once, as its last."""
    latest: dict[EntryKey, Member] = {}
    for member in members:
        key = (member.media, member.mal_id)
        latest.pop(key, None)  # the last appearance decides the order too
        latest[key] = member
    ids = resolve_title_ids(latest, hand, links)
    groups: dict[_Target, list[tuple[Member, Payload]]] = {}  # each member, and its share
    unmatched: list[Member] = []
    for key, member in latest.items():
        found = ids[key]
        if found.source is IdSource.UNLINKED:
            unmatched.append(member)
        elif found.source is IdSource.MAL_ID:
            groups[(member.media, member.mal_id, True)] = [(member, member.payload)]
        else:
            first = found.anisearch_ids[0]
            for anisearch_id in found.anisearch_ids:
                share = part_payload(member.media, member.payload, anisearch_id == first)
                groups.setdefault((member.media, anisearch_id, False), []).append((member, share))
    requests = tuple(_request(target, group) for target, group in groups.items())
    return TitlePlan(requests, ids, tuple(unmatched))


def _request(target: _Target, group: list[tuple[Member, Payload]]) -> TitleRequest:
    media, item_id, by_mal_id = target
    if len(group) == 1:
        member, share = group[0]
        payload = dict(share)
        members: tuple[Member, ...] = (member,)
    else:
        payload = merge_bundle(media, [Member(m.media, m.mal_id, m.title, p) for m, p in group])
        members = tuple(sorted((member for member, _ in group), key=lambda m: m.mal_id))
    payload[BY_MAL_ID_FIELD] = by_mal_id
    return TitleRequest(media, item_id, by_mal_id, payload, members)


def part_payload(media: MediaType, payload: Payload, first: bool) -> Payload:
    """An entry's body for one of its parts: all of it for the first, no progress counts else."""
    if first:
        return payload
    names = MEDIA_FIELDS[media]
    counts = {names.progress, names.volumes}
    return {name: value for name, value in payload.items() if name not in counts}


def merged_status(statuses: Iterable[str]) -> str | None:
    """The bundle's status from its members' (aniSearch's names); None if none says one."""
    distinct = set(statuses)
    if len(distinct) <= 1:
        return distinct.pop() if distinct else None
    return next((each for each in _STATUS_PRECEDENCE if each in distinct), _MIXED_STATUS)


def merge_bundle(media: MediaType, members: Sequence[Member]) -> Payload:
    """The one body for a title several MAL entries are (the rules are the module's docstring).

    The members' order does not matter; one member gives exactly its own body.
    """
    if len(members) == 1:
        return dict(members[0].payload)
    ordered = sorted(members, key=_order)
    bodies = [member.payload for member in ordered]
    names = MEDIA_FIELDS[media]
    merged = _unruled(bodies)
    status = merged_status(_texts(bodies, "status"))
    _put(merged, "status", status)
    for count in (names.progress, names.volumes):
        _put(merged, count, _total(_ints(bodies, count or "")))
    merged.update(_score(bodies))
    _put(merged, "start_date", min(_texts(bodies, "start_date"), default=None))
    if status == _COMPLETED:
        _put(merged, "end_date", max(_texts(bodies, "end_date"), default=None))
    repeating = [body[names.repeating] for body in bodies if names.repeating in body]
    if repeating:
        merged[names.repeating] = any(value is True for value in repeating)
    _put(merged, names.times_repeated, min(_ints(bodies, names.times_repeated), default=None))
    _put(merged, names.repeat_value, max(_ints(bodies, names.repeat_value), default=None))
    _put(merged, "priority", max(_ints(bodies, "priority"), default=None))
    _put(merged, "notes", _notes(ordered))
    visible = [body["is_visible"] for body in bodies if "is_visible" in body]
    if visible:
        merged["is_visible"] = all(value is True for value in visible)
    if any(body.get("touch") is True for body in bodies):
        merged["touch"] = True
    by_mal_id = [body[BY_MAL_ID_FIELD] for body in bodies if BY_MAL_ID_FIELD in body]
    if by_mal_id:  # a bundle is known by its aniSearch id: `plan_titles` sets it so
        merged[BY_MAL_ID_FIELD] = all(value is True for value in by_mal_id)
    return merged


def _order(member: Member) -> tuple[int, str, str]:
    """A total order on members, so that merging never depends on the order they came in."""
    return (member.mal_id, member.title, json.dumps(member.payload, sort_keys=True))


# The fields merged by a rule of their own; any other field is the first member's that has it.
_RULED = frozenset(
    {"status", "public_rating", "public_fraction", "personal_rating", "start_date", "end_date"}
    | {"priority", "notes", "is_visible", "touch", BY_MAL_ID_FIELD}
    | {
        name
        for names in MEDIA_FIELDS.values()
        for name in (
            names.progress,
            names.volumes,
            names.repeating,
            names.times_repeated,
            names.repeat_value,
        )
        if name
    }
)


def _unruled(bodies: Sequence[Payload]) -> Payload:
    found: Payload = {}
    for body in bodies:
        for name, value in body.items():
            if name not in _RULED and name not in found:
                found[name] = value
    return found


def _put(payload: Payload, name: str | None, value: str | int | None) -> None:
    if name and value is not None:
        payload[name] = value


def _ints(bodies: Sequence[Payload], name: str | None) -> list[int]:
    return [
        value
        for body in bodies
        if isinstance(value := body.get(name or ""), int) and not isinstance(value, bool)
    ]


def _texts(bodies: Sequence[Payload], name: str) -> list[str]:
    """Text values; dates as the mapper sends them (YYYY-MM-DD) sort as they fall."""
    return [value for body in bodies if isinstance(value := body.get(name), str)]


def _total(counts: list[int]) -> int | None:
    return min(sum(counts), COUNT_MAX) if counts else None


def _score(bodies: Sequence[Payload]) -> Payload:
    """The mean of the scored members in tenths (rating.fraction), rounded half up to a whole
    score; the personal rating follows it where any member sends one."""
    tenths = [
        rating * 10 + fraction
        for body in bodies
        if isinstance(rating := body.get("public_rating"), int)
        and isinstance(fraction := body.get("public_fraction", 0), int)
    ]
    if not tenths:
        return {}
    # floor(mean + 1/2) in whole numbers: half up, and no float to round wrong.
    score = (2 * sum(tenths) + 10 * len(tenths)) // (20 * len(tenths))
    merged: Payload = {"public_rating": score, "public_fraction": 0}
    if any("personal_rating" in body for body in bodies):
        merged["personal_rating"] = score * 10
    return merged


def _notes(ordered: Sequence[Member]) -> str | None:
    parts = [
        f"{member.title or f'MAL id {member.mal_id}'}:\n{notes}"
        for member in ordered
        if isinstance(notes := member.payload.get("notes"), str) and notes
    ]
    return "\n\n".join(parts) if parts else None
