"""Typed records and the shared vocabulary of every stage: sources, mapper, planner, checkpoint."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class MediaType(str, Enum):
    ANIME = "anime"
    MANGA = "manga"


class ListStatus(str, Enum):
    """MAL's list statuses, named once for both media (Watching and Reading are the same state)."""

    IN_PROGRESS = "watching"
    COMPLETED = "completed"
    ON_HOLD = "on_hold"
    DROPPED = "dropped"
    PLAN_TO_WATCH = "plan_to_watch"  # and Plan to Read

    @classmethod
    def from_word(cls, raw: str) -> ListStatus | None:
        """A status as the export or the API writes it; None when it is none of MAL's."""
        status = _STATUS_WORDS.get(raw)
        if status is None:
            status = _STATUS_WORDS.get(re.sub(r"[\s_-]+", "", raw.lower()))
        return status


_STATUS_WORDS: dict[str, ListStatus] = {
    # As MAL's export writes them (looked up first), then normalised (lower case, no spaces,
    # dashes or underscores: the API's on_hold, plan_to_read).
    "Watching": ListStatus.IN_PROGRESS,
    "Reading": ListStatus.IN_PROGRESS,
    "Completed": ListStatus.COMPLETED,
    "On-Hold": ListStatus.ON_HOLD,
    "Dropped": ListStatus.DROPPED,
    "Plan to Watch": ListStatus.PLAN_TO_WATCH,
    "Plan to Read": ListStatus.PLAN_TO_WATCH,
    "watching": ListStatus.IN_PROGRESS,
    "reading": ListStatus.IN_PROGRESS,
    "completed": ListStatus.COMPLETED,
    "onhold": ListStatus.ON_HOLD,
    "dropped": ListStatus.DROPPED,
    "plantowatch": ListStatus.PLAN_TO_WATCH,
    "plantoread": ListStatus.PLAN_TO_WATCH,
    # The retired MAL API's numeric codes; 5 was never used.
    "1": ListStatus.IN_PROGRESS,
    "2": ListStatus.COMPLETED,
    "3": ListStatus.ON_HOLD,
    "4": ListStatus.DROPPED,
    "6": ListStatus.PLAN_TO_WATCH,
}


@dataclass(frozen=True, slots=True)
class MalDate:
    """A MAL date that may lack its day or month (MAL writes `2012-07-00` or `2011-00-00`)."""

    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def checked(cls, year: int, month: int | None, day: int | None) -> MalDate | str:
        """The date if it is a real one (a day needs a month), else why not."""
        if year <= 0:
            return "has no year"
        if month is None:
            return cls(year) if day is None else "is not a real calendar date"
        if not 1 <= month <= 12:
            return "is not a real calendar date"
        if day is not None and not 1 <= day <= calendar.monthrange(year, month)[1]:
            return "is not a real calendar date"
        return cls(year, month, day)

    @property
    def is_full(self) -> bool:
        return self.month is not None and self.day is not None

    def iso(self) -> str:
        """The full date as YYYY-MM-DD; only meaningful when `is_full`."""
        return f"{self.year:04d}-{self.month or 1:02d}-{self.day or 1:02d}"

    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month or 1, self.day or 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month or 0:02d}-{self.day or 0:02d}"


@dataclass(frozen=True, slots=True)
class MediaNames:
    """What one vocabulary (the XML export, the MAL API, aniSearch) calls the fields that are
    named differently for anime and for manga."""

    progress: str  # episodes, or chapters
    repeating: str
    times_repeated: str
    repeat_value: str
    volumes: str | None = None  # manga only


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One usable list entry. Counts are already validated as non-negative integers.

    None in a field means "the source did not say" (the MAL API may withhold fields); such a
    field is left out of the request, so aniSearch keeps what it holds. An export's count that
    cannot be read is None too: unknown is not zero.
    """

    media: MediaType
    mal_id: int
    title: str
    status: ListStatus
    score: int | None  # 1-10; None when unscored (MAL writes 0)
    progress: int | None  # episodes (anime) or chapters (manga)
    volumes: int | None  # manga only
    start: MalDate | None
    finish: MalDate | None
    repeating: bool | None
    times_repeated: int | None
    repeat_value: int | None  # 1 (Very Low) .. 5 (Very High)
    priority: int | None  # 1 LOW .. 3 HIGH
    comments: str | None  # None: unknown (never clears notes on aniSearch)
    tags: tuple[str, ...]
    source: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InvalidEntry:
    """An entry that cannot be sent; it is kept so that the report can say why."""

    media: MediaType
    mal_id: int | None
    title: str
    reason: str
    source: str
    warnings: tuple[str, ...] = ()


ImportedEntry = ListEntry | InvalidEntry


class WarningKind(str, Enum):
    """What a warning is about, so that a run can say it once for all titles, with the fix."""

    PARTIAL_DATE_OMITTED = "partial_date_omitted"
    PARTIAL_DATE_ROUNDED = "partial_date_rounded"
    BAD_DATE = "bad_date"
    COUNT = "count"
    UNKNOWN_VALUE = "unknown_value"
    OUT_OF_RANGE = "out_of_range"
    TEXT_REPAIRED = "text_repaired"
    MAL_API_VALUE = "mal_api_value"
    OTHER = "other"


class EntryWarning(str):
    """A warning's text, as the report and -v show it, that also knows its kind.

    A str, so that everything which shows, joins or stores warnings keeps working; the kind
    is given where the warning is made, never guessed from its wording.
    """

    kind: WarningKind

    def __new__(cls, text: str, kind: WarningKind = WarningKind.OTHER) -> EntryWarning:
        made = str.__new__(cls, text)
        made.kind = kind
        return made

    def __getnewargs__(self) -> tuple[str, WarningKind]:  # type: ignore[override]
        return (str(self), self.kind)


def warning_kind(warning: str) -> WarningKind:
    return warning.kind if isinstance(warning, EntryWarning) else WarningKind.OTHER


# A title on one side: its media type and MAL id.
EntryKey = tuple[MediaType, int]
# The largest id (MAL's or aniSearch's) malsync takes: ids are keys in the checkpoint's SQLite
# INTEGER columns (signed 64 bits); a larger one is no real id.
ID_MAX = 2**63 - 1
# The body of `PUT /my/{media}/{id}/ratings`, exactly as sent.
Payload = dict[str, str | int | bool]
# What a field held on aniSearch and what MAL would put there; None where aniSearch had nothing.
Change = tuple[str, object, object]


class Action(str, Enum):
    """What a request does to a rating; stored in the checkpoint's change log as its value."""

    UPSERT = "upsert"
    DELETE = "delete"


class Outcome(str, Enum):
    """An entry's fate as the report and the checkpoint name it (their files hold the value)."""

    PLANNED = "planned"  # a dry run would send it
    NOT_SENT = "not_sent"  # a real run stopped before it
    INVALID = "invalid"
    UPLOADED = "uploaded"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    SUPERSEDED = "superseded"
    KEPT = "kept"  # aniSearch's differing rating was left alone (conflict policy)
    UNMATCHED = "unmatched"  # unknown to aniSearch last time; not retried this run
    DELETED = "deleted"  # --delete-missing removed it from aniSearch
    RESTORED = "restored"  # put back by malsync restore (checkpoint only)


@dataclass(frozen=True, slots=True)
class KeptTitle:
    """What the checkpoint keeps of an aniSearch title malsync sends by its aniSearch id."""

    members: tuple[int, ...]  # MAL ids whose entries went into its last body (a bundle: several)
    accepted_hash: str | None  # the body aniSearch last accepted, as far as malsync knows
    outcome: Outcome
    updated_at: float
    # Whether malsync itself wrote this title (a PUT it sent was accepted), not merely found it
    # as MAL has it: --delete-missing deletes only such a title, whatever its entries' marks.
    written: bool = False


@dataclass(frozen=True)
class ChangeRecord:
    """One write of a run, as restore needs it."""

    key: EntryKey
    action: Action
    anisearch_id: int | None
    existed: bool | None
    payload: dict[str, Any] | None
    # The change is to aniSearch title `anisearch_id`, known before sending (a hand mapping or
    # aniSearch's MAL links): restore takes it as that title's. False: as the MAL entry `key`'s.
    by_title: bool = False

    @property
    def title(self) -> tuple[str, MediaType, int]:
        """Which title the change is to: several changes to one title are one to restore."""
        if self.by_title and self.anisearch_id is not None:
            return ("title", self.key[0], self.anisearch_id)
        return ("mal", *self.key)


@dataclass(frozen=True)
class Settlement:
    """What a run made of an entry: its outcome (and why, for a problem) as the report shows it
    and the checkpoint keeps it, and, when accepted, the body and its hash. A request's entry has
    one; so has an entry decided without one (unchanged, kept), and one the run stopped before
    (not_sent: reported, never kept).

    A deletion forgets the body (a title back on MAL later is a new one); a restore keeps it:
    the body is what MAL said, and an unchanged MAL list must not undo the restore.
    """

    key: EntryKey
    title: str
    outcome: Outcome
    run_id: int
    accepted_hash: str | None = None
    accepted_body: Payload | None = None
    error: str | None = None
    written: bool | None = None  # True: malsync wrote it; False: it is gone; None: unchanged
    change: ChangeRecord | None = None
    list_name: str | None = None  # whose MAL list holds it (SourceList.list_name); None: unchanged
    # The other MAL entries the same request settles (a bundle's members), with their titles.
    others: tuple[tuple[EntryKey, str], ...] = ()
    # The aniSearch title it settles, where sent by its aniSearch id, and the MAL ids that went
    # into it: its accepted body is then kept as the title's (the `titles` table), not the entry's.
    title_id: int | None = None
    members: tuple[int, ...] = ()


# Outcomes a person must act on; any of them makes a run exit 1.
PROBLEM_OUTCOMES = frozenset({Outcome.INVALID, Outcome.FAILED, Outcome.NOT_FOUND})


_MAL_STATUS_NAMES = {
    ListStatus.IN_PROGRESS: ("Watching", "Reading"),
    ListStatus.COMPLETED: ("Completed", "Completed"),
    ListStatus.ON_HOLD: ("On-Hold", "On-Hold"),
    ListStatus.DROPPED: ("Dropped", "Dropped"),
    ListStatus.PLAN_TO_WATCH: ("Plan to Watch", "Plan to Read"),
}


def mal_status_name(status: ListStatus, media: MediaType) -> str:
    """The status as MAL shows it for this media type."""
    anime, manga = _MAL_STATUS_NAMES[status]
    return anime if media is MediaType.ANIME else manga


def mal_status_key(status: ListStatus, media: MediaType) -> str:
    """The status as MAL's API writes it for this media type: reading, plan_to_read for manga."""
    return mal_status_name(status, media).lower().replace(" ", "_").replace("-", "_")


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 title", "2 titles": a number with its noun in the right number."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def mal_link(media: MediaType, mal_id: int) -> str:
    return f"https://myanimelist.net/{media.value}/{mal_id}"


def entry_label(media: MediaType, mal_id: int | None, title: str) -> str:
    """How an entry is named in messages: media, MAL id and title, enough to find it on MAL."""
    ident = str(mal_id) if mal_id is not None else "(no id)"
    return f"{media.value} {ident} {title!r}" if title else f"{media.value} {ident}"
