"""`malsync status`: the sign-ins and what the checkpoint knows, for people and (`--json`) scripts.

Each part is a plain document whose "lines" are what a person reads, so the text and the JSON
always say the same.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from malsync.auth.providers import MYANIMELIST
from malsync.auth.tokens import DamagedTokenFile, TokenStore
from malsync.config.settings import AniSearchSettings, MalSettings, default_cache_path
from malsync.errors import CheckpointError, ConfigError
from malsync.pipeline.records import MediaType, entry_label, mal_link
from malsync.report.run_report import capped
from malsync.store.mal_links_cache import describe_age, fetched_at

if TYPE_CHECKING:  # opened by `_read_only`, for `status` only
    from malsync.store.checkpoint import Checkpoint


def status_document(
    anisearch: AniSearchSettings, mal: MalSettings, checkpoint_file: Path, now: float | None = None
) -> dict[str, Any]:
    # The timer's state is for `status` only: a sync asks this module only of its sign-ins.
    from malsync.commands.schedule import schedule_state, unit_folder

    now = time.time() if now is None else now
    return {
        "anisearch": anisearch_sign_in(anisearch, now),
        "myanimelist": mal_sign_in(mal, now),
        "checkpoint": checkpoint_state(checkpoint_file),
        "mal_links": mal_links_state(anisearch, now),
        "schedule": schedule_state(unit_folder(os.environ)),
    }


def status_lines(document: dict[str, Any]) -> list[str]:
    """What a person reads: every part's lines, in order."""
    return [line for part in document.values() for line in part["lines"]]


def _refused_lines(service: str, when: float, command: str) -> list[str]:
    return [
        f"{service}: the sign-in is no longer valid: {service} refused to renew it on "
        f"{_when(when)} (invalid_grant). Run {command} to sign in again."
    ]


def _unreadable(service: str, error: ConfigError) -> dict[str, Any]:
    """A token file that cannot be read is a state to show, with what to do, not a failure."""
    state = "damaged" if isinstance(error, DamagedTokenFile) else "unreadable"
    return {"state": state, "problem": str(error), "lines": [f"{service}: {error}"]}


def mal_sign_in(mal: MalSettings, now: float) -> dict[str, Any]:
    """How a live MAL read would authenticate; never the client id or a token."""
    store = TokenStore(mal.sign_in.token_file, MYANIMELIST.login_command)
    try:
        tokens = store.load()
    except ConfigError as error:
        return _unreadable("MyAnimeList", error)
    refusal = store.refused()
    if tokens is not None and refusal is not None:
        lines = _refused_lines("MyAnimeList", refusal.at, MYANIMELIST.login_command)
        return {"state": "refused", "refused_at": refusal.at, "lines": lines}
    if tokens is not None:
        until = tokens.refresh_expiry(MYANIMELIST.refresh_lifetime_seconds)
        if tokens.expires_at > now or (until is not None and until > now):
            renewable = f", renewable until about {_when(until)}" if until is not None else ""
            line = f"MyAnimeList: signed in (private lists and @me can be read{renewable})."
            return {"state": "signed_in", "renewable_until": until, "lines": [line]}
        line = "MyAnimeList: the sign-in expired: run malsync login myanimelist again."
        return {"state": "expired", "lines": [line]}
    if mal.sign_in.client_id is not None:
        line = "MyAnimeList: client id set, not signed in (public lists can be read)."
        return {"state": "client_id_only", "lines": [line]}
    return {
        "state": "not_set_up",
        "lines": ["MyAnimeList: not set up (only needed for --mal-user)."],
    }


def anisearch_sign_in(anisearch: AniSearchSettings, now: float) -> dict[str, Any]:
    """Whether a sync can authenticate, and until when; never any part of a token."""
    origin = anisearch.token_origin
    if origin:
        line = f"Token: from {origin} (used instead of a sign-in)"
        return {"state": "token", "token_origin": origin, "lines": [line]}
    store = TokenStore(anisearch.sign_in.token_file)
    try:
        tokens = store.load()
    except ConfigError as error:
        return _unreadable("aniSearch", error)
    if tokens is None:
        line = "Not signed in (run malsync login, or set ANISEARCH_TOKEN)."
        return {"state": "not_signed_in", "lines": [line]}
    refusal = store.refused()
    if refusal is not None:
        lines = _refused_lines("aniSearch", refusal.at, "malsync login")
        return {"state": "refused", "refused_at": refusal.at, "lines": lines}
    scopes = sorted(tokens.scopes) if tokens.scopes is not None else None
    refresh_until = tokens.refresh_expires_at
    document: dict[str, Any] = {
        "access_expires_at": tokens.expires_at,
        "renewable_until": refresh_until,
        "scopes": scopes,
    }
    if tokens.expires_at > now:
        state, line = "signed_in", f"Signed in: access token valid until {_when(tokens.expires_at)}"
    elif refresh_until is not None and refresh_until > now:
        state, line = "renewable", "Signed in: the access token expired; the next sync renews it"
    else:
        line = f"Sign-in expired on {_when(tokens.expires_at)}: run malsync login again."
        return {**document, "state": "expired", "lines": [line]}
    if refresh_until is not None:
        line += f", renewable until about {_when(refresh_until)}"
    line += f" (scopes: {' '.join(scopes) if scopes is not None else 'not stated'})."
    return {**document, "state": state, "lines": [line]}


def _read_only(path: Path) -> Checkpoint:
    """The checkpoint, opened to read. SQLite is imported here, for `status` of a checkpoint
    there is, not for every sync that asks `anisearch_sign_in`."""
    from malsync.store.checkpoint import Checkpoint

    return Checkpoint.open(path, create=False, only_reads=True)


def checkpoint_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        line = f"No checkpoint yet at {path} (the first real sync writes it)."
        return {"path": str(path), "exists": False, "lines": [line]}
    try:
        with _read_only(path) as checkpoint:
            run = checkpoint.last_run()
            counts = checkpoint.outcome_counts()
            problems = checkpoint.entries(("failed", "not_found"))
    except CheckpointError as error:
        lines = [f"Checkpoint: {path}", f"  {error}"]
        return {"path": str(path), "exists": True, "problem": str(error), "lines": lines}
    lines = [f"Checkpoint: {path}"]
    last_run: dict[str, Any] | None = None
    if run is None:
        lines.append("No run yet.")
    else:
        last_run = {
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "status": run.status if run.finished_at is not None else "unfinished",
            "counts": run.counts,
        }
        if run.finished_at is None:
            ending = "did not finish (killed or still running)"
        else:
            ending = f"{run.status} at {_when(run.finished_at)}"
        lines.append(f"Last run: started {_when(run.started_at)}, {ending}")
        if run.counts:
            lines.append("  " + _run_counts(run.counts))
    if counts:
        lines.append("Entries: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    listed = []
    for entry in problems:
        listed.append(
            {
                "outcome": entry.outcome,
                "media": entry.media.value,
                "mal_id": entry.mal_id,
                "title": entry.title,
                "error": entry.error,
                "mal_url": mal_link(entry.media, entry.mal_id),
            }
        )
    if problems:
        lines.append(f"{_titles(len(problems))} not on aniSearch as on MAL:")
        listing = []
        for entry in problems:
            label = entry_label(entry.media, entry.mal_id, entry.title)
            link = f" {mal_link(entry.media, entry.mal_id)}" if entry.outcome == "not_found" else ""
            listing.append(f"  {entry.outcome}: {label}: {entry.error}{link}")
        lines.extend(capped(listing))
    return {
        "path": str(path),
        "exists": True,
        "last_run": last_run,
        "entries": counts,
        "problems": listed,
        "lines": lines,
    }


def _run_counts(counts: dict[str, int]) -> str:
    """One run's outcomes; `unchanged` said for what it is, not a title left unsent."""
    return ", ".join(
        f"{name} {n} (already on aniSearch as on MAL)" if name == "unchanged" else f"{name} {n}"
        for name, n in counts.items()
    )


def mal_links_state(
    anisearch: AniSearchSettings, now: float, folder: Path | None = None
) -> dict[str, Any]:
    """How old the kept copy of aniSearch's MAL links is, per media type."""
    if not anisearch.use_mal_links:
        line = "aniSearch's MAL links: not used ([anisearch] use_mal_links = false)."
        return {"state": "off", "lines": [line]}
    folder = default_cache_path() if folder is None else folder
    fetched = {media.value: fetched_at(folder, media) for media in MediaType}
    said = [
        f"{media} fetched {_when(at)} ({describe_age(now - at)} ago)"
        if at is not None
        else f"{media} not fetched yet"
        for media, at in fetched.items()
    ]
    return {
        "state": "kept" if any(at is not None for at in fetched.values()) else "none",
        "folder": str(folder),
        "fetched_at": fetched,
        "lines": [f"aniSearch's MAL links: {'; '.join(said)}."],
    }


def _titles(count: int) -> str:
    return "1 entry is" if count == 1 else f"{count} entries are"


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
