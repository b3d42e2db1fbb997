"""Pure mapping from a MAL list entry to the body of aniSearch's `PUT /my/{media}/{id}/ratings`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeGuard

from malsync.config.settings import MappingOptions, PartialDates
from malsync.pipeline.records import (
    ID_MAX,
    EntryWarning,
    ListEntry,
    MalDate,
    MediaNames,
    MediaType,
    Payload,
    WarningKind,
)

# The guide's PUT table says `is_rereading` while its GET example says `is_reread`; this is the
# one place that decides what we send, should aniSearch settle on the other spelling.
REREADING_FIELD = "is_rereading"

# The guide documents no maximum for counts (episodes, chapters, volumes, times rewatched), yet a
# typo or damaged value (999999 episodes) must not be sent and refused. 65,535, the largest 16-bit
# unsigned number, is over ten times the longest series on MAL (a few thousand episodes or
# chapters) and any real number of rewatches, so it only ever cuts values that cannot be real.
COUNT_MAX = 65_535
_COUNT = WarningKind.COUNT
# The guide's ranges: rewatch/reread desire 0-5, priority 0-3. Scores (1-10) are checked apart.
DESIRE_MAX = 5
PRIORITY_MAX = 3
_SHOWN_LIMIT = 10**30


# aniSearch's names, as PUT takes them.
MEDIA_FIELDS = {
    MediaType.ANIME: MediaNames(
        "episodes_watched", "is_rewatching", "times_rewatched", "rewatch_desire"
    ),
    MediaType.MANGA: MediaNames(
        "chapters_read", REREADING_FIELD, "times_reread", "reread_desire", "volumes_read"
    ),
}


@dataclass(frozen=True, slots=True)
class Mapped:
    payload: Payload
    warnings: tuple[str, ...]


def map_entry(entry: ListEntry, options: MappingOptions, anisearch_id: int | None = None) -> Mapped:
    """Build the exact request body; importer warnings are kept and mapping warnings added.

    `anisearch_id` is the title's id at aniSearch where an id lookup found one: the body then
    names the title by it (the URL carries it) instead of by the MAL id.
    """
    fields = MEDIA_FIELDS[entry.media]
    warnings: list[str] = []
    payload: Payload = {
        "status": options.status[entry.status],
        "use_myanimelist_id": anisearch_id is None,
        "is_visible": options.is_visible,
    }
    _add_score(entry.score, options, payload, warnings)
    _add(payload, fields.progress, _count(fields.progress, entry.progress, warnings))
    if fields.volumes is not None:
        _add(payload, fields.volumes, _count(fields.volumes, entry.volumes, warnings))
    if entry.start is not None:
        _add(payload, "start_date", _date_value("my_start_date", entry.start, options, warnings))
    if entry.finish is not None:
        _add(payload, "end_date", _date_value("my_finish_date", entry.finish, options, warnings))
    if entry.repeating is not None:
        payload[fields.repeating] = entry.repeating
    times = _count(fields.times_repeated, entry.times_repeated, warnings)
    _add(payload, fields.times_repeated, times)
    desire = _scale(fields.repeat_value, entry.repeat_value, DESIRE_MAX, warnings)
    _add(payload, fields.repeat_value, desire)
    _add(payload, "priority", _scale("priority", entry.priority, PRIORITY_MAX, warnings))
    # Unknown comments send no notes at all, so tags alone never overwrite aniSearch's notes.
    known = entry.comments is not None
    notes = _notes(entry, options) if known and (entry.comments or options.tags_in_notes) else ""
    if notes:
        payload["notes"] = notes
    if options.touch:
        payload["touch"] = True
    return Mapped(payload, entry.warnings + tuple(warnings) if warnings else entry.warnings)


def mal_id_problem(mal_id: int) -> str | None:
    """Why a MAL id cannot be used, or None; every source checks its ids with this."""
    if mal_id < 1:
        return "is not a positive number"
    if mal_id > ID_MAX:
        return "is too large (at most 2**63 - 1)"
    return None


def _add(payload: Payload, name: str, value: str | int | None) -> None:
    if value is not None:
        payload[name] = value


def _add_score(
    score: int | None, options: MappingOptions, payload: Payload, warnings: list[str]
) -> None:
    if score is None or score == 0:  # MAL's 0 is "unscored": no rating, never a rating of 0
        return
    if type(score) is not int or not 1 <= score <= 10:
        text = f"score {_shown(score)} is not a score from 1 to 10; no rating sent"
        warnings.append(EntryWarning(text, WarningKind.OUT_OF_RANGE))
        return
    # aniSearch counts half-stars 0-10 with a tenth inside: MAL's N of 10 is exactly N.0.
    payload["public_rating"] = score
    payload["public_fraction"] = 0
    if options.personal_rating:
        payload["personal_rating"] = score * 10


def _count(name: str, value: object, warnings: list[str]) -> int | None:
    """A count inside 0..COUNT_MAX; one above is clamped; one that is no number, or negative,
    is left out: unknown is not zero, and 0 would wipe the progress aniSearch holds.

    Typed `object`: a second source (JSON) may hand over floats where records promise ints.
    """
    if type(value) is int and 0 <= value <= COUNT_MAX:
        return value
    if value is None:
        return None
    if not _is_number(value):
        warnings.append(EntryWarning(f"{name} {_shown(value)} is not a number; omitted", _COUNT))
        return None
    if value < 0:
        warnings.append(EntryWarning(f"{name} {_shown(value)} is negative; omitted", _COUNT))
        return None
    sent = min(math.floor(value), COUNT_MAX)
    if value > COUNT_MAX:
        why = f"is more than {COUNT_MAX}, the most malsync sends"
    elif sent != value:
        why = "is not a whole number"
    else:
        return sent
    warnings.append(EntryWarning(f"{name} {_shown(value)} {why}; {sent} sent", _COUNT))
    return sent


def _scale(name: str, value: object, high: int, warnings: list[str]) -> int | None:
    """A value on one of the guide's small scales (0..high), or None with a warning."""
    if value is None:
        return None
    if type(value) is int and 0 <= value <= high:
        return value
    text = f"{name} {_shown(value)} is outside 0 to {high}; omitted"
    warnings.append(EntryWarning(text, WarningKind.OUT_OF_RANGE))
    return None


def _is_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _shown(value: object) -> str:
    """A value as a warning shows it; an int too long to print is described instead."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return repr(value)
    if isinstance(value, int) and abs(value) >= _SHOWN_LIMIT:
        return "(a number of more than 30 digits)"
    return str(value)


def _date_value(
    label: str, date: MalDate, options: MappingOptions, warnings: list[str]
) -> str | None:
    if date.is_full:
        return date.iso()
    rounded, warning = _partial_date(label, date, options.partial_dates)
    warnings.append(warning)
    return rounded


@lru_cache(maxsize=1 << 12)
def _partial_date(
    label: str, date: MalDate, partial_dates: PartialDates
) -> tuple[str | None, EntryWarning]:
    """What is sent for a partial date, and the warning that says so (cached: dates repeat)."""
    if partial_dates is PartialDates.FIRST_DAY:
        rounded = date.first_day().isoformat()
        text = f"{label} {date} is partial; sent as {rounded}"
        return rounded, EntryWarning(text, WarningKind.PARTIAL_DATE_ROUNDED)
    text = f'{label} {date} is partial; omitted (partial_dates = "first_day" sends it)'
    return None, EntryWarning(text, WarningKind.PARTIAL_DATE_OMITTED)


def _notes(entry: ListEntry, options: MappingOptions) -> str:
    notes = entry.comments or ""
    if options.tags_in_notes and entry.tags:
        tag_line = "Tags: " + ", ".join(entry.tags)
        notes = f"{notes}\n{tag_line}" if notes else tag_line
    return notes


_COMMON_PUT_FIELDS = (
    "status",
    "is_visible",
    "public_rating",
    "public_fraction",
    "personal_rating",
    "start_date",
    "end_date",
    "notes",
    "priority",
)


def stored_fields(media: MediaType) -> frozenset[str]:
    """The fields of a rating that PUT sets and GET shows, for this media type."""
    own = MEDIA_FIELDS[media]
    names = [own.progress, own.repeating, own.times_repeated, own.repeat_value, own.volumes]
    return frozenset(_COMMON_PUT_FIELDS) | {name for name in names if name}
