"""Read MAL XML exports (plain or gzip, current or old layout, damaged or not) into typed records.

Parsing streams with lxml's iterparse and clears each entry once read, so memory stays flat for
large lists. Whatever can be repaired is repaired with a warning on the entry; what makes an entry
unusable becomes an `InvalidEntry`; what makes a file unusable raises `ExportError`.
"""

from __future__ import annotations

import logging
import math
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from lxml import etree

from malsync.errors import ExportError
from malsync.pipeline.mapper import mal_id_problem
from malsync.pipeline.records import (
    ID_MAX,
    EntryWarning,
    ImportedEntry,
    InvalidEntry,
    ListEntry,
    ListStatus,
    MalDate,
    MediaNames,
    MediaType,
    WarningKind,
)
from malsync.sources.repair import RepairingReader, open_export, plain_text, stream_reason

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_ROOT_TAG = "myanimelist"
_EXPORT_TYPES = {"1": MediaType.ANIME, "2": MediaType.MANGA}


@dataclass(frozen=True, slots=True)
class _Fields:
    """Element names for one media type, and other producers' spellings of them."""

    mal_id: str
    title: str
    names: MediaNames
    aliases: tuple[tuple[str, str], ...] = ()  # (alias, name): Shikimori and older tools


_FIELDS = {
    MediaType.ANIME: _Fields(
        "series_animedb_id",
        "series_title",
        MediaNames("my_watched_episodes", "my_rewatching", "my_times_watched", "my_rewatch_value"),
    ),
    MediaType.MANGA: _Fields(
        "manga_mangadb_id",
        "manga_title",
        MediaNames(
            "my_read_chapters",
            "my_rereading",
            "my_times_read",
            "my_reread_value",
            "my_read_volumes",
        ),
        aliases=(
            ("series_mangadb_id", "manga_mangadb_id"),
            ("series_title", "manga_title"),
            ("my_times_reread", "my_times_read"),
        ),
    ),
}

# ASCII digits only: isdigit() and \d also take other digits, which int() refuses or misreads.
_DATE_RE = re.compile("([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_DIGITS = 308  # a number with more digits overflows a float (as 1e400 does)
_SHOWN_CHARS = 40


@dataclass(frozen=True)
class ExportFile:
    """One export read whole: its entries in file order and the media type it holds."""

    path: str
    media: MediaType | None
    entries: list[ImportedEntry]
    declared: MediaType | None = None  # as <user_export_type> says; None: it says neither
    user_name: str = ""  # whose list, as <myinfo><user_name> says; "": it names no one


def read_export(path: str | Path) -> ExportFile:
    """Read a whole export; raises ExportError before returning anything if the file is unusable."""
    stream = ExportStream(path)
    entries = list(stream)
    media = stream.media or (entries[0].media if entries else None)
    return ExportFile(stream.path, media, entries, stream.media, stream.user_name)


class ExportStream:
    """Iterates the entries of one export as they are parsed; `media` is known once <myinfo> is."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.media: MediaType | None = None
        self.user_name = ""

    def __iter__(self) -> Iterator[ImportedEntry]:
        name = self.path
        with open_export(name) as raw:
            reader = RepairingReader(raw)
            context = etree.iterparse(
                reader,
                # Start events let the DTD check run before any entry's content is handled.
                events=("start", "end"),
                tag=("myinfo", "anime", "manga"),
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=False,
                remove_comments=True,
                remove_pis=True,
            )
            checked = False
            try:
                for event, element in context:
                    if event == "start":
                        if not checked:
                            _check_document(name, element.getroottree().getroot())
                            checked = True
                        continue
                    tag = element.tag
                    if tag == "myinfo":
                        export_type = (element.findtext("user_export_type") or "").strip()
                        self.media = _EXPORT_TYPES.get(export_type, self.media)
                        # One line of at most 64 characters, MAL's longest user name.
                        named = " ".join((element.findtext("user_name") or "").split())
                        self.user_name = named[:64]
                    else:
                        media = MediaType.ANIME if tag == "anime" else MediaType.MANGA
                        yield _read_entry(element, media, name, reader.stats.markers_seen)
                    # Free what has been read, so memory does not grow with the list.
                    element.clear()
                    parent = element.getparent()
                    if parent is not None:
                        while element.getprevious() is not None:
                            del parent[0]
            except etree.XMLSyntaxError as error:
                line, column = error.position
                if line in reader.doctype_lines:  # a DOCTYPE after the root's start
                    raise ExportError(name, _DTD_REASON) from None
                truncated = reader.error_at_end(line, column)
                raise ExportError(name, _syntax_reason(error, truncated)) from None
            except (EOFError, OSError, zlib.error) as error:
                raise ExportError(name, stream_reason(error)) from None
            if not checked:
                _check_document(name, context.root)


_DTD_REASON = "contains a DTD (<!DOCTYPE>); MAL exports have none"


def _check_document(name: str, root: etree._Element | None) -> None:
    """Refuse a DTD (seen by lxml, so in any encoding) and any root but MAL's."""
    if root is None:
        raise ExportError(name, "holds no XML elements, not a MAL export")
    docinfo = root.getroottree().docinfo
    # libxml2 records any <!DOCTYPE> as an internal subset, even one without brackets.
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ExportError(name, _DTD_REASON)
    if root.tag != _ROOT_TAG:
        tag = root.tag if isinstance(root.tag, str) else "?"
        raise ExportError(name, f"is XML with root <{tag}>, not a MAL export (<{_ROOT_TAG}>)")


def _syntax_reason(error: etree.XMLSyntaxError, at_end: bool) -> str:
    message = str(error.msg or error)
    line = error.lineno
    if at_end or "Premature end" in message:
        return f"ends before the XML is complete (line {line}); is the file truncated?"
    return f"is not well-formed XML (line {line}: {message})"


# Exact spellings seen in real files come first in these tables; the normalised fallback below
# each lookup catches the rest. Lookups, not parsing, keep a 50,000-entry import fast.
_SCORES: dict[str, int | None] = {"": None, "0": None, **{str(n): n for n in range(1, 11)}}
_REPEAT_VALUES: dict[str, int | None] = {
    "": None,
    "0": None,
    **{str(n): n for n in range(1, 6)},
    "Very Low": 1,
    "Low": 2,
    "Medium": 3,
    "High": 4,
    "Very High": 5,
}
_PRIORITIES: dict[str, int | None] = {
    "": None,
    "LOW": 1,
    "MEDIUM": 2,
    "HIGH": 3,
    "Low": 1,
    "Medium": 2,
    "High": 3,
    # The retired MAL API counted 0 low, 1 medium, 2 high.
    "0": 1,
    "1": 2,
    "2": 3,
}
_FLAGS = {"": False, "0": False, "1": True, "NO": False, "YES": True}


def _reject(
    warnings: list[str], label: str, value: str, why: str, kind: WarningKind = WarningKind.COUNT
) -> None:
    warnings.append(EntryWarning(f"{label} {_shown(value)!r} {why}", kind))


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "..."


def _count(value: str | None, label: str, warnings: list[str]) -> int | None:
    """A count, or None (unknown: left out, so aniSearch keeps its own) when it cannot be read.

    Unknown is not zero: an absent or empty element is unknown as a field MAL's API withholds.
    """
    if not value:
        return None
    if len(value) < 10 and value.isascii() and value.isdigit():
        return int(value)
    return _unusual_count(value.strip(), label, warnings)


def _unusual_count(value: str, label: str, warnings: list[str]) -> int | None:
    """A count written other than as plain digits: a whole number >= 0, or None with a warning.

    Large counts are kept; the mapper clamps them to what it sends, for every source alike.
    """
    if not value:
        return None
    if not _DECIMAL_RE.fullmatch(value):
        _reject(warnings, label, value, f"is not a number; {_UNKNOWN_COUNT}")
        return None
    digits = value.lstrip("0")  # int() refuses strings over 4,300 digits, zeros included
    if value.isdigit() and len(digits) <= _FLOAT_DIGITS:
        return int(digits or "0")
    number = float(value)
    if not math.isfinite(number):
        _reject(warnings, label, value, f"is too large to be a count; {_UNKNOWN_COUNT}")
        return None
    if number < 0:
        _reject(warnings, label, value, f"is negative; {_UNKNOWN_COUNT}")
        return None
    whole = math.floor(number)
    if whole != number:
        _reject(warnings, label, value, f"is not a whole number; {whole} used")
    return whole


# As the live source says it: the field is left out of the request.
_UNKNOWN_COUNT = "left as it is on aniSearch"


def _mal_id(raw: str) -> int | str:
    """The entry's MAL id, or why it has none the checkpoint and aniSearch can take."""
    if len(raw) < 19 and raw.isascii() and raw.isdigit() and raw.strip("0"):
        return int(raw)
    if not raw:
        return "has no MAL id"
    if not (raw.isascii() and raw.isdigit()):
        return f"MAL id {_shown(raw)!r} is not a positive number"
    digits = raw.lstrip("0")  # int() refuses strings over 4,300 digits, zeros included
    mal_id = int(digits or "0") if len(digits) <= len(str(ID_MAX)) else ID_MAX + 1
    problem = mal_id_problem(mal_id)
    return mal_id if problem is None else f"MAL id {_shown(raw)!r} {problem}"


def _choose(
    table: dict[str, _T],
    value: str | None,
    label: str,
    warnings: list[str],
    why: str,
    normalise: Callable[[str], str],
    /,
) -> _T | None:
    """Look a value up as written, then normalised; warn and give None when it is unknown."""
    raw = value or ""
    if raw in table:
        return table[raw]
    key = normalise(raw)
    if key in table:
        return table[key]
    _reject(warnings, label, raw, why, WarningKind.UNKNOWN_VALUE)
    return None


def _title_case(value: str) -> str:
    return " ".join(value.split()).title()


def _upper(value: str) -> str:
    return value.strip().upper()


@lru_cache(maxsize=1 << 16)
def _parse_date(value: str) -> MalDate | str | None:
    """A MalDate, None for "unknown", or the reason the value is no date (cached: dates repeat)."""
    value = value.strip()
    if value in ("", "0000-00-00"):
        return None
    if not _DATE_RE.fullmatch(value):
        return "is not a YYYY-MM-DD date; omitted"
    year, month, day = int(value[:4]), int(value[5:7]), int(value[8:])
    # MAL writes an unknown month or day as 00.
    date = MalDate.checked(year, month or None, day or None)
    return f"{date}; omitted" if isinstance(date, str) else date


def _date(value: str | None, label: str, warnings: list[str]) -> MalDate | None:
    if not value or value == "0000-00-00":
        return None
    parsed = _parse_date(value)
    if isinstance(parsed, str):
        _reject(warnings, label, value.strip(), parsed, WarningKind.BAD_DATE)
        return None
    return parsed


@lru_cache(maxsize=1 << 12)
def _split_tags(text: str) -> tuple[str, ...]:
    """The tags of a tag list (cached: lists repeat the same few)."""
    if not text:
        return ()
    return tuple([tag for tag in map(str.strip, text.split(",")) if tag])


def _read_entry(
    element: etree._Element, media: MediaType, source: str, repaired: bool
) -> ImportedEntry:
    values: dict[str, str | None] = {child.tag: child.text for child in element}
    return _entry_from_values(values, media, source, repaired)


def _entry_from_values(
    values: dict[str, str | None], media: MediaType, source: str, repaired: bool
) -> ImportedEntry:
    fields = _FIELDS[media]
    for alias, name in fields.aliases:
        if name not in values and alias in values:
            values[name] = values[alias]
    get = values.get
    warnings: list[str] = []
    title = plain_text(get(fields.title), fields.title, repaired, warnings)
    mal_id = _mal_id((get(fields.mal_id) or "").strip())
    raw_status = (get("my_status") or "").strip()
    status = ListStatus.from_word(raw_status)

    if isinstance(mal_id, str):
        return InvalidEntry(media, None, title, mal_id, source, tuple(warnings))
    if status is None:
        reason = f"unknown status {raw_status!r}" if raw_status else "has no status"
        return InvalidEntry(media, mal_id, title, reason, source, tuple(warnings))

    tags_text = plain_text(get("my_tags"), "my_tags", repaired, warnings, markup=True)
    names = fields.names
    return ListEntry(
        media,
        mal_id,
        title,
        status,
        _choose(_SCORES, get("my_score"), "my_score", warnings, _NO_SCORE, str.strip),
        _count(get(names.progress), names.progress, warnings),
        _count(get(names.volumes), names.volumes, warnings) if names.volumes else None,
        _date(get("my_start_date"), "my_start_date", warnings),
        _date(get("my_finish_date"), "my_finish_date", warnings),
        _choose(_FLAGS, get(names.repeating), names.repeating, warnings, _NO_FLAG, _upper) or False,
        _count(get(names.times_repeated), names.times_repeated, warnings),
        _choose(
            _REPEAT_VALUES,
            get(names.repeat_value),
            names.repeat_value,
            warnings,
            _NO_REPEAT,
            _title_case,
        ),
        _choose(_PRIORITIES, get("my_priority"), "my_priority", warnings, _NO_PRIORITY, _upper),
        plain_text(get("my_comments"), "my_comments", repaired, warnings, markup=True),
        _split_tags(tags_text),
        source,
        tuple(warnings),
    )


_NO_SCORE = "is not a score from 0 to 10; no rating sent"
_NO_FLAG = "is not a yes/no value; no used"
_NO_REPEAT = "is not Very Low to Very High; omitted"
_NO_PRIORITY = "is not LOW, MEDIUM or HIGH; omitted"
