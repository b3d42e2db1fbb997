"""One MAL API list item (`{"node": ..., "list_status": ...}`) as the same records an export gives.

A field the API did not return stays None (unknown): the mapper leaves it out of the body, so
aniSearch keeps what it has. A value that is there but unusable is also None, with a warning.
Only a missing or impossible id, or a missing or unknown status, make the entry invalid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from malsync.pipeline import records
from malsync.pipeline.records import (
    ID_MAX,
    EntryWarning,
    InvalidEntry,
    ListEntry,
    ListStatus,
    MalDate,
    MediaType,
    WarningKind,
)
from malsync.sources.text import normalised_text

# Larger counts are no real MAL values; they would overflow aniSearch.
_COUNT_LIMIT = 2**31

_DATE_RE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


# The list_status names, as MAL's API gives them.
API_FIELDS = {
    MediaType.ANIME: records.MediaNames(
        "num_episodes_watched", "is_rewatching", "num_times_rewatched", "rewatch_value"
    ),
    MediaType.MANGA: records.MediaNames(
        "num_chapters_read", "is_rereading", "num_times_reread", "reread_value", "num_volumes_read"
    ),
}


def requested_fields(media: MediaType) -> str:
    """The `fields` query: every list_status field malsync maps, named (MAL omits the rest)."""
    own = API_FIELDS[media]
    names = [
        "status",
        "score",
        own.progress,
        *([own.volumes] if own.volumes else []),
        own.repeating,
        own.times_repeated,
        own.repeat_value,
        "start_date",
        "finish_date",
        "priority",
        "tags",
        "comments",
        "updated_at",
    ]
    return f"list_status{{{','.join(names)}}}"


def entry_from_api(item: Mapping[str, Any], media: MediaType, source: str) -> records.ImportedEntry:
    """The record for one item of `data`; never raises for any JSON value."""
    node = item.get("node") if isinstance(item, Mapping) else None
    if not isinstance(node, Mapping):
        return InvalidEntry(media, None, "", "has no node (no MAL id)", source)
    warnings: list[str] = []
    raw_title = node.get("title")
    title = _plain(raw_title, "title", warnings) if isinstance(raw_title, str) else ""
    raw_id = node.get("id")
    if raw_id is None:
        return InvalidEntry(media, None, title, "has no MAL id", source)
    if not _is_int(raw_id) or not 0 < raw_id <= ID_MAX:
        return InvalidEntry(
            media, None, title, f"MAL id {raw_id!r} is not a positive number", source
        )
    mal_id: int = raw_id
    values = item.get("list_status") if isinstance(item, Mapping) else None
    if not isinstance(values, Mapping):
        return InvalidEntry(media, mal_id, title, "has no list_status", source)
    raw_status = values.get("status")
    status = ListStatus.from_word(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        reason = f"unknown status {raw_status!r}" if raw_status is not None else "has no status"
        return InvalidEntry(media, mal_id, title, reason, source)
    own = API_FIELDS[media]
    return ListEntry(
        media,
        mal_id,
        title,
        status,
        _ranged(values, "score", 0, 10, warnings, zero_is_unset=True),
        _count(values, own.progress, warnings),
        _count(values, own.volumes, warnings) if own.volumes else None,
        _date(values, "start_date", warnings),
        _date(values, "finish_date", warnings),
        _flag(values, own.repeating, warnings),
        _count(values, own.times_repeated, warnings),
        _ranged(values, own.repeat_value, 0, 5, warnings, zero_is_unset=True),
        _priority(values, warnings),
        _comments(values, warnings),
        _tags(values, warnings),
        source,
        tuple(warnings),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reject(warnings: list[str], name: str, value: object, why: str) -> None:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:39] + "\u2026"
    text = f"{name} {shown} {why}; left as it is on aniSearch"
    warnings.append(EntryWarning(text, WarningKind.MAL_API_VALUE))


def _count(values: Mapping[str, Any], name: str, warnings: list[str]) -> int | None:
    value = values.get(name)
    if value is None:  # not returned: unknown
        return None
    if _is_int(value) and 0 <= value < _COUNT_LIMIT:
        return int(value)
    why = "is negative" if _is_int(value) and value < 0 else "is not a count"
    _reject(warnings, name, value, why)
    return None


def _ranged(
    values: Mapping[str, Any],
    name: str,
    low: int,
    high: int,
    warnings: list[str],
    *,
    zero_is_unset: bool,
) -> int | None:
    """A number from low to high; MAL's 0 means "not set" for scores and rewatch values."""
    value = values.get(name)
    if value is None:  # not returned: unknown
        return None
    if not _is_int(value) or not low <= value <= high:
        _reject(warnings, name, value, f"is not a number from {low} to {high}")
        return None
    return None if zero_is_unset and value == 0 else int(value)


def _priority(values: Mapping[str, Any], warnings: list[str]) -> int | None:
    """MAL's 0 low, 1 medium, 2 high become the records' 1 LOW .. 3 HIGH."""
    value = _ranged(values, "priority", 0, 2, warnings, zero_is_unset=False)
    return None if value is None else value + 1


def _flag(values: Mapping[str, Any], name: str, warnings: list[str]) -> bool | None:
    value = values.get(name)
    if value is None:  # not returned: unknown
        return None
    if isinstance(value, bool):
        return value
    _reject(warnings, name, value, "is not true or false")
    return None


def _date(values: Mapping[str, Any], name: str, warnings: list[str]) -> MalDate | None:
    """`2017-10-23`, `2017-10` or `2017`; partial ones as an export's 2017-10-00, 2017-00-00."""
    value = values.get(name)
    if value is None:
        return None
    match = _DATE_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        _reject(warnings, name, value, "is not a date")
        return None
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None
    date = MalDate.checked(year, month, day)
    if isinstance(date, str):
        _reject(warnings, name, value, date)
        return None
    return date


def _tags(values: Mapping[str, Any], warnings: list[str]) -> tuple[str, ...]:
    value = values.get("tags")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        _reject(warnings, "tags", value, "is not a list of words")
        return ()
    cleaned = [normalised_text(tag, markup=True) for tag in value]
    _say_removed(sum(tag.controls_removed for tag in cleaned), "tags", warnings)
    return tuple(tag.text for tag in cleaned if tag.text)


def _comments(values: Mapping[str, Any], warnings: list[str]) -> str | None:
    """The notes as text; absent is unknown (None), never "empty": notes on aniSearch stay."""
    if "comments" not in values:
        return None
    value = values["comments"]
    if isinstance(value, str):
        return _plain(value, "comments", warnings, markup=True)
    if value is not None:
        _reject(warnings, "comments", value, "is not text")
    return None


def _plain(text: str, name: str, warnings: list[str], markup: bool = False) -> str:
    """`text` made plain as an export's is (`malsync.sources.text`), whether MAL's API gave it
    HTML-escaped as MAL stores it or unescaped; a warning says how many controls were removed."""
    plain = normalised_text(text, markup=markup)
    _say_removed(plain.controls_removed, name, warnings)
    return plain.text


def _say_removed(removed: int, name: str, warnings: list[str]) -> None:
    if removed:
        text = f"{name}: {records.counted(removed, 'control character')} removed"
        warnings.append(EntryWarning(text, WarningKind.TEXT_REPAIRED))
