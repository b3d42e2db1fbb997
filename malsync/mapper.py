"""Pure mapping from a MAL list entry to the body of aniSearch's `PUT /my/{media}/{id}/ratings`."""

from __future__ import annotations

from dataclasses import dataclass

from malsync.config import MappingOptions, PartialDates
from malsync.records import ListEntry, MalDate, MediaType, Payload

# The guide's PUT table says `is_rereading` while its GET example says `is_reread`; this is the
# one place that decides what we send, should aniSearch settle on the other spelling.
REREADING_FIELD = "is_rereading"


@dataclass(frozen=True, slots=True)
class MediaFields:
    """The names of the fields that differ between anime and manga."""

    progress: str
    repeating: str
    times_repeated: str
    repeat_desire: str
    volumes: str | None = None


MEDIA_FIELDS = {
    MediaType.ANIME: MediaFields(
        progress="episodes_watched",
        repeating="is_rewatching",
        times_repeated="times_rewatched",
        repeat_desire="rewatch_desire",
    ),
    MediaType.MANGA: MediaFields(
        progress="chapters_read",
        repeating=REREADING_FIELD,
        times_repeated="times_reread",
        repeat_desire="reread_desire",
        volumes="volumes_read",
    ),
}


@dataclass(frozen=True, slots=True)
class Mapped:
    payload: Payload
    warnings: tuple[str, ...]
    anisearch_id: int | None = None  # set when the config maps this title by hand


def map_entry(entry: ListEntry, options: MappingOptions) -> Mapped:
    """Build the exact request body; importer warnings are kept and mapping warnings added."""
    fields = MEDIA_FIELDS[entry.media]
    warnings: list[str] = []
    anisearch_id = options.anisearch_ids.get(entry.media, {}).get(entry.mal_id)
    payload: Payload = {
        "status": options.status[entry.status],
        "use_myanimelist_id": anisearch_id is None,
        "is_visible": options.is_visible,
    }
    if entry.score is not None:
        # aniSearch counts half-stars 0-10 with a tenth inside: MAL's N of 10 is exactly N.0.
        payload["public_rating"] = entry.score
        payload["public_fraction"] = 0
        if options.personal_rating:
            payload["personal_rating"] = entry.score * 10
    if entry.progress is not None:
        payload[fields.progress] = entry.progress
    if fields.volumes is not None and entry.volumes is not None:
        payload[fields.volumes] = entry.volumes
    if entry.start is not None:
        start = _date_value("my_start_date", entry.start, options, warnings)
        if start is not None:
            payload["start_date"] = start
    if entry.finish is not None:
        end = _date_value("my_finish_date", entry.finish, options, warnings)
        if end is not None:
            payload["end_date"] = end
    if entry.repeating is not None:
        payload[fields.repeating] = entry.repeating
    if entry.times_repeated is not None:
        payload[fields.times_repeated] = entry.times_repeated
    if entry.repeat_value is not None:
        payload[fields.repeat_desire] = entry.repeat_value
    if entry.priority is not None:
        payload["priority"] = entry.priority
    # Unknown comments send no notes at all, so tags alone never overwrite aniSearch's notes.
    known = entry.comments is not None
    notes = _notes(entry, options) if known and (entry.comments or options.tags_in_notes) else ""
    if notes:
        payload["notes"] = notes
    if options.touch:
        payload["touch"] = True
    return Mapped(
        payload, entry.warnings + tuple(warnings) if warnings else entry.warnings, anisearch_id
    )


def _date_value(
    label: str, date: MalDate, options: MappingOptions, warnings: list[str]
) -> str | None:
    if date.is_full:
        return date.iso()
    if options.partial_dates is PartialDates.FIRST_DAY:
        rounded = date.first_day().isoformat()
        warnings.append(f"{label} {date} is partial; sent as {rounded}")
        return rounded
    warnings.append(f'{label} {date} is partial; omitted (partial_dates = "first_day" sends it)')
    return None


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
    names = [own.progress, own.repeating, own.times_repeated, own.repeat_desire, own.volumes]
    return frozenset(_COMMON_PUT_FIELDS) | {name for name in names if name}
