"""`unmatched.csv`: the titles aniSearch does not know (or links to nothing), one row each with
what fixing it by hand takes, for a spreadsheet or a text editor."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from malsync.fileio import atomic_write
from malsync.pipeline.records import mal_link
from malsync.report.links import anisearch_search_url, hand_set_id_line, hand_set_id_section
from malsync.report.run_report import Report

UNMATCHED_FILE = "unmatched.csv"
UNMATCHED_COLUMNS = (
    "mal_id",
    "title",
    "media",
    "mal_url",
    "anisearch_search",
    "mapping_section",
    "mapping_line",
)


def _as_text(cell: str) -> str:
    """A cell a spreadsheet would take for a formula (=, +, -, @) kept as text: a title is data."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def write_unmatched(report: Report, path: Path) -> int:
    """The titles aniSearch does not know by MAL id, as CSV; returns how many.

    Each row carries what fixing it by hand takes: aniSearch's search for the title, and the
    config line (under its section) that the aniSearch id completes.
    """
    rows = report.unmatched()

    def dump(handle: TextIO) -> None:
        writer = csv.writer(handle)
        writer.writerow(UNMATCHED_COLUMNS)
        for item in rows:
            assert item.mal_id is not None
            writer.writerow(
                [
                    item.mal_id,
                    _as_text(item.title),
                    item.media.value,
                    mal_link(item.media, item.mal_id),
                    anisearch_search_url(item.media, item.title) if item.title else "",
                    hand_set_id_section(item.media),
                    hand_set_id_line(item.media, item.mal_id),
                ]
            )

    atomic_write(path, dump)
    return len(rows)
