"""`malsync status`: what the checkpoint knows, for a person."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from malsync.checkpoint import Checkpoint
from malsync.config import Settings
from malsync.providers import MYANIMELIST
from malsync.records import entry_label, mal_link
from malsync.report import capped
from malsync.tokens import TokenStore


def status_lines(settings: Settings) -> list[str]:
    return (
        sign_in_lines(settings)
        + mal_sign_in_lines(settings)
        + checkpoint_lines(settings.sync.state)
    )


def mal_sign_in_lines(settings: Settings, now: float | None = None) -> list[str]:
    """How a live MAL read would authenticate; never the client id or a token."""
    now = time.time() if now is None else now
    mal = settings.myanimelist
    tokens = TokenStore(mal.token_file).load()
    if tokens is not None:
        until = tokens.refresh_expiry(MYANIMELIST.refresh_lifetime_seconds)
        if tokens.expires_at > now or (until is not None and until > now):
            renewable = f", renewable until about {_when(until)}" if until is not None else ""
            return [f"MyAnimeList: signed in (private lists and @me can be read{renewable})."]
        return ["MyAnimeList: the sign-in expired: run malsync login myanimelist again."]
    if mal.client_id is not None:
        return ["MyAnimeList: client id set, not signed in (public lists can be read)."]
    return ["MyAnimeList: not set up (only needed for --mal-user)."]


def sign_in_lines(settings: Settings, now: float | None = None) -> list[str]:
    """Whether a sync can authenticate, and until when; never any part of a token."""
    now = time.time() if now is None else now
    if settings.anisearch.token_origin:
        return [f"Token: from {settings.anisearch.token_origin} (used instead of a sign-in)"]
    tokens = TokenStore(settings.oauth.token_file).load()
    if tokens is None:
        return ["Not signed in (run malsync login, or set ANISEARCH_TOKEN)."]
    scopes = " ".join(sorted(tokens.scopes)) if tokens.scopes is not None else "not stated"
    refresh_until = tokens.refresh_expires_at
    if tokens.expires_at > now:
        line = f"Signed in: access token valid until {_when(tokens.expires_at)}"
    elif refresh_until is not None and refresh_until > now:
        line = "Signed in: the access token expired; the next sync renews it"
    else:
        return [f"Sign-in expired on {_when(tokens.expires_at)}: run malsync login again."]
    if refresh_until is not None:
        line += f", renewable until about {_when(refresh_until)}"
    return [f"{line} (scopes: {scopes})."]


def checkpoint_lines(path: Path) -> list[str]:
    if not path.exists():
        return [f"No checkpoint yet at {path} (the first real sync writes it)."]
    with Checkpoint.open(path, create=False) as checkpoint:
        run = checkpoint.last_run()
        counts = checkpoint.outcome_counts()
        problems = checkpoint.entries(("failed", "not_found"))
    lines = [f"Checkpoint: {path}"]
    if run is None:
        lines.append("No run yet.")
    else:
        started = _when(run.started_at)
        if run.finished_at is None:
            ending = "did not finish (killed or still running)"
        else:
            ending = f"{run.status} at {_when(run.finished_at)}"
        lines.append(f"Last run: started {started}, {ending}")
        if run.counts:
            lines.append("  " + ", ".join(f"{name} {n}" for name, n in run.counts.items()))
    if counts:
        lines.append("Entries: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    if problems:
        lines.append(f"{len(problems)} entries are not on aniSearch as on MAL:")
        listing = []
        for entry in problems:
            label = entry_label(entry.media, entry.mal_id, entry.title)
            link = f" {mal_link(entry.media, entry.mal_id)}" if entry.outcome == "not_found" else ""
            listing.append(f"  {entry.outcome}: {label}: {entry.error}{link}")
        lines.extend(capped(listing))
    return lines


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
