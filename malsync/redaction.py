"""Secrets that never show themselves, and the blanking of every known secret from shown text."""

from __future__ import annotations

from typing import ClassVar


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
            Secret._made.add(value)

    @classmethod
    def all_values(cls) -> frozenset[str]:
        return frozenset(cls._made)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str) -> str:
    """Blank out every secret this process knows from a text that is about to be shown."""
    for value in Secret.all_values():
        if value in text:
            text = text.replace(value, "***")
    return text
