"""What reading a MAL list gives: the whole list, or an error that says none of it is used."""

from __future__ import annotations

from dataclasses import dataclass

from malsync.errors import ExitStatus, MalsyncError
from malsync.pipeline.records import ImportedEntry, MediaType


class MalReadError(MalsyncError):
    """The list could not be read to its end; none of it may be taken for the whole list."""

    exit_status = ExitStatus.SERVER_STOPPED


class MalRefused(MalReadError):
    """MAL answered 403 (its "DoS detected"): retrying could get the address banned."""


class MalListPrivate(MalReadError):
    """The list is private and the client id alone may not read it."""


class MalUserNotFound(MalReadError):
    """MAL knows no such user: the name given is wrong."""

    exit_status = ExitStatus.BAD_INPUT


@dataclass(frozen=True)
class MalList:
    media: MediaType
    user: str
    source: str  # "myanimelist:NAME", also each record's `source`
    entries: tuple[ImportedEntry, ...]
    pages: int
    requests: int  # sent for this list, retries included


def source_label(user: str) -> str:
    return f"myanimelist:{user}"
