"""Read MAL XML exports (plain or gzip, current or old layout, damaged or not) into typed records.

Parsing streams with lxml's iterparse and clears each entry once read, so memory stays flat for
large lists. Whatever can be repaired is repaired with a warning on the entry; what makes an entry
unusable becomes an `InvalidEntry`; what makes a file unusable raises `ExportError`.
"""

from __future__ import annotations

import calendar
import gzip
import html
import io
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from lxml import etree

from malsync.errors import ExportError
from malsync.records import (
    ImportedEntry,
    InvalidEntry,
    ListEntry,
    ListStatus,
    MalDate,
    MediaType,
)
from malsync.repair import RepairingReader, restore_markers, undo_double_encoding

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 2048
_ROOT_TAG = "myanimelist"
_ENTRY_TAGS = {"anime": MediaType.ANIME, "manga": MediaType.MANGA}
_EXPORT_TYPES = {"1": MediaType.ANIME, "2": MediaType.MANGA}


@dataclass(frozen=True, slots=True)
class _Fields:
    """Element names for one media type, and other producers' spellings of them."""

    mal_id: str
    title: str
    progress: str
    volumes: str | None
    times_repeated: str
    repeat_value: str
    repeating: str
    aliases: tuple[tuple[str, str], ...] = ()  # (alias, name): Shikimori and older tools


_FIELDS = {
    MediaType.ANIME: _Fields(
        mal_id="series_animedb_id",
        title="series_title",
        progress="my_watched_episodes",
        volumes=None,
        times_repeated="my_times_watched",
        repeat_value="my_rewatch_value",
        repeating="my_rewatching",
    ),
    MediaType.MANGA: _Fields(
        mal_id="manga_mangadb_id",
        title="manga_title",
        progress="my_read_chapters",
        volumes="my_read_volumes",
        times_repeated="my_times_read",
        repeat_value="my_reread_value",
        repeating="my_rereading",
        aliases=(
            ("series_mangadb_id", "manga_mangadb_id"),
            ("series_title", "manga_title"),
            ("my_times_reread", "my_times_read"),
        ),
    ),
}

_STATUS_WORDS = {
    # As MAL writes them (looked up first), then normalised (lower case, no spaces or dashes).
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
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_BR_RE = re.compile(r"[ \t]*<br\s*/?>[ \t]*\r?\n?", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


@dataclass(frozen=True)
class ExportFile:
    """One export read whole: its entries in file order and the media type it holds."""

    path: str
    media: MediaType | None
    entries: list[ImportedEntry]


def read_export(path: str | Path) -> ExportFile:
    """Read a whole export; raises ExportError before returning anything if the file is unusable."""
    stream = ExportStream(path)
    entries = list(stream)
    media = stream.media or (entries[0].media if entries else None)
    return ExportFile(stream.path, media, entries)


class ExportStream:
    """Iterates the entries of one export as they are parsed; `media` is known once <myinfo> is."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.media: MediaType | None = None

    def __iter__(self) -> Iterator[ImportedEntry]:
        name = self.path
        with _open_export(name) as raw:
            reader = RepairingReader(raw)
            context = etree.iterparse(
                reader,
                events=("end",),
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
                for _, element in context:
                    if not checked:
                        _check_document(name, reader, element.getroottree().getroot())
                        checked = True
                    tag = element.tag
                    if tag == "myinfo":
                        export_type = (element.findtext("user_export_type") or "").strip()
                        self.media = _EXPORT_TYPES.get(export_type, self.media)
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
                truncated = reader.error_at_end(line, column)
                raise ExportError(name, _syntax_reason(error, truncated)) from None
            except (EOFError, OSError, zlib.error) as error:
                raise ExportError(name, _stream_reason(error)) from None
            if not checked:
                _check_document(name, reader, context.root)


def _check_document(name: str, reader: RepairingReader, root: etree._Element | None) -> None:
    if reader.stats.dtd_found:
        raise ExportError(name, "contains a DTD (<!DOCTYPE>); MAL exports have none")
    if root is None:
        raise ExportError(name, "holds no XML elements, not a MAL export")
    if root.tag != _ROOT_TAG:
        tag = root.tag if isinstance(root.tag, str) else "?"
        raise ExportError(name, f"is XML with root <{tag}>, not a MAL export (<{_ROOT_TAG}>)")


@contextmanager
def _open_export(name: str) -> Iterator[gzip.GzipFile | io.BufferedReader]:
    """Open plain or gzip by content, and reject files that are plainly not an XML export."""
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below
    except IsADirectoryError:
        raise ExportError(name, "is a directory, not an export file") from None
    except FileNotFoundError:
        raise ExportError(name, "no such file") from None
    except OSError as error:
        raise ExportError(name, f"cannot be opened ({error.strerror})") from None
    try:
        is_gzip = handle.read(2) == _GZIP_MAGIC
        handle.seek(0)
        stream: gzip.GzipFile | io.BufferedReader = (
            gzip.GzipFile(fileobj=handle, mode="rb") if is_gzip else handle
        )
        try:
            head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
        except (EOFError, OSError, zlib.error) as error:
            raise ExportError(name, _stream_reason(error)) from None
        _sniff(name, head)
        yield stream
    finally:
        handle.close()


def _sniff(name: str, head: bytes) -> None:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ExportError(name, "is empty, not a MAL export")
    lowered = stripped[:512].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered:
        raise ExportError(
            name, "is an HTML page, not a MAL export (download the .xml.gz file MAL offers)"
        )
    if stripped[:1] in (b"{", b"["):
        raise ExportError(name, "looks like JSON, not a MAL XML export")
    is_utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"\x00" in head and not is_utf16:
        raise ExportError(name, "is binary data, not a MAL XML export")
    if not stripped.startswith(b"<") and not is_utf16:
        raise ExportError(name, "is not XML, so not a MAL export")


def _syntax_reason(error: etree.XMLSyntaxError, at_end: bool) -> str:
    message = str(error.msg or error)
    line = error.lineno
    if at_end or "Premature end" in message:
        return f"ends before the XML is complete (line {line}); is the file truncated?"
    return f"is not well-formed XML (line {line}: {message})"


def _stream_reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "is a truncated gzip file (the download did not finish?)"
    if isinstance(error, gzip.BadGzipFile | zlib.error):
        return "is a damaged gzip file"
    return f"cannot be read ({error})"


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


def _reject(warnings: list[str], label: str, value: str, why: str) -> None:
    warnings.append(f"{label} {value!r} {why}")


def _text(
    value: str | None, label: str, repaired: bool, warnings: list[str], markup: bool = False
) -> str:
    """Text with repairs resolved, markup turned to plain text and HTML entities decoded."""
    if not value:
        return ""
    restored = None
    if repaired:
        restored = restore_markers(value)
        value = restored.text
        warnings.extend(f"{label}: {repair}" for repair in restored.repairs)
    if markup and "<" in value:
        value = _TAG_RE.sub("", _BR_RE.sub("\n", value))
    if "&" in value:
        value = html.unescape(value)
    if restored is not None and restored.invalid_bytes:
        value = undo_double_encoding(value)
    return value.strip()


def _count(value: str | None, label: str, warnings: list[str]) -> int:
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    value = value.strip()
    try:
        number = int(float(value)) if value else 0
    except ValueError:
        _reject(warnings, label, value, "is not a number; 0 used")
        return 0
    if number < 0:
        _reject(warnings, label, value, "is negative; 0 used")
        return 0
    return number


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
    _reject(warnings, label, raw, why)
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
    if year == 0:
        return "has no year; omitted"
    if month > 12 or (month == 0 and day != 0):
        return "is not a real calendar date; omitted"
    if month == 0:
        return MalDate(year)
    if day == 0:
        return MalDate(year, month)
    if day > 28 and day > calendar.monthrange(year, month)[1]:
        return "is not a real calendar date; omitted"
    return MalDate(year, month, day)


def _date(value: str | None, label: str, warnings: list[str]) -> MalDate | None:
    if not value or value == "0000-00-00":
        return None
    parsed = _parse_date(value)
    if isinstance(parsed, str):
        _reject(warnings, label, value.strip(), parsed)
        return None
    return parsed


def _split_tags(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple([tag for tag in map(str.strip, text.split(",")) if tag])


def _status(raw: str) -> ListStatus | None:
    status = _STATUS_WORDS.get(raw)
    if status is None:
        status = _STATUS_WORDS.get(re.sub(r"[\s_-]+", "", raw.lower()))
    return status


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
    title = _text(get(fields.title), fields.title, repaired, warnings)
    raw_id = (get(fields.mal_id) or "").strip()
    mal_id = int(raw_id) if raw_id.isdigit() and int(raw_id) > 0 else None
    raw_status = (get("my_status") or "").strip()
    status = _status(raw_status)

    if mal_id is None:
        reason = f"MAL id {raw_id!r} is not a positive number" if raw_id else "has no MAL id"
        return InvalidEntry(media, None, title, reason, source, tuple(warnings))
    if status is None:
        reason = f"unknown status {raw_status!r}" if raw_status else "has no status"
        return InvalidEntry(media, mal_id, title, reason, source, tuple(warnings))

    tags_text = _text(get("my_tags"), "my_tags", repaired, warnings, markup=True)
    return ListEntry(
        media,
        mal_id,
        title,
        status,
        _choose(_SCORES, get("my_score"), "my_score", warnings, _NO_SCORE, str.strip),
        _count(get(fields.progress), fields.progress, warnings),
        _count(get(fields.volumes), fields.volumes, warnings) if fields.volumes else None,
        _date(get("my_start_date"), "my_start_date", warnings),
        _date(get("my_finish_date"), "my_finish_date", warnings),
        _choose(_FLAGS, get(fields.repeating), fields.repeating, warnings, _NO_FLAG, _upper)
        or False,
        _count(get(fields.times_repeated), fields.times_repeated, warnings),
        _choose(
            _REPEAT_VALUES,
            get(fields.repeat_value),
            fields.repeat_value,
            warnings,
            _NO_REPEAT,
            _title_case,
        ),
        _choose(_PRIORITIES, get("my_priority"), "my_priority", warnings, _NO_PRIORITY, _upper),
        _text(get("my_comments"), "my_comments", repaired, warnings, markup=True),
        _split_tags(tags_text),
        source,
        tuple(warnings),
    )


_NO_SCORE = "is not a score from 0 to 10; no rating sent"
_NO_FLAG = "is not a yes/no value; no used"
_NO_REPEAT = "is not Very Low to Very High; omitted"
_NO_PRIORITY = "is not LOW, MEDIUM or HIGH; omitted"
