"""Entry warnings said once per kind, with a count and the fix, instead of once per title.

A 600-title list can carry 150 warnings; a person reads a handful of grouped lines, and -v
(or the report) gives every title's own line. Entries without a usable MAL id are said once per
list too, with what they mean for --delete-missing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from malsync.pipeline.planner import Decision
from malsync.pipeline.records import MediaType, WarningKind, entry_label, warning_kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Group:
    """`what` follows "N titles have"; `result` follows the semicolon; `fix` is a sentence."""

    what: str
    result: str
    fix: str = ""


_GROUPS: dict[WarningKind, _Group] = {
    WarningKind.PARTIAL_DATE_OMITTED: _Group(
        "a start or finish date without a day",
        "{they} sent without it",
        'To send the 1st of the month instead, set `partial_dates = "first_day"` under '
        "`[mapping]`.",
    ),
    WarningKind.PARTIAL_DATE_ROUNDED: _Group(
        "a start or finish date without a day",
        "it is sent as the 1st of the month",
        'To leave such dates out instead, set `partial_dates = "omit"` under `[mapping]`.',
    ),
    WarningKind.BAD_DATE: _Group(
        "a start or finish date that is no calendar date",
        "it is left out",
        "Correct the date on MyAnimeList to send it.",
    ),
    WarningKind.COUNT: _Group(
        "an episode, chapter, volume or rewatch count that is not a usable number",
        "the nearest usable count is sent, or none",
        "Correct the count on MyAnimeList to send it as it is.",
    ),
    WarningKind.UNKNOWN_VALUE: _Group(
        "a score, priority or rewatch value malsync does not recognise",
        "it is left out",
        "Set it again on MyAnimeList and export again to send it.",
    ),
    WarningKind.OUT_OF_RANGE: _Group(
        "a score, priority or rewatch value outside the range aniSearch takes",
        "it is left out",
        "Correct it on MyAnimeList to send it.",
    ),
    WarningKind.TEXT_REPAIRED: _Group(
        "a title, note or tags with damaged characters or markup",
        "the repaired text is sent",
        "Check the notes on aniSearch after the run.",
    ),
    WarningKind.MAL_API_VALUE: _Group(
        "a value from MyAnimeList's API that malsync cannot use",
        "aniSearch keeps what it holds for it",
    ),
    WarningKind.OTHER: _Group("other warnings", "they do not stop them being sent"),
}


def _plural(count: int, text: str) -> str:
    singular = count == 1
    text = text.replace("{they}", "it is" if singular else "they are")
    return text


def warning_groups(decisions: Sequence[Decision]) -> list[str]:
    """One line per kind of warning among these decisions: how many titles, what, the fix."""
    titles: Counter[WarningKind] = Counter()
    for decision in decisions:
        for kind in {warning_kind(warning) for warning in decision.warnings}:
            titles[kind] += 1
    lines = []
    for kind, group in _GROUPS.items():
        count = titles[kind]
        if not count:
            continue
        subject = "1 title has" if count == 1 else f"{count} titles have"
        line = f"{subject} {group.what}; {_plural(count, group.result)}."
        lines.append(f"{line} {group.fix}" if group.fix else line)
    return lines


def sent_with_warnings(decisions: Sequence[Decision]) -> list[Decision]:
    """The titles a run sends (or would send) that carry warnings: the only ones it speaks of.

    Titles the checkpoint already settled are not sent, so a re-sync does not repeat theirs.
    """
    return [d for d in decisions if d.verdict.needs_request and d.warnings]


def log_warnings(decisions: Sequence[Decision]) -> None:
    """Warnings of the titles this run is about to send: grouped, and each title's at -v."""
    about_to_send = sent_with_warnings(decisions)
    for decision in about_to_send:
        label = entry_label(decision.media, decision.mal_id, decision.title)
        for warning in decision.warnings:
            log.debug("%s: %s", label, warning)
    for line in warning_groups(about_to_send):
        log.warning("%s", line)
    if about_to_send:
        log.info("-v shows each title's warnings; the report lists them too.")


def log_unreadable_ids(decisions: Sequence[Decision]) -> None:
    """One line per list and media type that had an entry without a usable MAL id: why
    --delete-missing deletes none of that media type's titles."""
    unreadable: dict[tuple[str, MediaType], list[Decision]] = {}
    for decision in decisions:
        if decision.mal_id is None:
            unreadable.setdefault((decision.source, decision.media), []).append(decision)
    for (source, media), found in unreadable.items():
        first = f"{entry_label(media, None, found[0].title)}: {found[0].reason}"
        if len(found) > 1:
            first = f"{len(found)} {media.value} entries have no usable MAL id; the first: {first}"
        log.warning(
            "%s: %s; the %s list was not read whole, so --delete-missing deletes no %s title "
            "this run",
            source,
            first,
            media.value,
            media.value,
        )
