"""The run's account of every entry: a JSON file for machines and a short summary for people."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from malsync.errors import ExitStatus
from malsync.planner import Action, Outcome, PlanItem
from malsync.records import MediaType, entry_label, mal_link

# Outcomes a person must act on; any of them makes the run exit 1.
PROBLEM_OUTCOMES = (Outcome.INVALID, Outcome.FAILED, Outcome.NOT_FOUND)
LISTING_LIMIT = 50


def capped(lines: Sequence[str], limit: int = LISTING_LIMIT, where: str = "") -> list[str]:
    """A listing for the terminal: the first `limit` lines and how many more there are."""
    shown = list(lines[:limit])
    if len(lines) > limit:
        shown.append(f"  ... and {len(lines) - limit} more{where}")
    return shown


@dataclass
class Report:
    items: list[PlanItem]
    files: list[str]
    dry_run: bool
    stopped: str | None = None
    stopped_status: ExitStatus | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> Counter[Outcome]:
        return Counter(item.outcome for item in self.items)

    def problems(self) -> list[PlanItem]:
        return [item for item in self.items if item.outcome in PROBLEM_OUTCOMES]

    def summary(self) -> dict[str, Any]:
        media: dict[str, dict[str, Any]] = {}
        exported = [item for item in self.items if item.action is Action.UPSERT]
        for kind in MediaType:
            of_kind = [item for item in exported if item.media is kind]
            if not of_kind:
                continue
            statuses = Counter(
                str(item.payload["status"]) for item in of_kind if item.payload is not None
            )
            media[kind.value] = {"total": len(of_kind), "status": dict(sorted(statuses.items()))}
        return {
            "dry_run": self.dry_run,
            "files": self.files,
            "total": len(self.items),
            "outcomes": {outcome.value: n for outcome, n in sorted(self.counts().items())},
            "media": media,
            "with_warnings": sum(1 for item in self.items if item.warnings),
            "deletions": len(self.items) - len(exported),
            "stopped": self.stopped,
            **self.extra,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "entries": [_entry_json(item) for item in self.items]}


def _entry_json(item: PlanItem) -> dict[str, Any]:
    return {
        "action": item.action.value,
        "media": item.media.value,
        "mal_id": item.mal_id,
        "title": item.title,
        "outcome": item.outcome.value,
        "payload": item.payload,
        "warnings": list(item.warnings),
        "error": item.error,
        "mal_url": mal_link(item.media, item.mal_id) if item.mal_id is not None else None,
        "source": item.source,
        "on_anisearch_before": item.existed,
        "changes": [{"field": name, "old": old, "new": new} for name, old, new in item.changes],
    }


def write_report(report: Report, path: Path) -> None:
    _write_atomically(path, lambda handle: _dump_json(report, handle))


def _dump_json(report: Report, handle: TextIO) -> None:
    json.dump(report.to_json(), handle, ensure_ascii=False, indent=2)
    handle.write("\n")


UNMATCHED_FILE = "unmatched.csv"


def write_unmatched(report: Report, path: Path) -> int:
    """The titles aniSearch does not know by MAL id, for fixing by hand ([mappings])."""
    rows = [
        item
        for item in report.items
        if item.outcome in (Outcome.NOT_FOUND, Outcome.UNMATCHED) and item.mal_id is not None
    ]

    def dump(handle: TextIO) -> None:
        writer = csv.writer(handle)
        writer.writerow(["mal_id", "title", "type", "mal_url"])
        for item in rows:
            assert item.mal_id is not None
            writer.writerow(
                [item.mal_id, item.title, item.media.value, mal_link(item.media, item.mal_id)]
            )

    _write_atomically(path, dump)
    return len(rows)


def _write_atomically(path: Path, write: Callable[[TextIO], None]) -> None:
    """A reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def summary_lines(report: Report) -> list[str]:
    """What a person reads at a glance at the end of a run."""
    lines = []
    if report.dry_run:
        lines.append("Dry run: nothing was sent to aniSearch.")
    summary = report.summary()
    for kind, numbers in summary["media"].items():
        statuses = ", ".join(f"{name} {n}" for name, n in numbers["status"].items())
        detail = f" ({statuses})" if statuses else ""
        lines.append(f"{kind}: {numbers['total']} entries{detail}")
    if not summary["media"]:
        lines.append("No entries in the given exports.")
    outcomes = ", ".join(f"{name} {n}" for name, n in summary["outcomes"].items())
    if outcomes:
        lines.append(f"Outcome: {outcomes}")
    if summary["deletions"]:
        lines.append(
            f"{summary['deletions']} titles malsync wrote are no longer in the exports "
            "(--delete-missing); the outcomes above include them."
        )
    if summary["with_warnings"]:
        lines.append(
            f"{summary['with_warnings']} entries have warnings (repairs or values left out);"
            " --report lists them."
        )
    lines.extend(_problem_lines(report.problems(), report.dry_run))
    if report.stopped:
        lines.append(f"Stopped: {report.stopped}")
    return lines


def _problem_lines(problems: Sequence[PlanItem], dry_run: bool) -> list[str]:
    if not problems:
        return []
    verb = "cannot be sent" if dry_run else "were not synced"
    listing = []
    for item in problems:
        link = item.outcome is Outcome.NOT_FOUND and item.mal_id is not None
        where = f" {mal_link(item.media, item.mal_id)}" if link and item.mal_id else ""
        label = entry_label(item.media, item.mal_id, item.title)
        listing.append(f"  {item.outcome.value}: {label}: {item.error}{where}")
    return [f"{len(problems)} entries {verb}:", *capped(listing, where=" in the report")]
