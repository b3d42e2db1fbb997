"""A server's own words about an answer malsync did not want, fit to be shown anywhere.

Every service's client (aniSearch's API, MAL's API, the token endpoints) takes its error text
from here, so that each shows it the same way: on one line, every known secret blanked *before*
it is cut to length (cut first, a token the server echoed could be left half in the text, where
no redaction recognises it), and never an HTML page's markup.
"""

from __future__ import annotations

from malsync.net.transfer import HttpAnswer
from malsync.redaction import redact

MESSAGE_LIMIT = 300
# Where JSON error bodies put their words: OAuth's error and error_description, then what APIs
# use; each one given is shown, in this order.
_WORD_FIELDS = ("error", "error_description", "message", "errors")


def shown(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` on one line, secrets blanked, then cut to `limit` characters."""
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def server_words(answer: HttpAnswer) -> str:
    """What the server said: its JSON error fields, else its text (not an HTML page), else the
    status line's reason; "" when it said nothing at all."""
    text = answer.text.strip()
    try:
        body = answer.json() if text else None
    except ValueError:
        body = None
    words = ""
    if isinstance(body, dict):
        words = " ".join(str(body[key]) for key in _WORD_FIELDS if body.get(key))
    if not words and not text.startswith("<"):
        words = text
    return shown(words or answer.reason)


def status_and_words(answer: HttpAnswer) -> str:
    """`HTTP 404: user not found`, or `HTTP 404` when the server said nothing."""
    words = server_words(answer)
    return f"HTTP {answer.status_code}: {words}" if words else f"HTTP {answer.status_code}"
