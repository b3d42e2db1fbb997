"""aniSearch's MAL links as malsync keeps them between runs, and what makes a table of them usable.

aniSearch's Database API answers `{"<MAL id>": [<aniSearch id>, ...]}` for every MAL id it links
to its titles, at most once a day per media type. malsync keeps the answer in the user cache
folder, one file per media type, for the user's own runs (aniSearch asks that the data not be
redistributed: it is never shipped), with when it was fetched, and apart from it when it last
asked, so that a refused or failed request is not repeated inside the limit either.

Whatever the table comes from (the server, or a cache file that may be damaged), it is read by
`read_link_table`: anything unusable is one line (`LinksUnusable`), never a traceback.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from malsync.config.values import is_id
from malsync.fileio import atomic_write
from malsync.pipeline.records import ID_MAX, MediaType, counted

CACHE_FORMAT = 1
# aniSearch's anime links are about 300 KB as JSON; 32 MB decoded is a hundred times that (and
# a gzip bomb stops there).
MAX_LINKS_BYTES = 32 * 1024 * 1024
# A MAL entry aniSearch splits into a few titles is a part; dozens is no link table.
MAX_TITLES_PER_MAL_ID = 32
_GZIP_MAGIC = b"\x1f\x8b"
_SHOWN = 40


class LinksUnusable(ValueError):
    """A table of links that cannot be used as a whole; the text says why, in one line."""


@dataclass(frozen=True)
class MalLinks:
    """Which aniSearch titles aniSearch links to each MAL id, for one media type.

    `table` holds every usable link: MAL id -> its aniSearch ids, ascending, never empty.
    """

    media: MediaType
    table: Mapping[int, tuple[int, ...]]
    fetched_at: float  # seconds since the epoch

    def age(self, now: float) -> float:
        return max(0.0, now - self.fetched_at)


@dataclass(frozen=True)
class LinkTable:
    """A table read from untrusted JSON: the usable links, and the entries left out."""

    table: dict[int, tuple[int, ...]]
    skipped: int = 0
    first_problem: str = ""


@dataclass(frozen=True)
class LastRequest:
    """When malsync last asked for a media type's links, and until when the server said to wait."""

    asked_at: float
    not_before: float = 0.0


class _Object(list[tuple[str, Any]]):
    """A JSON object as its pairs, so duplicate keys are seen (json keeps only the last)."""


def decode_links(raw: bytes, where: str) -> LinkTable:
    """A link table from the bytes of an answer or a file: plain or gzipped JSON."""
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip(raw, where)
    if len(raw) > MAX_LINKS_BYTES:
        raise LinksUnusable(f"{where}: larger than {MAX_LINKS_BYTES // 2**20} MB")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_Object)
    except UnicodeDecodeError:
        raise LinksUnusable(f"{where}: not UTF-8 text") from None
    except (ValueError, RecursionError) as error:
        raise LinksUnusable(f"{where}: not JSON ({_short(str(error))})") from None
    return read_link_table(data, where)


def _gunzip(raw: bytes, where: str) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        plain = inflater.decompress(raw, MAX_LINKS_BYTES + 1)
    except zlib.error as error:
        raise LinksUnusable(f"{where}: damaged gzip ({_short(str(error))})") from None
    if len(plain) > MAX_LINKS_BYTES:
        raise LinksUnusable(f"{where}: larger than {MAX_LINKS_BYTES // 2**20} MB unpacked")
    if not inflater.eof:
        raise LinksUnusable(f"{where}: damaged gzip (cut short)")
    return plain


def read_link_table(data: object, where: str) -> LinkTable:
    """The usable links of `{"<MAL id>": [<aniSearch id>, ...]}` (objects as `_Object` pairs).

    An entry that is not a MAL id with a list of aniSearch ids is left out and counted; a MAL
    id listed twice keeps the ids of both; a MAL id with an empty list is linked to nothing. A
    table that lists no usable link, or leaves out more entries than it keeps, is refused as a
    whole: it is no link table, and using it would report every title as unlinked.
    """
    if not isinstance(data, _Object):
        raise LinksUnusable(f"{where}: not a JSON object of MAL ids")
    found: dict[int, set[int]] = {}
    skipped, first_problem = 0, ""
    for key, value in data:
        mal_id, ids, problem = _pair(key, value)
        if problem:
            skipped += 1
            first_problem = first_problem or problem
        elif ids:
            found.setdefault(mal_id, set()).update(ids)
    if skipped > len(found):
        raise LinksUnusable(
            f"{where}: {skipped} of {len(data)} entries are no links (the first: {first_problem})"
        )
    if not found:
        raise LinksUnusable(f"{where}: lists no links")
    table = {mal_id: tuple(sorted(ids)) for mal_id, ids in found.items()}
    too_many = [mal_id for mal_id, ids in table.items() if len(ids) > MAX_TITLES_PER_MAL_ID]
    for mal_id in too_many:
        del table[mal_id]
    if too_many and not first_problem:
        first_problem = f"MAL id {too_many[0]} links more than {MAX_TITLES_PER_MAL_ID} titles"
    return LinkTable(table, skipped + len(too_many), first_problem)


def _pair(key: str, value: object) -> tuple[int, list[int], str]:
    """One entry as (MAL id, aniSearch ids, ""), or a problem."""
    if not is_id(key):
        return 0, [], f"{_short(key)!r} is no MAL id"
    if not isinstance(value, list) or isinstance(value, _Object):
        return 0, [], f"MAL id {key}: {_short(json.dumps(value))} is no list of aniSearch ids"
    for each in value:
        if isinstance(each, bool) or not isinstance(each, int) or not 0 < each <= ID_MAX:
            return 0, [], f"MAL id {key}: {_short(json.dumps(each))} is no aniSearch id"
    return int(key), value, ""


def _short(text: str) -> str:
    text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "\u2026"


class LinkCache:
    """The links of each media type in `folder`, with when they were fetched and last asked for.

    Files are written whole through a temporary file (never half of one), readable and writable
    by their owner only: the data is public, but aniSearch asks that it not be passed on.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def links_path(self, media: MediaType) -> Path:
        return self.folder / f"mal_links_{media.value}.json"

    def request_path(self, media: MediaType) -> Path:
        return self.folder / f"mal_links_{media.value}.request.json"

    def read(self, media: MediaType) -> MalLinks | None:
        """The kept links, or None if there are none; raises LinksUnusable for a damaged file."""
        path = self.links_path(media)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise LinksUnusable(f"{path}: cannot be read ({error.strerror})") from None
        header = _header(raw[:512])
        if header is None or header[2] != media.value:
            raise LinksUnusable(f"{path}: not a malsync links file (delete it; it is fetched anew)")
        fetched_at, body_start, _ = header
        table = decode_links(raw[body_start:], str(path))
        return MalLinks(media, table.table, fetched_at)

    def write(self, links: MalLinks) -> None:
        """Keep the links; an OSError (full disk, read-only folder) is the caller's to say."""

        def write(handle: TextIO) -> None:
            handle.write(_header_line(links.media, links.fetched_at))
            handle.write("{")
            handle.write(
                ",".join(
                    f'"{mal_id}":[{",".join(map(str, ids))}]'
                    for mal_id, ids in sorted(links.table.items())
                )
            )
            handle.write("}\n")

        atomic_write(self.links_path(links.media), write, private=True)

    def last_request(self, media: MediaType) -> LastRequest | None:
        """When the links were last asked for; None if never (or the note cannot be read)."""
        try:
            data = json.loads(self.request_path(media).read_text(encoding="utf-8"))
            asked_at, not_before = float(data["asked_at"]), float(data.get("not_before", 0.0))
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if not (math.isfinite(asked_at) and math.isfinite(not_before)):
            return None
        return LastRequest(asked_at, not_before)

    def note_request(self, media: MediaType, request: LastRequest) -> None:
        text = json.dumps({"asked_at": request.asked_at, "not_before": request.not_before})

        def write(handle: TextIO) -> None:
            handle.write(text + "\n")

        atomic_write(self.request_path(media), write, private=True)


def _header_line(media: MediaType, fetched_at: float) -> str:
    """The first line of a links file: what it is and when it was fetched, read without the rest."""
    about = "aniSearch's MAL links, kept for this user's own runs; do not redistribute"
    return (
        json.dumps(
            {
                "malsync": about,
                "format": CACHE_FORMAT,
                "media": media.value,
                "fetched_at": fetched_at,
            }
        )
        + "\n"
    )


def _header(start: bytes) -> tuple[float, int, str] | None:
    """(fetched at, where the table starts, media) from a links file's first line; None if the
    file is not ours."""
    line, newline, _ = start.partition(b"\n")
    if not newline:
        return None
    try:
        data = json.loads(line)
        fetched_at, media = float(data["fetched_at"]), str(data["media"])
        ours = data["format"] == CACHE_FORMAT and math.isfinite(fetched_at)
    except (ValueError, TypeError, KeyError):
        return None
    return (fetched_at, len(line) + 1, media) if ours else None


def fetched_at(folder: Path, media: MediaType) -> float | None:
    """When the kept links were fetched (from the file's first line only), None if there are none
    or the file is not ours; for `malsync status`."""
    try:
        with open(LinkCache(folder).links_path(media), "rb") as handle:
            header = _header(handle.read(512))
    except OSError:
        return None
    return None if header is None or header[2] != media.value else header[0]


def links_age(folder: Path, media: MediaType, now: float | None = None) -> float | None:
    """How old the kept links are, in seconds; None if there are none."""
    at = fetched_at(folder, media)
    return None if at is None else max(0.0, (time.time() if now is None else now) - at)


def describe_age(seconds: float) -> str:
    """An age as a person says it: "40 minutes", "5 hours", "3 days" (rounded down)."""
    minutes = int(max(seconds, 0.0) // 60)
    if minutes < 120:
        return counted(minutes, "minute")
    if minutes < 48 * 60:
        return counted(minutes // 60, "hour")
    return counted(minutes // (24 * 60), "day")
