"""The sync command's work, in named stages.

read the sources and `build_plan` (pure) → the title stage, `assign_titles` (pure, with the
run's ids: hand mappings and aniSearch's MAL links) → `decide` against the baseline (pure; the
checkpoint, then what aniSearch holds) → `execute` through one aniSearch session → the report.
A dry run stops after `decide`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from malsync.anisearch.account import Profile, bind_account, reads_profile
from malsync.anisearch.ratelimit import rate_windows, time_needed
from malsync.anisearch.session import (
    AniSearchSession,
    ClientFactory,
    SessionFactory,
    check_scopes,
)
from malsync.auth.token_source import NotSignedIn
from malsync.commands.sync_deletions import (
    ConfirmDeletions,
    deletions_still_gone,
    say_left,
)
from malsync.commands.sync_deletions import confirm_deletions as confirm
from malsync.commands.sync_run import send_run
from malsync.config.settings import ConflictPolicy, Limits, MappingOptions
from malsync.errors import ConfigError, ExitStatus, ServerStop
from malsync.ids.lookup import IdLookup
from malsync.ids.titles import assign_titles
from malsync.pipeline.planner import (
    Baseline,
    Decision,
    Policy,
    Verdict,
    build_plan,
    decide,
)
from malsync.pipeline.policy_choices import with_policy_choices
from malsync.pipeline.records import ImportedEntry, MediaType, entry_label
from malsync.pipeline.uploader import Progress, requests_of
from malsync.report.run_report import Estimate, Report, RunInfo
from malsync.report.title_lines import log_title_lines
from malsync.report.warning_groups import log_unreadable_ids, log_warnings
from malsync.sources import Source

if TYPE_CHECKING:  # made, read or opened where a run needs them: not by a dry run offline
    from malsync.anisearch.client import AniSearchClient
    from malsync.anisearch.ratings import RatingsRead
    from malsync.store.checkpoint import Checkpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncSetup:
    """What a sync is made of, apart from this invocation's choices: the composition root
    builds it from the settings (the command line's --state and --on-conflict included)."""

    mapping: MappingOptions
    ids: TitleIdsFactory  # the run's aniSearch ids: hand mappings and aniSearch's MAL links
    on_conflict: ConflictPolicy
    checkpoint_file: Path  # backups go beside it
    limits: Limits  # for a dry run's estimate
    anisearch_url: str  # named in each backup
    open_session: SessionFactory
    connect: ClientFactory  # a real run's client, made before the checkpoint


@dataclass(frozen=True)
class SyncRequest:
    """This invocation's choices; the checkpoint path and conflict policy are in `SyncSetup`."""

    sources: tuple[Source, ...]
    dry_run: bool = False
    force: bool = False
    remote_diff: bool = True
    delete_missing: bool = False
    retry_unmatched: bool = False


class TitleIdsFactory(Protocol):
    def __call__(self, media: frozenset[MediaType], *, may_ask: bool) -> IdLookup:
        """The ids for a run of `media`; `may_ask`: aniSearch's links may be downloaded."""
        ...


@dataclass(frozen=True)
class Plan:
    """Every source read and mapped: what the run would send before looking at anything else."""

    decisions: list[Decision]
    origins: tuple[str, ...]
    media: frozenset[MediaType]  # what the sources list whole: --delete-missing stays inside
    live: tuple[Source, ...] = ()  # sources read from a service, which can change while read
    held: frozenset[MediaType] = frozenset()  # what they hold entries of: read from aniSearch
    owners: Mapping[str, str] = field(default_factory=dict)  # each source's list, by origin
    lists: Mapping[MediaType, frozenset[str]] = field(default_factory=dict)  # see Policy.lists


def read_plan(setup: SyncSetup, sources: Sequence[Source]) -> Plan:
    """Read every source before anything is sent: a bad one must stop the run while harmless."""
    entries: list[ImportedEntry] = []
    origins: list[str] = []
    media: set[MediaType] = set()
    live: list[Source] = []
    owners: dict[str, str] = {}
    lists: dict[MediaType, frozenset[str]] = {}
    for source in sources:
        read = source.read()
        origins.append(read.origin)
        media |= read.media
        entries.extend(read.entries)
        if read.live:
            live.append(source)
        if read.list_name is not None:
            owners[read.origin] = read.list_name
            for kind in read.media:
                lists[kind] = lists.get(kind, frozenset()) | {read.list_name.casefold()}
    decisions = build_plan(entries, setup.mapping)
    bodies = log.isEnabledFor(logging.DEBUG)  # only -v shows them: not made for nothing
    for decision in decisions:
        if decision.verdict is Verdict.SUPERSEDED:
            log.warning("%s: %s", _label(decision), decision.reason)
        elif bodies and decision.payload is not None and decision.verdict is Verdict.SEND:
            log.debug("%s: %s", _label(decision), json.dumps(decision.payload, ensure_ascii=False))
    held = frozenset(media | {entry.media for entry in entries})
    return Plan(decisions, tuple(origins), frozenset(media), tuple(live), held, owners, lists)


def _label(decision: Decision) -> str:
    return entry_label(decision.media, decision.mal_id, decision.title)


def run_sync(
    setup: SyncSetup,
    request: SyncRequest,
    progress: Progress | None = None,
    confirm_deletions: ConfirmDeletions | None = None,
) -> Report:
    on_conflict = _check_combination(setup.on_conflict, request)
    plan = read_plan(setup, request.sources)
    policy = _policy(on_conflict, request, plan)
    run = RunInfo(plan.origins, request.dry_run, live=bool(plan.live))
    with ExitStack() as stack:
        client = _client(setup, request, stack)
        checkpoint = _open_checkpoint(setup.checkpoint_file, request, stack)
        if checkpoint is not None:
            told = checkpoint.problem_titles() | checkpoint.unlinked_titles()
            run = replace(run, known_problems=told)
        # The title stage. aniSearch's links are asked for only by a run that talks to it: a
        # real one, or a dry run that is signed in and reads the ratings.
        talks = client is not None and (not request.dry_run or request.remote_diff)
        ids = setup.ids(plan.held, may_ask=talks)
        titled = assign_titles(plan.decisions, ids)
        baseline = _checkpoint_baseline(checkpoint, request, ids)
        decisions = decide(titled, baseline, policy)
        say_left(titled, baseline, policy)
        # A run that reads aniSearch needs the scopes of every media type it reads.
        reads = plan.held if request.remote_diff else _written_media(decisions)
        session = _connect(setup.open_session, request, reads, checkpoint, stack, client)
        profile = _bind(session, checkpoint, request)
        fetched: RatingsRead | None = None
        if session is not None and request.remote_diff:
            # Every run reads: what the user did on aniSearch since (an edit, a deletion) is
            # merged, or undone by mal-wins, even when nothing changed on MAL.
            from malsync.anisearch.ratings import KnownRatings, fetch_ratings  # needs a session

            try:
                known = KnownRatings.of(checkpoint, profile)
                fetched = fetch_ratings(session, plan.held, known)
            except ServerStop as stop:
                stopped = replace(run, stopped=str(stop), stop_status=ExitStatus.SERVER_STOPPED)
                return Report.build(decisions, {}, stopped)
            read = replace(baseline, anisearch=fetched.ratings)
            decide_all = with_policy_choices if request.dry_run else decide
            decisions = decide_all(titled, read, policy)
        run = replace(
            run, on_conflict=policy.on_conflict.value, compared_with_anisearch=fetched is not None
        )
        log_title_lines(decisions, dry_run=request.dry_run)
        log_warnings(decisions)  # after decide: only for titles this run would send
        if request.dry_run:
            return _dry_run_report(setup, request, plan, decisions, session, run)
        assert checkpoint is not None and session is not None
        decisions = deletions_still_gone(plan.live, decisions)
        confirm(decisions, confirm_deletions)
        return send_run(setup, checkpoint, session, decisions, fetched, run, progress, plan.owners)


def _policy(on_conflict: ConflictPolicy, request: SyncRequest, plan: Plan) -> Policy:
    """The run's choices for the planner; with --delete-missing, first the lines for what it
    cannot delete: lists not read whole."""
    if request.delete_missing:
        log_unreadable_ids(plan.decisions)
    return Policy(
        on_conflict,
        request.force,
        request.retry_unmatched,
        request.delete_missing,
        plan.media,
        plan.lists,
    )


def _client(setup: SyncSetup, request: SyncRequest, stack: ExitStack) -> AniSearchClient | None:
    """A real run's client, or the refusal (no contact, no token) before the checkpoint is made,
    so that a refused first run leaves no file behind; a dry run's if it is signed in."""
    try:
        client = setup.connect()
    except ConfigError:
        if not request.dry_run:
            raise
        return None
    stack.callback(client.close)
    return client


def _dry_run_report(
    setup: SyncSetup,
    request: SyncRequest,
    plan: Plan,
    decisions: list[Decision],
    session: AniSearchSession | None,
    run: RunInfo,
) -> Report:
    list_reads = len(plan.held) * request.remote_diff
    scopes = session.scopes if session is not None else None
    estimate = estimate_run(setup.limits, decisions, list_reads, scopes)
    return Report.build(decisions, {}, replace(run, estimate=estimate))


def estimate_run(
    limits: Limits,
    decisions: Sequence[Decision],
    list_reads: int,
    scopes: frozenset[str] | None = None,
) -> Estimate:
    """The requests a real run would send: a PUT per SEND, a DELETE per DELETE (one per
    aniSearch title: a bundle's members are one), and the reads it makes first, whether or not
    it then sends anything (the profile unless the sign-in lacks its scope, then `list_reads`
    rating lists); and the time the limits give them, as the progress bar reckons it."""
    requests = [decisions[rows[0]] for rows in requests_of(decisions)]
    puts = sum(1 for d in requests if d.verdict is Verdict.SEND)
    deletes = sum(1 for d in requests if d.verdict is Verdict.DELETE)
    reads = list_reads + reads_profile(scopes)
    seconds = time_needed(rate_windows(limits), puts, deletes + reads)
    return Estimate(puts + deletes, reads, seconds, own_limits=limits != Limits())


def _check_combination(policy: ConflictPolicy, request: SyncRequest) -> ConflictPolicy:
    """The policy the run uses. Without the read, a merge has no aniSearch side to weigh: it
    is mal-wins trusting the checkpoint, as --no-remote-diff always was (a title changed on
    MAL since the last sync is sent whole), so that a command line with --no-remote-diff
    keeps working now that merge is the default. The other policies are refused."""
    if request.remote_diff:
        return policy
    if request.delete_missing or policy not in (ConflictPolicy.MAL_WINS, ConflictPolicy.MERGE):
        raise ConfigError(
            "--no-remote-diff cannot be combined with --on-conflict "
            f"{policy.value} or --delete-missing: both need to read what aniSearch holds"
        )
    if policy is ConflictPolicy.MERGE:
        log.info(
            "--no-remote-diff: nothing to merge with without reading aniSearch; titles changed "
            "on MAL since the last sync are sent whole (mal-wins)"
        )
    return ConflictPolicy.MAL_WINS


def _written_media(decisions: Sequence[Decision]) -> frozenset[MediaType]:
    return frozenset(d.media for d in decisions if d.verdict is Verdict.SEND)


def _open_checkpoint(path: Path, request: SyncRequest, stack: ExitStack) -> Checkpoint | None:
    """A real run holds the checkpoint for itself; a dry run reads it only if there is one.

    A dry run changes no entry in it; it notes only its reads, so that a run right after it
    still respects the rate window.
    """
    if request.dry_run and not path.exists():
        return None
    from malsync.store.checkpoint import Checkpoint  # SQLite: only for a checkpoint that exists

    checkpoint = stack.enter_context(
        Checkpoint.open(
            path,
            create=not request.dry_run,
            exclusive=not request.dry_run,
            only_reads=request.dry_run,
        )
    )
    if not request.dry_run:
        checkpoint.forget_old_requests()
    return checkpoint


def _checkpoint_baseline(
    checkpoint: Checkpoint | None, request: SyncRequest, ids: IdLookup
) -> Baseline:
    if checkpoint is None:
        return Baseline(now=time.time(), ids=ids)
    return Baseline(
        accepted=checkpoint.accepted_hashes(),
        bases=checkpoint.accepted_bodies() if request.remote_diff else {},
        unmatched=checkpoint.unmatched(),
        written=checkpoint.written_titles() if request.delete_missing else {},
        writers=checkpoint.writers() if request.delete_missing else {},
        now=time.time(),
        titles=checkpoint.kept_titles(),
        title_bases=checkpoint.accepted_bodies(titles=True) if request.remote_diff else {},
        ids=ids,
    )


def _connect(
    open_session: SessionFactory,
    request: SyncRequest,
    media: frozenset[MediaType],
    checkpoint: Checkpoint | None,
    stack: ExitStack,
    client: AniSearchClient | None = None,
) -> AniSearchSession | None:
    """The session for a real run (or fail here, before anything is sent: no token, contact or
    scope for `media`, a plain-http URL, a checkpoint of another account); for a dry run, one
    only where it can read aniSearch, else None and the plan is not compared."""
    try:
        session = open_session(checkpoint, client)
        stack.callback(session.close)
        check_scopes(session.scopes, media)
    except ConfigError as error:
        if not request.dry_run:
            raise
        if request.remote_diff:
            reason = "not signed in" if isinstance(error, NotSignedIn) else str(error)
            log.info("Not compared with your ratings on aniSearch (%s).", reason)
        return None
    return session


def _bind(
    session: AniSearchSession | None, checkpoint: Checkpoint | None, request: SyncRequest
) -> Profile | None:
    """Refuse a checkpoint of another account (see account.py); the profile, if read."""
    if session is None or checkpoint is None:
        return None
    try:
        return bind_account(session, checkpoint, store=not request.dry_run)
    except ServerStop:
        if not request.dry_run:
            raise  # a dry run meets the same stop when it reads the ratings, and reports it
        return None
