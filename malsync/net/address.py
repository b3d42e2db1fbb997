"""Where malsync may send a request, and how it names itself there.

Every service's client checks its URLs here (https, or plain http to loopback only) and builds
its User-Agent here, so that no client needs another client's module for it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from malsync import __version__
from malsync.errors import ConfigError, SettingError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def check_url(url: str, key: str) -> None:
    """https everywhere; plain http only to this machine, where nobody can read the token."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise ConfigError(f"{key} {url!r} is not a valid URL") from None
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise ConfigError(f"{key} {url!r} must be https:// (plain http:// only to loopback)")


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def user_agent(contact: str) -> str:
    contact = contact.strip()
    if not contact:
        raise SettingError(
            "[anisearch] contact is not set: aniSearch requires a User-Agent that names the "
            "application and a contact, and answers others with 403 (and may block the address). "
            'Set contact = "you@example.com" (or a profile URL) in the config file.'
        )
    if re.search(r"[\r\n()]", contact):
        raise SettingError("[anisearch] contact must be one line without parentheses")
    return f"malsync/{__version__} ({contact})"
