"""The run's account of every entry, built once from the decisions and the results.

A JSON file for machines (`to_json`), a short summary for people (`summary_lines`), and the
list of titles aniSearch does not know (`unmatched.csv`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO

from malsync.errors import ExitStatus, exit_status
from malsync.fileio import atomic_write
from malsync.ids.title_ids import IdSource
from malsync.json_text import write_indented_json
from malsync.pipeline.planner import VERDICT_OUTCOMES, Decision
from malsync.pipeline.records import (
    PROBLEM_OUTCOMES,
    EntryKey,
    ListStatus,
    MediaType,
    Outcome,
    Settlement,
    counted,
    mal_link,
    mal_status_name,
)
from malsync.report.entry_text import entry_text
from malsync.report.links import add_title_fields
from malsync.report.tally import Tally, listed_titles
from malsync.report.warning_groups import sent_with_warnings

LISTING_LIMIT = 50
# Titles aniSearch does not know, or links to nothing: each can be mapped by hand.
UNMATCHED_OUTCOMES = frozenset({Outcome.NOT_FOUND, Outcome.UNMATCHED})
NEWS_OUTCOMES = frozenset({Outcome.FAILED, Outcome.NOT_FOUND})


def is_news_outcome(entry: ReportEntry) -> bool:
    """Failed, unknown to aniSearch by MAL id, or linked to nothing by aniSearch's MAL links:
    what a person is told of (once) by -q and a notification."""
    if entry.outcome in NEWS_OUTCOMES:
        return True
    return entry.outcome is Outcome.UNMATCHED and entry.decision.id_source is IdSource.UNLINKED


def capped(lines: Sequence[str], limit: int = LISTING_LIMIT, where: str = "") -> list[str]:
    """A listing for the terminal: the first `limit` lines and how many more there are."""
    shown = list(lines[:limit])
    if len(lines) > limit:
        shown.append(f"  ... and {len(lines) - limit} more{where}")
    return shown


@dataclass(frozen=True)
class Estimate:
    """What the real run would send, and how long the rate limits make it take.

    `writes` are the planned titles' PUTs and DELETEs, so that the line matches `planned N`;
    `reads` the GETs a real run makes first (the profile, each media type's ratings).
    """

    writes: int
    reads: int
    seconds: float
    own_limits: bool = False  # [limits] differ from aniSearch's documented ones

    @property
    def requests(self) -> int:
        return self.writes + self.reads

    def describe(self) -> str:
        if not self.writes:
            # It still reads: the profile, and the ratings a merge or mal-wins compares with.
            reads = f"would make {counted(self.reads, 'read')} and" if self.reads else "would"
            return f"A real run {reads} send nothing."
        reads = f" after {counted(self.reads, 'read')}" if self.reads else ""
        limits = "your [limits]" if self.own_limits else "aniSearch's rate limits"
        took = "with no waiting" if self.seconds < 1 else _duration(self.seconds)
        return (
            f"A real run would send {counted(self.writes, 'request')} for the planned titles"
            f"{reads}, {took} at {limits}."
        )

    def to_json(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "writes": self.writes,
            "reads": self.reads,
            "seconds": self.seconds,
        }


def _duration(seconds: float) -> str:
    """About how long, in the largest unit that still says something: 10 s is not a minute."""
    if seconds < 60:
        return f"about {counted(math.ceil(seconds), 'second')}"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"about {counted(minutes, 'minute')}"
    return f"about {counted(minutes // 60, 'hour')} {minutes % 60} min"


@dataclass(frozen=True)
class RunInfo:
    """What the report says about the run as a whole."""

    files: tuple[str, ...]
    dry_run: bool
    on_conflict: str | None = None
    compared_with_anisearch: bool | None = None
    backup: str | None = None
    stopped: str | None = None
    stop_status: ExitStatus | None = None
    estimate: Estimate | None = None  # dry runs
    live: bool = False  # the list was read from MAL, not from export files
    # Titles the checkpoint held as failed or not_found before this run: not news any more.
    known_problems: frozenset[EntryKey] = frozenset()


@dataclass(frozen=True, slots=True)
class ReportEntry:
    decision: Decision
    outcome: Outcome
    error: str | None


@dataclass(frozen=True)
class Report:
    entries: tuple[ReportEntry, ...]
    run: RunInfo

    @classmethod
    def build(
        cls, decisions: Sequence[Decision], results: Mapping[int, Settlement], run: RunInfo
    ) -> Report:
        """Each entry's outcome: what its request made of it, else what its verdict means."""
        unsent = Outcome.PLANNED if run.dry_run else Outcome.NOT_SENT
        entries = []
        for index, decision in enumerate(decisions):
            settled = results.get(index)
            if settled is not None:
                entries.append(ReportEntry(decision, settled.outcome, settled.error))
                continue
            outcome = VERDICT_OUTCOMES.get(decision.verdict, unsent)
            entries.append(ReportEntry(decision, outcome, decision.reason))
        return cls(tuple(entries), run)

    @property
    def exit_status(self) -> ExitStatus:
        return exit_status(self.run.stop_status, len(self.problems()))

    def counts(self) -> Counter[Outcome]:
        return Counter(entry.outcome for entry in self.entries)

    def problems(self) -> list[ReportEntry]:
        return [entry for entry in self.entries if entry.outcome in PROBLEM_OUTCOMES]

    def new_problems(self) -> list[ReportEntry]:
        """Titles that failed or that aniSearch did not know this run, and did not before:
        each is told once, not every night."""
        return [
            entry
            for entry in self.entries
            if is_news_outcome(entry)
            and entry.decision.mal_id is not None
            and entry.decision.key not in self.run.known_problems
        ]

    @cached_property
    def tally(self) -> Tally:
        """The numbers every summary of this report is made of, counted once: the report does
        not change (the summary lines, the JSON report and the checkpoint all ask for them)."""
        decisions = [entry.decision for entry in self.entries]
        return Tally.of(decisions, (entry.outcome for entry in self.entries))

    def summary(self) -> dict[str, Any]:
        """The run in numbers."""
        tally = self.tally
        run = self.run
        summary: dict[str, Any] = {
            "dry_run": run.dry_run,
            "files": list(run.files),
            "total": len(self.entries),
            "outcomes": {outcome.value: n for outcome, n in sorted(tally.outcomes.items())},
            "media": tally.media_summary(),
            "with_warnings": tally.with_warnings,
            "deletions": len(self.entries) - tally.rows,
            "conflicts": tally.conflicts,
            "stopped": run.stopped,
        }
        if run.on_conflict is not None:
            summary["on_conflict"] = run.on_conflict
            summary["compared_with_anisearch"] = run.compared_with_anisearch
        if run.backup is not None:
            summary["backup"] = run.backup
        if run.estimate is not None:
            summary["estimate"] = run.estimate.to_json()
        return summary

    def to_json(self) -> dict[str, Any]:
        document = self.json_document()
        document["entries"] = list(document["entries"])
        return document

    def json_document(self) -> dict[str, Any]:
        """`to_json` with its entries made one by one as a writer takes them, so that 20,000
        of them are never all held (nor walked by the garbage collector) at once."""
        return {"summary": self.summary(), "entries": map(_entry_json, self.entries)}

    def listed(self) -> list[Decision]:
        """The listed entries, one row each: an entry aniSearch splits in parts has a row per
        part, and counts once."""
        return listed_titles([entry.decision for entry in self.entries])[0]

    def unmatched(self) -> list[Decision]:
        """Titles aniSearch does not know (or links to nothing), for fixing by hand."""
        seen: set[EntryKey] = set()
        found = []
        for entry in self.entries:
            key = entry.decision.key
            if entry.outcome in UNMATCHED_OUTCOMES and key is not None and key not in seen:
                seen.add(key)
                found.append(entry.decision)
        return found


def _entry_json(entry: ReportEntry) -> dict[str, Any]:
    item = entry.decision
    mal_id = item.mal_id
    fields = {
        "action": item.action.value,
        "media": item.media.value,
        "mal_id": mal_id,
        "title": item.title,
        "outcome": entry.outcome.value,
        "payload": item.payload,
        "warnings": list(item.warnings),
        "error": entry.error,
        "mal_url": mal_link(item.media, mal_id) if mal_id is not None else None,
        "source": item.source,
        "on_anisearch_before": item.existed,
        "changes": [{"field": name, "old": old, "new": new} for name, old, new in item.changes],
        # Fields changed on MAL and on aniSearch since the last sync (merge; MAL's value sent).
        "conflicts": [
            {"field": c.field, "base": c.base, "mal": c.mal, "anisearch": c.anisearch}
            for c in item.conflicts
        ],
        # A dry run's titles that another --on-conflict would treat otherwise: each one's effect.
        "by_policy": dict(item.by_policy) if item.by_policy else None,
    }
    add_title_fields(fields, item, unmatched=entry.outcome in UNMATCHED_OUTCOMES)
    return fields


HTML_SUFFIXES = frozenset({".html", ".htm"})


def write_report(report: Report, path: Path) -> None:
    """JSON, or an HTML page when the file name ends in .html (or .htm)."""

    def dump(handle: TextIO) -> None:
        if path.suffix.lower() in HTML_SUFFIXES:
            from malsync.report.html import render_html  # the page's code, for a page only

            handle.write(render_html(report.to_json()))
            return
        write_indented_json(report.json_document(), handle, item_text=entry_text)
        handle.write("\n")

    atomic_write(path, dump)


def checkpoint_saved(run: RunInfo) -> str:
    """What is safe when a file of the run's could not be written: a dry run keeps nothing."""
    return "" if run.dry_run else " (the checkpoint is saved)"


def summary_lines(report: Report) -> list[str]:
    """What a person reads at a glance at the end of a run."""
    lines = []
    run = report.run
    if run.dry_run:
        lines.append("Dry run: nothing was sent to aniSearch.")
    tally = report.tally  # one pass over the entries for all of the numbers below
    summary = report.summary()
    for kind, numbers in summary["media"].items():
        statuses = _status_pairs(tally, MediaType(kind))
        detail = f" ({statuses})" if statuses else ""
        lines.append(f"{kind}: {counted(numbers['total'], 'entry', 'entries')}{detail}")
    if not summary["media"]:
        lines.append(
            "No entries on the MAL list." if run.live else "No entries in the given exports."
        )
    outcomes = _outcome_text(summary["outcomes"])
    if outcomes:
        lines.append(f"Outcome: {outcomes}")
    if run.estimate is not None:
        lines.append(run.estimate.describe())
    if summary["deletions"]:
        gone = counted(summary["deletions"], "title")
        are = "is" if summary["deletions"] == 1 else "are"
        where = "on the MAL list" if run.live else "in the exports"
        lines.append(
            f"{gone} malsync wrote {are} no longer {where} "
            "(--delete-missing); the outcomes above include them."
        )
    lines.extend(_merge_lines(tally, run.dry_run))
    # The same titles, in the same unit, as the grouped warning lines before the run.
    warned = len(sent_with_warnings([entry.decision for entry in report.entries]))
    if warned:
        lines.append(
            f"{counted(warned, 'title has', 'titles have')} warnings (repairs or values left "
            "out); --report lists them."
        )
    lines.extend(problem_lines(report.problems(), run.dry_run))
    if run.stopped:
        lines.append(f"Stopped: {run.stopped}")
    return lines


def _merge_lines(tally: Tally, dry_run: bool) -> list[str]:
    """How many titles changed on both sides, and (dry runs) how many another policy would
    treat otherwise: each is listed above with -v's info lines and in the report."""
    lines = []
    both = tally.conflicts
    if both:
        sent = "are sent" if dry_run else "were sent"
        lines.append(
            f"{counted(both, 'title was', 'titles were')} changed on both MAL and aniSearch since "
            f"the last sync: MAL's values {sent} (the report lists them as conflicts)."
        )
    differ = tally.by_policy
    if differ:
        lines.append(
            f"Another --on-conflict would treat {counted(differ, 'title')} otherwise (the lines "
            "above and the report's by_policy say how)."
        )
    return lines


def _status_pairs(tally: Tally, media: MediaType) -> str:
    """MAL's status beside the aniSearch status it becomes: "Plan to Watch → bookmark 15"."""
    pairs: Counter[tuple[ListStatus | None, str]] = Counter()
    for (of_kind, mal, anisearch), count in tally.pairs.items():
        if of_kind is media:
            pairs[(mal, anisearch)] += count
    order = list(ListStatus)

    def position(pair: tuple[ListStatus | None, str]) -> tuple[int, str]:
        status = pair[0]
        return (order.index(status) if status is not None else len(order), pair[1])

    return ", ".join(
        f"{mal_status_name(mal, media)} → {anisearch} {n}" if mal else f"{anisearch} {n}"
        for (mal, anisearch), n in sorted(pairs.items(), key=lambda item: position(item[0]))
    )


def _outcome_text(counts: Mapping[str, int]) -> str:
    """Outcome counts; entries a stopped run did not get to come last, with how to go on."""
    shown = [f"{name} {n}" for name, n in counts.items() if name != Outcome.NOT_SENT.value]
    not_sent = counts.get(Outcome.NOT_SENT.value, 0)
    if not_sent:
        shown.append(f"not sent {not_sent} (run the same command again to continue)")
    return ", ".join(shown)


def problem_lines(problems: Sequence[ReportEntry], dry_run: bool) -> list[str]:
    if not problems:
        return []
    verb = (
        "cannot be sent"
        if dry_run
        else "was not synced"
        if len(problems) == 1
        else "were not synced"
    )
    listing = []
    for entry in problems:
        item = entry.decision
        link = entry.outcome is Outcome.NOT_FOUND and item.mal_id is not None
        where = f" {mal_link(item.media, item.mal_id)}" if link and item.mal_id else ""
        listing.append(f"  {entry.outcome.value}: {item.label}: {entry.error}{where}")
    entries = counted(len(problems), "entry", "entries")
    return [f"{entries} {verb}:", *capped(listing, where=" in the report")]
