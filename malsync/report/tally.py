"""The numbers of a run's report, counted once for its summary, its JSON and its HTML page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from malsync.pipeline.planner import Decision
from malsync.pipeline.records import (
    Action,
    EntryKey,
    ListStatus,
    MediaType,
    Outcome,
    mal_status_key,
)


@dataclass(frozen=True)
class Tally:
    """What the summary counts, counted once for all of it (most of it by passes that run in C,
    not a Python loop per number): per media type the titles to write (a split entry once) by
    MAL's status and the aniSearch status it becomes."""

    outcomes: Counter[Outcome]
    totals: Counter[MediaType]
    pairs: Counter[tuple[MediaType, ListStatus | None, str]]
    mal: Counter[tuple[MediaType, ListStatus | None]]
    rows: int  # rows that write titles, a split entry's parts each
    with_warnings: int
    conflicts: int
    by_policy: int  # dry runs: titles another --on-conflict would treat otherwise

    @classmethod
    def of(cls, decisions: Sequence[Decision], outcomes: Iterable[Outcome]) -> Tally:
        """The counts of a report's entries: their decisions and, in the same order, outcomes."""
        titles, rows = listed_titles(decisions)
        pairs: Counter[tuple[MediaType, ListStatus | None, str]] = Counter()
        for decision in titles:
            body = decision.accepted_body  # MAL's status as mapped, not what a merge sends of it
            if body is not None:
                pairs[(decision.media, decision.mal_status, str(body["status"]))] += 1
        return cls(
            outcomes=Counter(outcomes),
            totals=Counter(map(_MEDIA, titles)),
            pairs=pairs,
            mal=Counter(zip(map(_MEDIA, titles), map(_MAL_STATUS, titles), strict=True)),
            rows=rows,
            with_warnings=sum(map(bool, map(_WARNINGS, decisions))),
            conflicts=sum(map(bool, map(_CONFLICTS, decisions))),
            by_policy=sum(map(bool, map(_BY_POLICY, decisions))),
        )

    def media_summary(self) -> dict[str, dict[str, Any]]:
        """Per media type, the entries to write and their statuses (aniSearch's and MAL's)."""
        media: dict[str, dict[str, Any]] = {}
        for kind in (kind for kind in MediaType if self.totals[kind]):
            statuses: Counter[str] = Counter()
            for (of_kind, _, status), count in self.pairs.items():
                if of_kind is kind:
                    statuses[status] += count
            mal_names: Counter[str] = Counter()
            for (of_kind, mal_status), count in self.mal.items():
                if of_kind is kind and mal_status is not None:
                    mal_names[mal_status_key(mal_status, kind)] += count
            media[kind.value] = {
                "total": self.totals[kind],
                "status": dict(sorted(statuses.items())),
                "mal_status": dict(sorted(mal_names.items())),
            }
        return media


_MEDIA = attrgetter("media")
_MAL_STATUS = attrgetter("mal_status")
_WARNINGS = attrgetter("warnings")
_CONFLICTS = attrgetter("conflicts")
_BY_POLICY = attrgetter("by_policy")


def listed_titles(decisions: Sequence[Decision]) -> tuple[list[Decision], int]:
    """The titles the rows write, one per entry (an entry aniSearch splits in parts has a row
    per part), and how many rows write titles."""
    seen: set[EntryKey] = set()
    titles = []
    rows = 0
    for decision in decisions:
        if decision.action is Action.UPSERT:
            rows += 1
            key = decision.key
            if key is None or key not in seen:
                titles.append(decision)
                if key is not None:
                    seen.add(key)
    return titles, rows
