"""The three-way merge of one title, purely: MAL's changes since the base win, field by field;
what was changed only on aniSearch stays.

The base is MAL's body as it was when aniSearch last accepted it for this title (the checkpoint
keeps it). A field MAL changed since then is sent; a field MAL left alone is left out of the PUT,
which leaves aniSearch's value as it is, whatever the user made of it. A field changed on both
sides gets MAL's value (malsync moves MAL to aniSearch) and is named as a conflict. Without a base
there is nothing to tell a change from an old value, so MAL's whole body is sent (`mal-wins`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from malsync.pipeline.records import Payload

# Request-only fields: not stored, so never compared; sent with every body as MAL's plan has them.
CONTROL_FIELDS = frozenset({"use_myanimelist_id", "touch"})
# PUT refuses a body without it (the guide: "The field status is required").
REQUIRED_FIELD = "status"


def same_value(old: object, new: object) -> bool:
    """Whether two values of a field are the same rating: text up to line ends and edge spaces
    (aniSearch may store either), booleans only as booleans (GET's 0 is not `false`)."""
    if isinstance(old, str) and isinstance(new, str):
        return old.replace("\r\n", "\n").strip() == new.replace("\r\n", "\n").strip()
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return old == new


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field changed on MAL and on aniSearch since the base, to different values."""

    field: str
    base: object
    mal: object
    anisearch: object


@dataclass(frozen=True, slots=True)
class Merged:
    """What the merge makes of one title.

    `body` is the PUT to send, or None when nothing is to be sent; `kept` the fields where
    aniSearch's value differs from MAL's and stays (MAL left them alone); `deleted_kept` says
    that the title is gone from aniSearch and stays gone (MAL has not changed it since).
    """

    body: Payload | None
    kept: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    deleted_kept: bool = False


def changed_on_mal(base: Mapping[str, object], mal: Payload) -> tuple[str, ...]:
    """The stored fields whose value in MAL's body is not the base's."""
    return tuple(
        name
        for name, value in mal.items()
        if name not in CONTROL_FIELDS and not same_value(base.get(name), value)
    )


def merge(
    base: Mapping[str, object] | None,
    mal: Payload,
    held: Mapping[str, object] | None,
) -> Merged:
    """The body to send for a title, given its base, MAL's whole body and what aniSearch holds
    (None: aniSearch has no rating for it).

    A field MAL's body does not carry is never sent: a PUT cannot empty a field, so it stays
    as aniSearch has it, under every policy.
    """
    if base is None:
        return Merged(dict(mal))
    changed = changed_on_mal(base, mal)
    if held is None:
        # Deleted on aniSearch since: made again, whole, only if MAL has something new for it.
        return Merged(dict(mal)) if changed else Merged(None, deleted_kept=True)
    body: Payload = {name: value for name, value in mal.items() if name in CONTROL_FIELDS}
    conflicts = []
    for name in changed:
        body[name] = mal[name]
        there = held.get(name)
        if not same_value(there, base.get(name)) and not same_value(there, mal[name]):
            conflicts.append(Conflict(name, base.get(name), mal[name], there))
    status = held.get(REQUIRED_FIELD)
    if REQUIRED_FIELD not in body and isinstance(status, str):
        body[REQUIRED_FIELD] = status  # as aniSearch holds it: the PUT leaves it unchanged
    elif REQUIRED_FIELD not in body and REQUIRED_FIELD in mal:
        body[REQUIRED_FIELD] = mal[REQUIRED_FIELD]
    kept = tuple(
        name
        for name, value in mal.items()
        if name not in CONTROL_FIELDS
        and name not in changed
        and not same_value(held.get(name), value)
    )
    return Merged(body, kept, tuple(conflicts))
