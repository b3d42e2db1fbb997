"""What aniSearch answered, by meaning: the model every stage reads (the session, the uploader,
the restore, the account check), apart from the HTTP client that makes it (`client.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ResponseMeaning(Enum):
    """What aniSearch's answer to a request means: end it, retry it, wait, or stop the run.

    Only the HTTP answer's meaning; what became of the entry is its `Outcome`.
    """

    OK = "ok"
    NOT_FOUND = "not_found"  # 404: aniSearch does not know this MAL id
    REJECTED = "rejected"  # other 4xx: this body will never be accepted as it is
    RATE_LIMITED = "rate_limited"  # 429: wait, then the same request again
    TRANSIENT = "transient"  # 5xx, timeouts, dropped connections: retry with backoff
    UNAUTHORIZED = "unauthorized"  # 401: the token is not (or no longer) valid; stop
    FORBIDDEN = "forbidden"  # 403 / 423: refused, maybe blocked; stop at once, never retry
    MOVED = "moved"  # 301 / 308: the API lives elsewhere now; stop, the config must change


@dataclass(frozen=True)
class ApiResponse:
    meaning: ResponseMeaning
    status: int | None
    message: str
    retry_after: str | None = None
    body: object = None  # the decoded JSON of a successful answer

    def describe(self) -> str:
        """The answer for a message: status and the server's words, never a token."""
        if self.status is None or not self.message:
            return self.message or f"HTTP {self.status}"
        return f"HTTP {self.status}: {self.message}"
