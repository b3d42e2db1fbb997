"""What a config value may be, beyond its TOML type: the checks `config` applies to each.

Each says whether a value is usable, so that a bad one stops with one line naming the key
instead of a crash (or a hung run) later.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from malsync.errors import ConfigError
from malsync.redaction import Secret

# The most each number in [limits] and [retry] may be: beyond it a value is a typo, not a wish
# (an hour-long timeout holds the checkpoint's lock for an hour per request).
_TEN_MINUTES, _ONE_DAY = 600.0, 24 * 3600.0
MAXIMUMS: dict[str, float] = {
    "upsert_requests": 100_000,
    "upsert_window_seconds": _ONE_DAY,
    "read_requests": 100_000,
    "read_window_seconds": _ONE_DAY,
    "attempts": 100,
    "initial_wait_seconds": _TEN_MINUTES,
    "max_wait_seconds": _TEN_MINUTES,
    "connect_timeout_seconds": _TEN_MINUTES,
    "read_timeout_seconds": _TEN_MINUTES,
    "rate_limited_attempts": 100,
    "total_timeout_seconds": _TEN_MINUTES,
}
ID_MAX = 2**63 - 1  # SQLite's largest integer


def url_problem(value: str) -> str | None:
    """Why `value` is no http(s) address with a host; None when it is one.

    Whether plain http is allowed (only to loopback) is `client.check_url`'s say.
    """
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        valid = False
    if not valid or not all(" " < char <= "~" for char in value):
        return f"must be an http(s):// address with a host, not {value!r}"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    return None


def is_header_text(value: str) -> bool:
    """One line of printable ASCII: what a header such as the User-Agent can carry."""
    return all(" " <= char <= "~" for char in value)


def is_id(text: str) -> bool:
    """A plain number above 0 that SQLite can hold: ASCII digits only, not "+1", "²" or "¹²"."""
    return text.isascii() and text.isdigit() and 0 < int(text) <= ID_MAX


def credential(value: str, where: str) -> Secret | None:
    """A token or client id (sent in a header), or None if empty; a bad one is refused with a
    message that names where it came from and never shows it."""
    if not value:
        return None
    secret = Secret(value)
    if not secret.fits_header():
        raise ConfigError(
            f"{where} holds a line break, a space or a character outside ASCII, which no token "
            "or id has (its value is not shown); copy it again"
        )
    return secret
