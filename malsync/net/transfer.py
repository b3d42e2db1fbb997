"""Bounded HTTP answers: every request malsync sends reads at most so many bytes, by a deadline.

`requests` alone reads any body whole and its read timeout is per socket read, so a 300 MB answer
fills the memory and a body trickled a byte at a time keeps a run (and its checkpoint lock) alive
for hours. `send` streams the body, stops at `Bounds.max_bytes` (AnswerTooLarge: a failed
request, never retried) and at `Bounds.total_seconds` after the request began (DeadlineExceeded,
a `requests.Timeout`, so callers retry it like any other timeout). The deadline is checked
between reads; one read waits at most the read timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

from malsync.config.settings import RetryOptions
from malsync.redaction import redact

_CHUNK_BYTES = 64 * 1024
_SHOWN_URL_LIMIT = 200
PERMANENT_REDIRECTS = (301, 308)


@dataclass(frozen=True)
class Bounds:
    connect_timeout: float
    read_timeout: float
    total_seconds: float
    max_bytes: int

    @classmethod
    def of(cls, retry: RetryOptions, max_bytes: int) -> Bounds:
        """The [retry] timeouts with a size cap for this kind of answer."""
        return cls(
            retry.connect_timeout_seconds,
            retry.read_timeout_seconds,
            retry.total_timeout_seconds,
            max_bytes,
        )


def json_session(user_agent: str, session: requests.Session | None = None) -> requests.Session:
    """A session for a JSON API that names malsync and follows no redirect (a redirect must
    never carry a token to wherever it points)."""
    session = session or requests.Session()
    session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
    session.max_redirects = 0
    return session


class AnswerTooLarge(Exception):
    """The body is larger than this kind of answer can be: it is not read."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the answer is larger than {_size(max_bytes)}; it was not read")


class DeadlineExceeded(requests.Timeout):
    """The whole answer did not arrive within the request's total deadline."""


@dataclass(frozen=True)
class HttpAnswer:
    """A whole answer, read within its bounds; named like `requests.Response` where it overlaps."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes
    url: str
    encoding: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding or "utf-8", errors="replace")

    def json(self) -> Any:
        """The decoded JSON body; raises ValueError if it is not JSON."""
        return json.loads(self.text)

    @property
    def moved_to(self) -> str | None:
        """Where a permanent redirect (301, 308) points, shortened and without secrets."""
        if self.status_code not in PERMANENT_REDIRECTS:
            return None
        location = self.headers.get("Location", "")
        shown = "".join(char for char in urljoin(self.url, location) if " " < char <= "~")
        if len(shown) > _SHOWN_URL_LIMIT:
            shown = shown[: _SHOWN_URL_LIMIT - 1] + "\u2026"
        return redact(shown) or "(no address given)"


def send(
    session: requests.Session,
    method: str,
    url: str,
    bounds: Bounds,
    clock: Callable[[], float] = time.monotonic,
    **options: Any,
) -> HttpAnswer:
    """One request, never following a redirect; raises requests exceptions or AnswerTooLarge.

    It goes to the session's adapter directly: `Session.send` reads the whole body of a redirect
    even when it does not follow it, and with `max_redirects = 0` fails on it.
    """
    deadline = clock() + bounds.total_seconds
    request = session.prepare_request(requests.Request(method, url, **options))
    environment = session.merge_environment_settings(request.url, {}, None, None, None)
    response = session.get_adapter(url).send(
        request,
        stream=True,
        timeout=(bounds.connect_timeout, bounds.read_timeout),
        verify=True if environment["verify"] is None else environment["verify"],
        cert=environment["cert"],
        proxies=environment["proxies"],
    )
    with response:
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > bounds.max_bytes:
            raise AnswerTooLarge(bounds.max_bytes)
        content = _read(response, bounds.max_bytes, deadline, clock)
        return HttpAnswer(
            response.status_code,
            response.reason or "",
            response.headers,
            content,
            url,
            response.encoding,
        )


def _read(
    response: requests.Response, max_bytes: int, deadline: float, clock: Callable[[], float]
) -> bytes:
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # read1: what has arrived, not a full chunk
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if clock() > deadline:
                raise DeadlineExceeded("the answer did not arrive within the request's deadline")
            chunk = read(_CHUNK_BYTES, decode_content=True)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise AnswerTooLarge(max_bytes)
            chunks.append(chunk)
    except requests.RequestException:
        raise  # DeadlineExceeded: an OSError too, but not a dropped connection
    except ReadTimeoutError as error:
        raise requests.ReadTimeout(str(error)) from None
    except (ProtocolError, DecodeError, SSLError, OSError) as error:
        raise requests.ConnectionError(str(error)) from None


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MB" if count >= 1024 * 1024 else f"{count} bytes"
