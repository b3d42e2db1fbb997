"""Whether a file is one malsync wrote as a report, judged by its content, not its name.

A report path may hold someone's file (a MAL export, a page, data): only an earlier report, or
a file that holds nothing, is replaced without `--force`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# A report of the longest list is a few tens of MB; a file past this is not read to find out.
_LONGEST_REPORT_BYTES = 256 * 1024 * 1024
_HTML_START = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
_HTML_TITLE = "<title>malsync report"
_HTML_HEAD_BYTES = 16 * 1024
# How every JSON report malsync wrote begins, and how its entries follow the summary.
_REPORT_HEAD = re.compile(r'\{\s*"summary"\s*:\s*')
_ENTRIES_HEAD = re.compile(r'\s*,\s*"entries"\s*:\s*\[')
_DECODER = json.JSONDecoder()
# unmatched.csv has begun so in every version; later columns were added.
_CSV_START = "mal_id,title,"


def holds_a_report(path: Path) -> bool:
    """A JSON or HTML report malsync wrote (any version), or a file with nothing in it."""
    text = _text(path)
    if text is None:
        return False
    if text.startswith(_HTML_START):
        return _HTML_TITLE in text[:_HTML_HEAD_BYTES]
    try:
        document: Any = _outline(text)
    except ValueError:
        return False
    if document in ({}, []):
        return True
    return (
        isinstance(document, dict)
        and set(document) == {"summary", "entries"}
        and isinstance(document["summary"], dict)
        and {"dry_run", "total", "outcomes"} <= set(document["summary"])
        and isinstance(document["entries"], list)
    )


def _outline(text: str) -> Any:
    """The document; for the layout malsync writes, its summary with the entries left unread,
    so that re-running with the same --report does not parse 20,000 entries to say "ours"."""
    head = _REPORT_HEAD.match(text)
    if head is not None:
        summary, end = _DECODER.raw_decode(text, head.end())
        tail = text[-64:].rstrip()
        if _ENTRIES_HEAD.match(text, end) and tail[-1:] == "}" and tail[:-1].rstrip()[-1:] == "]":
            return {"summary": summary, "entries": []}
    return json.loads(text) if text.strip() else {}


def holds_an_unmatched_list(path: Path) -> bool:
    """An unmatched.csv malsync wrote, or an empty file."""
    text = _text(path)
    return text is not None and (not text.strip() or text.startswith(_CSV_START))


def _text(path: Path) -> str | None:
    """The file's text; None if it cannot be read, is too long to be a report, or is not UTF-8."""
    try:
        if path.stat().st_size > _LONGEST_REPORT_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
