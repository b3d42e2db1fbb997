"""Indented JSON, byte for byte as `json.dumps(value, ensure_ascii=False, indent=N)` writes it.

The standard library indents only in its pure-Python encoder, which made writing a 20,000-entry
report take longer than reading the export. Here every run of plain values (strings, numbers,
booleans, null) is written by the C encoder, its item separator carrying the newline and the
indent of its level; only the containers around them are walked in Python.

The document and the containers it holds directly are written piece by piece, each item of
those as one string (a report's entry, a backup's rating), a batch of them at a time: a large
file is never one string in memory, and an iterator there stands for a list whose elements are
made as they are written. A writer that knows those items' layout can make their text instead
(`item_text`: the report's entries).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import repeat
from json.encoder import encode_basestring
from typing import Any, TextIO, cast

_Write = Callable[[str], object]
ItemText = Callable[[object, int, int], str]  # value, column, indent -> its text there
_CONTAINERS = (dict, list, tuple)
# The exact types the C encoder writes as indenting does; subclasses are walked (and left to it).
_PLAIN = frozenset({str, int, float, bool, type(None)})
_STREAMED_DEPTH = 2  # the document (0) and what it holds (1) are written piece by piece
_BATCH = 64  # items of those written at once: a few large writes, not 20,000 small ones
# The C encoder json.dumps uses when it does not indent (absent where the accelerator is).
_MAKE_C_ENCODER: Callable[..., Callable[[object, int], Iterable[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)


def indented_json(value: object, indent: int = 2) -> str:
    parts: list[str] = []
    _write(value, 0, indent, parts.append, 0, indented_text)
    return "".join(parts)


def write_indented_json(
    value: object, handle: TextIO, indent: int = 2, item_text: ItemText | None = None
) -> None:
    """The same text, written piece by piece: a large report is never one string in memory.

    `item_text` writes the items of the containers the document holds (a report's entries)
    where it knows their layout; it must return what `indented_text` does.
    """
    _write(value, 0, indent, handle.write, 0, item_text or indented_text)


@lru_cache(maxsize=64)
def _encoder(column: int) -> Callable[[object], str]:
    """Encodes a flat container whose items start at `column`, newlines and indent included."""
    return flat_encoder(",\n" + " " * column)


@lru_cache(maxsize=64)
def flat_encoder(separator: str) -> Callable[[object], str]:
    """Encodes a container of plain values (or empty containers) as `json.dumps` does, with
    `separator` between its items, by one call of the C encoder."""
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


def indented_text(value: object, column: int, indent: int) -> str:
    """`value` as it stands at `column` (its first line already there), indented by `indent`,
    as one string."""
    if type(value) in _PLAIN or not isinstance(value, _CONTAINERS):
        return _encoder(column)(value)
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    inner = column + indent
    if isinstance(value, dict):
        opening, closing = "{", "}"
        body = _items_text(value, inner, indent)
    else:
        opening, closing = "[", "]"
        body = _elements_text(value, inner, indent)
    return f"{opening}\n{' ' * inner}{body}\n{' ' * column}{closing}"


def _items_text(value: dict[Any, object], column: int, indent: int) -> str:
    """The items of an object, without its braces: runs of plain items (and empty containers)
    in one go each."""
    encode = _encoder(column)
    if _PLAIN.issuperset(map(type, value.values())):
        return encode(value)[1:-1]
    parts = []
    plain: dict[Any, object] = {}
    for key, item in value.items():
        if item and isinstance(item, _CONTAINERS):
            if plain:
                parts.append(encode(plain)[1:-1])
                plain = {}
            parts.append(_key_text(key, encode) + ": " + indented_text(item, column, indent))
        else:
            plain[key] = item
    if not parts:
        return encode(value)[1:-1]
    if plain:
        parts.append(encode(plain)[1:-1])
    return (",\n" + " " * column).join(parts)


def _elements_text(value: list[object] | tuple[object, ...], column: int, indent: int) -> str:
    """The elements of an array, without its brackets."""
    if _PLAIN.issuperset(map(type, value)) or not any(map(_nests, value)):
        return _encoder(column)(value)[1:-1]
    texts = [indented_text(item, column, indent) for item in value]
    return (",\n" + " " * column).join(texts)


def _streams(value: object, depth: int) -> bool:
    """Whether `value` is written item by item: a list made as it is written, or a container
    with items near the top."""
    if type(value) in _CONTAINERS:
        return depth < _STREAMED_DEPTH and bool(value)
    return isinstance(value, Iterator) or (depth < _STREAMED_DEPTH and _nests(value))


def _write(
    value: object, column: int, indent: int, write: _Write, depth: int, item_text: ItemText
) -> None:
    """`value` at `column`, its items written one by one where it is near the top, in batches
    of up to `_BATCH` items."""
    if not _streams(value, depth):
        write((item_text if depth >= _STREAMED_DEPTH else indented_text)(value, column, indent))
        return
    inner = column + indent
    items: Iterable[tuple[str, object]]
    if isinstance(value, dict):
        opening, closing = "{", "}"
        encode = _encoder(inner)
        items = ((_key_text(key, encode) + ": ", item) for key, item in value.items())
    else:
        opening, closing = "[", "]"
        items = zip(repeat(""), cast(Iterable[object], value))  # a list, tuple, iterator
    lay_out = item_text if depth + 1 >= _STREAMED_DEPTH else indented_text
    separator = ",\n" + " " * inner
    lead = opening + "\n" + " " * inner
    texts: list[str] = []
    for name, item in items:
        if _streams(item, depth + 1):
            texts.append(lead + name)
            write("".join(texts))
            texts.clear()
            _write(item, inner, indent, write, depth + 1, item_text)
        else:
            texts.append(lead + name + lay_out(item, inner, indent))
            if len(texts) >= _BATCH:
                write("".join(texts))
                texts.clear()
        lead = separator
    texts.append("\n" + " " * column + closing if lead == separator else opening + closing)
    write("".join(texts))
