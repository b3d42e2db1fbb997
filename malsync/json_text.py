"""Indented JSON, byte for byte as `json.dumps(value, ensure_ascii=False, indent=N)` writes it.

The standard library indents only in its pure-Python encoder, which made writing a 20,000-entry
report take longer than reading the export. Here every run of plain values (strings, numbers,
booleans, null) is written by the C encoder, its item separator carrying the newline and the
indent of its level; only the containers around them are walked in Python.

The document and the containers it holds directly are written piece by piece, each item of
those as one string (a report's entry, a backup's rating): a large file is never one string in
memory, and an iterator there stands for a list whose elements are made as they are written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any, TextIO, cast

_Write = Callable[[str], object]
_CONTAINERS = (dict, list, tuple)
_STREAMED_DEPTH = 2  # the document (0) and what it holds (1) are written piece by piece
# The C encoder json.dumps uses when it does not indent (absent where the accelerator is).
_MAKE_C_ENCODER: Callable[..., Callable[[object, int], Iterable[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)


def indented_json(value: object, indent: int = 2) -> str:
    parts: list[str] = []
    _write(value, 0, indent, parts.append, 0)
    return "".join(parts)


def write_indented_json(value: object, handle: TextIO, indent: int = 2) -> None:
    """The same text, written piece by piece: a large report is never one string in memory."""
    _write(value, 0, indent, handle.write, 0)


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


def _nests(item: object) -> bool:
    """Whether indenting lays `item` out otherwise than the C encoder: a container with items
    (an empty one is `[]` or `{}` either way)."""
    return bool(item) and isinstance(item, _CONTAINERS)


def _key_text(key: object, encode: Callable[[object], str]) -> str:
    """A key as JSON writes it, also one it turns into a string (1 -> "1")."""
    return encode_basestring(key) if type(key) is str else encode({key: 0})[1:-4]


def _text(value: object, column: int, indent: int) -> str:
    """`value` as it would stand at `column` (its first line already there), as one string."""
    if not isinstance(value, _CONTAINERS):
        return _encoder(column)(value)
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    inner = column + indent
    encode = _encoder(inner)
    if isinstance(value, dict):
        opening, closing = "{", "}"
        body = _items_text(value, inner, indent)
    else:
        opening, closing = "[", "]"
        if any(map(_nests, value)):
            texts = [_text(item, inner, indent) for item in value]
            body = (",\n" + " " * inner).join(texts)
        else:
            body = encode(value)[1:-1]
    return f"{opening}\n{' ' * inner}{body}\n{' ' * column}{closing}"


def _items_text(value: dict[Any, object], column: int, indent: int) -> str:
    """The items of an object, without its braces: runs of plain items (and empty containers)
    in one go each."""
    encode = _encoder(column)
    parts = []
    plain: dict[Any, object] = {}
    for key, item in value.items():
        if item and isinstance(item, _CONTAINERS):
            if plain:
                parts.append(encode(plain)[1:-1])
                plain = {}
            parts.append(_key_text(key, encode) + ": " + _text(item, column, indent))
        else:
            plain[key] = item
    if not parts:
        return encode(value)[1:-1]
    if plain:
        parts.append(encode(plain)[1:-1])
    return (",\n" + " " * column).join(parts)


def _write(value: object, column: int, indent: int, write: _Write, depth: int) -> None:
    """`value` at `column`, its items written one by one where it is near the top."""
    streamed = isinstance(value, Iterator)  # a list made as it is written
    if not streamed and (depth >= _STREAMED_DEPTH or not _nests(value)):
        write(_text(value, column, indent))
        return
    inner = column + indent
    separator = ",\n" + " " * inner
    items: Iterator[tuple[str, object]]
    if isinstance(value, dict):
        opening, closing = "{", "}"
        encode = _encoder(inner)
        items = ((_key_text(key, encode) + ": ", item) for key, item in value.items())
    else:
        opening, closing = "[", "]"
        items = (("", item) for item in cast(Iterable[object], value))  # a list, tuple, iterator
    first = True
    for name, item in items:
        write((opening + "\n" + " " * inner if first else separator) + name)
        _write(item, inner, indent, write, depth + 1)
        first = False
    write(opening + closing if first else "\n" + " " * column + closing)
