"""Which aniSearch account a checkpoint belongs to: noted at the first run, checked at every one.

The checkpoint says which titles aniSearch holds as malsync sent them. For another account that
is false, and a run signed in there would skip those titles as `unchanged`. So the account
(`GET /v1/my/profile`, scope user.profile: its `id` and `name`) is kept in the checkpoint's meta
table, and a run signed in to another account is refused before anything is sent.

Where the profile cannot be read (a token without user.profile, such as an ANISEARCH_TOKEN made
without it; a sign-in from before malsync asked for it; a failing server) malsync warns once and
goes on unchecked, as it did before: refusing would lock every such token out for a check that
only the token's owner can fix.

The profile's statistics also count the ratings per media type: a check that an empty list of
ratings is really empty (`anisearch/ratings.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.anisearch.session import RequestFailed
from malsync.errors import CheckpointError
from malsync.pipeline.records import MediaType

if TYPE_CHECKING:  # opened by the command; a dry run without one never loads it
    from malsync.store.checkpoint import Checkpoint

log = logging.getLogger(__name__)

ACCOUNT_KEY = "account"
PROFILE_SCOPE = "user.profile"
_NAME_LIMIT = 64


@dataclass(frozen=True)
class Account:
    id: str
    name: str

    def describe(self) -> str:
        return f"{self.name} (id {self.id})" if self.name else f"id {self.id}"

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "name": self.name})


@dataclass(frozen=True)
class Profile:
    """The signed-in account, and how many ratings its profile counts per media type (a media
    type whose statistics are missing or not plain counts is left out: unknown)."""

    account: Account
    rated: Mapping[MediaType, int] = field(default_factory=dict)


def rated_counts(data: object) -> dict[MediaType, int]:
    """`statistics.anime` and `statistics.manga` summed (ratings per status). Their exact
    fields are not documented: a media type counts only where every value is a count."""
    statistics = data.get("statistics") if isinstance(data, dict) else None
    counts: dict[MediaType, int] = {}
    for media in MediaType:
        per_status = statistics.get(media.value) if isinstance(statistics, dict) else None
        values = list(per_status.values()) if isinstance(per_status, dict) else []
        plain = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)
        if values and plain:
            counts[media] = sum(values)
    return counts


class AccountMismatch(CheckpointError):
    """The checkpoint belongs to another aniSearch account than the one signed in."""


class ProfileReader(Protocol):
    @property
    def scopes(self) -> frozenset[str] | None: ...

    def get_profile(self, label: str) -> ApiResponse: ...


def account_from(data: object) -> Account | None:
    """The account in a profile answer (or in the checkpoint); None without a usable id."""
    if not isinstance(data, dict):
        return None
    raw_id, raw_name = data.get("id"), data.get("name")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not str(raw_id).strip():
        return None
    name = "".join(c for c in raw_name if c.isprintable()) if isinstance(raw_name, str) else ""
    return Account(str(raw_id).strip()[:_NAME_LIMIT], name.strip()[:_NAME_LIMIT])


def reads_profile(scopes: frozenset[str] | None) -> bool:
    """Whether a run asks for the profile: not with a sign-in known to lack the scope."""
    return scopes is None or PROFILE_SCOPE in scopes


def signed_in_account(session: ProfileReader) -> tuple[Profile | None, str]:
    """The signed-in account's profile, or None and why it cannot be known."""
    if not reads_profile(session.scopes):
        return None, f"the sign-in lacks the scope {PROFILE_SCOPE}; malsync login adds it"
    try:
        response = session.get_profile("reading your aniSearch profile")
    except RequestFailed as failure:
        return None, f"reading the profile failed: {failure}"
    if response.meaning is not ResponseMeaning.OK:
        return None, f"reading the profile failed: {response.describe()}"
    account = account_from(response.body)
    if account is None:
        return None, "the profile answer names no account id"
    return Profile(account, rated_counts(response.body)), ""


def bind_account(session: ProfileReader, checkpoint: Checkpoint, *, store: bool) -> Profile | None:
    """Refuse a checkpoint of another account; note the account in one that has none yet.
    The profile, where it could be read."""
    profile, why_not = signed_in_account(session)
    stored = account_from(_loads(checkpoint.meta(ACCOUNT_KEY)))
    if profile is None:
        owner = f" (it belongs to {stored.describe()})" if stored else ""
        log.warning(
            "Could not check which aniSearch account you are signed in to (%s); going on "
            "without checking that the checkpoint%s is this account's.",
            why_not,
            owner,
        )
        return None
    account = profile.account
    if stored is None:
        if store:
            checkpoint.set_meta(ACCOUNT_KEY, account.to_json())
        return profile
    if stored.id != account.id:
        raise AccountMismatch(
            f"{checkpoint.path}: this checkpoint belongs to the aniSearch account "
            f"{stored.describe()}, but you are signed in as {account.describe()}; use another "
            "--state for this account (or sign in as the other one). Nothing was sent."
        )
    return profile


def _loads(text: str | None) -> object:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
