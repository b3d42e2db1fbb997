"""Secrets that never show themselves, and the blanking of every known secret from shown text."""

from __future__ import annotations

import json
import re
from typing import ClassVar

# What a bearer token (RFC 6750) or an id sent in a header may hold: visible ASCII, one line.
_HEADER_SAFE = re.compile(r"[!-~]+")
# A value with a line break or other control character shows up split or escaped: each piece of
# it long enough to be a credential is blanked on its own too.
_PIECES = re.compile(r"[\x00-\x20\x7f]+")


class Secret:
    """A value that never shows itself in repr, str, logs or tracebacks.

    Every secret made in this process is remembered, so that the log filter can blank it out of
    any message, including a renewed access token that arrived in the middle of a run.
    """

    __slots__ = ("_value",)
    _made: ClassVar[set[str]] = set()
    # Shorter values are no credentials, and blanking them would garble every message.
    _REDACT_FROM_LENGTH: ClassVar[int] = 8

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= Secret._REDACT_FROM_LENGTH:
            Secret._made.update(_shown_forms(value))

    @classmethod
    def all_values(cls) -> frozenset[str]:
        return frozenset(cls._made)

    def reveal(self) -> str:
        return self._value

    def fits_header(self) -> bool:
        """Whether it can go into an HTTP header as it is: one line of visible ASCII."""
        return _HEADER_SAFE.fullmatch(self._value) is not None

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _shown_forms(value: str) -> set[str]:
    """The value as it may appear in a message: as it is, escaped by repr() or JSON, in pieces."""
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1], *_PIECES.split(value)}
    return {form for form in forms if len(form) >= Secret._REDACT_FROM_LENGTH}


def redact(text: str) -> str:
    """Blank out every secret this process knows from a text that is about to be shown."""
    # Longest first: a piece of a value must not break up the whole value before it is found.
    for value in sorted(Secret.all_values(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text
