"""The token store: the OAuth tokens of the signed-in user, in a file only that user can read."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: renewals are not guarded against each other
    fcntl = None  # type: ignore[assignment]

from malsync.errors import ConfigError, ExitStatus, MalsyncError
from malsync.fileio import atomic_write
from malsync.redaction import Secret

log = logging.getLogger(__name__)

# aniSearch's refresh tokens last 30 days; the token response does not say so itself.
REFRESH_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600
# How long a renewal waits for another run's: that one is one bounded token request.
RENEWAL_WAIT_SECONDS = 90.0


class TokenRenewalError(MalsyncError):
    """The stored sign-in could not be renewed; the user must sign in again."""

    exit_status = ExitStatus.SERVER_STOPPED


class TokenRefused(TokenRenewalError):
    """The service refused the refresh token itself (invalid_grant): only a new sign-in helps."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # the service's answer alone, without what to do about it


class DamagedTokenFile(ConfigError):
    """The token file holds no readable sign-in; only signing in again (or deleting it) helps."""

    def __init__(self, path: Path, login_command: str) -> None:
        super().__init__(f"{path}: the token file is damaged; run {login_command} again")
        self.path = path


class TokenSource(Protocol):
    """Where the API client gets its access token; a stored sign-in renews itself."""

    @property
    def renew_hint(self) -> str: ...

    @property
    def scopes(self) -> frozenset[str] | None: ...

    def current(self) -> Secret:
        """The token to send now; may renew first (raises TokenRenewalError if it cannot)."""
        ...

    def renew(self) -> bool:
        """After a 401: get a new token; False when this source cannot renew."""
        ...


@dataclass(frozen=True)
class TokenSet:
    access_token: Secret
    refresh_token: Secret | None
    expires_at: float
    scopes: frozenset[str] | None  # None: the server did not say
    obtained_at: float

    @classmethod
    def from_response(cls, data: dict[str, Any], now: float | None = None) -> TokenSet:
        """Build from a token endpoint's JSON answer; raises ValueError if it is not one."""
        now = time.time() if now is None else now
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("the answer holds no access_token")
        if not Secret(access).fits_header():
            raise ValueError("the access_token holds characters no token has")
        refresh = data.get("refresh_token")
        expires_in = data.get("expires_in", 3600)
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            raise ValueError("expires_in is not a number")
        scope = data.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) and scope.strip() else None
        return cls(
            access_token=Secret(access),
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            expires_at=now + float(expires_in),
            scopes=scopes,
            obtained_at=now,
        )

    @property
    def refresh_expires_at(self) -> float | None:
        return self.refresh_expiry(REFRESH_TOKEN_LIFETIME_SECONDS)

    def refresh_expiry(self, lifetime_seconds: float) -> float | None:
        """When the refresh token runs out, for a service whose refresh tokens live this long."""
        return self.obtained_at + lifetime_seconds if self.refresh_token else None


@dataclass(frozen=True)
class Refusal:
    """A renewal the service refused, kept beside the tokens so that `status` can say so."""

    at: float
    reason: str


@dataclass(frozen=True)
class SignOut:
    """What logout found and did."""

    stored: bool  # a sign-in (or a damaged token file) was there and is deleted
    problem: str | None = None  # why revoking failed; None if it worked or cannot be done
    damaged: bool = False  # the file held nothing readable: deleted without revoking


class TokenStore:
    def __init__(self, path: Path, login_command: str = "malsync login") -> None:
        self.path = path
        self.login_command = login_command  # what messages tell the user to run

    def load(self) -> TokenSet | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                self._keep_private(handle.fileno())
                text = handle.read()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            text = ""  # damaged, said below
        except OSError as error:
            raise ConfigError(
                f"{self.path}: cannot read the token file ({error.strerror})"
            ) from None
        try:
            data = json.loads(text)
            refresh = data.get("refresh_token")
            scopes = data.get("scopes")
            tokens = TokenSet(
                access_token=Secret(str(data["access_token"])),
                refresh_token=Secret(str(refresh)) if refresh else None,
                expires_at=float(data["expires_at"]),
                scopes=frozenset(scopes) if isinstance(scopes, list) else None,
                obtained_at=float(data.get("obtained_at", 0.0)),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DamagedTokenFile(self.path, self.login_command) from None
        if not all(
            each.fits_header() for each in (tokens.access_token, tokens.refresh_token) if each
        ):
            raise ConfigError(
                f"{self.path}: the token file holds a token with characters no token has (not "
                f"shown); run {self.login_command} again"
            )
        return tokens

    def _keep_private(self, descriptor: int) -> None:
        """As ssh does with keys: a token file others can read is made 0600, with a warning."""
        if os.name != "posix":
            return
        mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
        if not mode & 0o077:
            return
        try:
            os.fchmod(descriptor, 0o600)
        except OSError as error:
            raise ConfigError(
                f"{self.path}: the token file can be read by others (mode {mode:04o}) and its "
                f"mode cannot be changed ({error.strerror}); make it 0600 or delete it"
            ) from None
        log.warning(
            "%s: the token file could be read by others (mode %04o); it is 0600 now. If "
            "anyone else may have read it, sign out and in again to replace the tokens.",
            self.path,
            mode,
        )

    def save(self, tokens: TokenSet) -> None:
        """Write atomically; the file is 0600 from the moment it exists, never wider."""
        data = {
            "access_token": tokens.access_token.reveal(),
            "refresh_token": tokens.refresh_token.reveal() if tokens.refresh_token else None,
            "expires_at": tokens.expires_at,
            "scopes": sorted(tokens.scopes) if tokens.scopes is not None else None,
            "obtained_at": tokens.obtained_at,
        }

        def dump(handle: TextIO) -> None:
            json.dump(data, handle)

        atomic_write(self.path, dump, private=True, durable=True)
        self._refusal_path.unlink(missing_ok=True)  # a new sign-in is a live one

    @contextmanager
    def renewing(self) -> Iterator[None]:
        """Held while the sign-in is renewed. Services rotate refresh tokens: two runs renewing
        at once (two checkpoints on one account) would send one refresh token twice, and the
        second would be refused although the file then holds a valid sign-in."""
        if fcntl is None:
            yield
            return
        lock = self.path.with_name(f"{self.path.name}.lock")
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            deadline = time.monotonic() + RENEWAL_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        # Stuck elsewhere: renew all the same; a refusal is checked against
                        # the file then.
                        log.warning("%s: another malsync run holds the renewal; going on", lock)
                        break
                    time.sleep(0.05)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    @property
    def _refusal_path(self) -> Path:
        return self.path.with_name(f"{self.path.name}.refused")

    def mark_refused(self, reason: str, now: float | None = None) -> None:
        at = time.time() if now is None else now

        def dump(handle: TextIO) -> None:
            json.dump({"at": at, "reason": reason}, handle)

        atomic_write(self._refusal_path, dump, private=True)

    def refused(self) -> Refusal | None:
        """The last refused renewal since the tokens were stored; None if there was none."""
        try:
            data = json.loads(self._refusal_path.read_text(encoding="utf-8"))
            return Refusal(float(data["at"]), str(data["reason"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def delete_if_damaged(self) -> bool:
        """Delete a file that holds no readable sign-in: it only stands in the way of a new one."""
        try:
            self.load()
        except DamagedTokenFile:
            self.delete()
            return True
        return False

    def delete(self) -> bool:
        self._refusal_path.unlink(missing_ok=True)
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
