"""Indented JSON, byte for byte as `json.dumps(value, ensure_ascii=False, indent=N)` writes it.

The standard library indents only in its pure-Python encoder, which made writing a 20,000-entry
report take longer than reading the export. Here every run of plain values (strings, numbers,
booleans, null) is written by the C encoder, its item separator carrying the newline and the
indent of its level; only the containers around them are walked in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import repeat
from json.encoder import encode_basestring
from typing import Any, TextIO

_Write = Callable[[str], object]
_PLAIN = (str, int, float, type(None))  # bool is an int
# The C encoder json.dumps uses when it does not indent (absent where the accelerator is).
_MAKE_C_ENCODER: Callable[..., Callable[[object, int], Iterable[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)


def indented_json(value: object, indent: int = 2) -> str:
    parts: list[str] = []
    _write(value, 0, indent, parts.append)
    return "".join(parts)


def write_indented_json(value: object, handle: TextIO, indent: int = 2) -> None:
    """The same text, written piece by piece: a large report is never one string in memory."""
    _write(value, 0, indent, handle.write)


@lru_cache(maxsize=64)
def _encoder(column: int) -> Callable[[object], str]:
    """Encodes a flat container whose items start at `column`, newlines and indent included."""
    separator = ",\n" + " " * column
    if _MAKE_C_ENCODER is None:  # an interpreter without the C accelerator: still correct
        return json.JSONEncoder(ensure_ascii=False, separators=(separator, ": ")).encode
    encode = _MAKE_C_ENCODER(
        None, None, encode_basestring, None, ": ", separator, False, False, True
    )
    return lambda value: "".join(encode(value, 0))


def _all_plain(values: Iterable[object]) -> bool:
    return all(map(isinstance, values, repeat(_PLAIN)))


def _write(value: object, column: int, indent: int, write: _Write) -> None:
    """`value` as it would stand at `column` (its first line already there)."""
    values: Iterable[object]
    if isinstance(value, dict):
        opening, closing, values = "{", "}", value.values()
    elif isinstance(value, list | tuple):
        opening, closing, values = "[", "]", value
    else:  # a plain value
        write(_encoder(column)(value))
        return
    if not value:
        write(opening + closing)
        return
    inner = column + indent
    if _all_plain(values):
        text = _encoder(inner)(value)[1:-1]
        write(f"{opening}\n{' ' * inner}{text}\n{' ' * column}{closing}")
        return
    write(opening + "\n" + " " * inner)
    if isinstance(value, dict):
        _write_items(value, inner, indent, write)
    else:
        _write_elements(value, inner, indent, write)
    write("\n" + " " * column + closing)


def _write_items(value: dict[Any, object], column: int, indent: int, write: _Write) -> None:
    """The items of an object that holds containers: runs of plain items (and empty containers,
    which indenting leaves as they are) in one go each."""
    encode = _encoder(column)
    separator = ",\n" + " " * column
    plain: dict[Any, object] = {}
    first = True
    for key, item in value.items():
        if isinstance(item, _PLAIN) or not item:  # an empty container is `[]` or `{}` either way
            plain[key] = item
            continue
        if plain:
            write(("" if first else separator) + encode(plain)[1:-1])
            plain, first = {}, False
        # A key as JSON writes it, also one it turns into a string (1 -> "1").
        name = encode_basestring(key) if type(key) is str else encode({key: 0})[1:-4]
        write(("" if first else separator) + name + ": ")
        _write(item, column, indent, write)
        first = False
    if plain:
        write(("" if first else separator) + encode(plain)[1:-1])


def _write_elements(
    value: list[object] | tuple[object, ...], column: int, indent: int, write: _Write
) -> None:
    separator = ",\n" + " " * column
    for position, item in enumerate(value):
        if position:
            write(separator)
        _write(item, column, indent, write)
