"""The lines a run says per title before it sends: what changes on aniSearch (old -> new), which
fields changed on both sides since the last sync, and, in a dry run, where another conflict
policy would do otherwise."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from malsync.pipeline.planner import Decision, Verdict

log = logging.getLogger(__name__)


# Verdicts that have a line of their own; other titles only for changes, conflicts, policies.
_TOLD_VERDICTS = (Verdict.DELETE, Verdict.KEPT)


def log_title_lines(decisions: Sequence[Decision], *, dry_run: bool) -> None:
    """One line per title aniSearch already has and the run would change, one per title with
    conflicts, and (dry runs) one per title the policies treat differently; a bundle's once,
    under its first member."""
    told: set[object] = set()
    for decision in decisions:
        key = decision.request_key
        if key is not None and key in told:
            continue
        told.add(key)
        # Most titles have nothing to say: no label is made for them.
        if (
            decision.changes
            or decision.conflicts
            or decision.by_policy
            or decision.verdict in _TOLD_VERDICTS
        ):
            _log_title(decision, dry_run)


def _log_title(decision: Decision, dry_run: bool) -> None:
    """The lines of one title, named as its request is."""
    label = decision.label
    if decision.verdict is Verdict.DELETE:
        # A real run lists them once, where it asks before deleting.
        if dry_run:
            log.info("%s: delete (no longer on your MAL list)", label)
    elif decision.changes and decision.verdict in (Verdict.SEND, Verdict.KEPT):
        diff = "; ".join(f"{name} {old!r} -> {new!r}" for name, old, new in decision.changes)
        verb = "change"
        if decision.verdict is Verdict.KEPT:
            # A reason: the merge kept what was changed on aniSearch alone.
            verb = "kept as changed on aniSearch" if decision.reason else "kept as on aniSearch"
        log.info("%s: %s: %s", label, verb, diff)
    elif decision.verdict is Verdict.KEPT and decision.reason:
        log.info("%s: kept: %s", label, decision.reason)
    if decision.conflicts:
        both = "; ".join(
            f"{c.field} {c.base!r} -> {c.mal!r} on MAL, -> {c.anisearch!r} on aniSearch"
            for c in decision.conflicts
        )
        log.info("%s: changed on both sides since the last sync: %s; MAL's wins", label, both)
    if dry_run and decision.by_policy:
        choices = " | ".join(f"{name}: {effect}" for name, effect in decision.by_policy)
        log.info("%s: by policy: %s", label, choices)
