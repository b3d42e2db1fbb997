"""What a run that needs a person tells them, in one message; nothing for a run that went well.

Built from the run's ending alone (pure), so that the message, the quiet run's output and the
tests all read the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from malsync.errors import ExitStatus
from malsync.pipeline.records import Outcome, counted, mal_link
from malsync.redaction import redact
from malsync.report.run_report import ReportEntry, capped

# The codes a person must act on; 1 (some titles) is told through the titles themselves.
FAILED_RUN = frozenset({ExitStatus.BAD_INPUT, ExitStatus.SERVER_STOPPED})


class Severity(str, Enum):
    """As Apprise names its notification types."""

    FAILURE = "failure"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Notice:
    title: str
    lines: tuple[str, ...]
    severity: Severity

    @property
    def body(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class RunEnding:
    """How a sync ended, as far as a person needs to hear of it."""

    status: ExitStatus
    problem: str | None = None  # why it failed or stopped
    new_problems: tuple[ReportEntry, ...] = ()  # titles newly failed or unknown to aniSearch
    sign_in: tuple[str, ...] = ()  # sign-ins that can soon no longer be renewed
    look_closer: str = "malsync status"
    unmatched_file: str | None = None


# Outcomes that mean aniSearch knows no title for the MAL id (404, or its links name none).
_UNKNOWN = frozenset({Outcome.NOT_FOUND, Outcome.UNMATCHED})


def notice_for(ending: RunEnding) -> Notice | None:
    """The one message this run sends, or None: a clean run sends nothing."""
    lines = attention_lines(ending)
    if not lines:
        return None
    if ending.status in FAILED_RUN:
        stopped = ending.status is ExitStatus.SERVER_STOPPED
        title, severity = (
            ("the sync was stopped" if stopped else "the sync could not run"),
            (Severity.FAILURE),
        )
    elif ending.new_problems:
        title, severity = _problems_title(ending.new_problems), Severity.WARNING
    else:
        title, severity = "sign in again soon", Severity.WARNING
    lines.append(f"Look closer: {ending.look_closer}")
    return Notice(f"malsync: {title}", tuple(redact(line) for line in lines), severity)


def attention_lines(ending: RunEnding) -> list[str]:
    """What needs the person: the failure, the new problem titles, sign-ins that run out."""
    lines: list[str] = []
    if ending.status in FAILED_RUN:
        lines.extend(_failure_lines(ending))
    if ending.new_problems:
        lines.extend(new_problem_lines(ending.new_problems, ending.unmatched_file))
    lines.extend(ending.sign_in)
    return lines


def _failure_lines(ending: RunEnding) -> list[str]:
    code = int(ending.status)
    problem = ending.problem or "see the log of the run"
    if ending.status is ExitStatus.SERVER_STOPPED:
        return [
            f"The sync stopped (exit {code}): {problem}",
            "Nothing is lost: the checkpoint is saved, and the next run resumes.",
        ]
    return [
        f"The sync could not run (exit {code}): {problem}",
        "Run the same command by hand to check it once it is fixed.",
    ]


def _problems_title(problems: Sequence[ReportEntry]) -> str:
    unknown = sum(1 for entry in problems if entry.outcome in _UNKNOWN)
    if unknown == len(problems):
        return f"{counted(unknown, 'title')} aniSearch does not know"
    return f"{counted(len(problems), 'title')} not synced"


def new_problem_lines(problems: Sequence[ReportEntry], unmatched_file: str | None) -> list[str]:
    """Each title newly failed or unknown, named with its MAL id and link, and the way out."""
    were = "was" if len(problems) == 1 else "were"
    lines = [f"New since the last run: {counted(len(problems), 'title')} {were} not synced:"]
    listing = []
    for entry in problems:
        item = entry.decision
        assert item.mal_id is not None  # news is only of entries with a MAL id
        link = mal_link(item.media, item.mal_id)
        listing.append(f"  {entry.outcome.value}: {item.label}: {entry.error} {link}")
    lines.extend(capped(listing))
    if any(entry.outcome in _UNKNOWN for entry in problems):
        where = f" (listed in {unmatched_file})" if unmatched_file else ""
        lines.append(
            "A title aniSearch does not know by its MAL id, or links to nothing, can be mapped "
            "by hand under "
            f"[mappings.anime] or [mappings.manga]{where}."
        )
    return lines
