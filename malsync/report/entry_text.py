"""A JSON report's entry as `indented_text` writes it, made faster by knowing its layout.

An entry's keys come in one of a few orders, its payload's in a few dozen, and most of its
values are plain; so its text is a template made once for each such shape (keys, indent and
separators), filled in with the texts of its plain values, of its payload's and of its warnings
from one call of the C encoder; its other nested fields are mostly empty. Anything else
(another column or indent, a value of another type, a nested value that is not flat) is left
to `indented_text`: the layout makes it fast, never right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any, cast

from malsync.json_text import flat_encoder, indented_text
from malsync.pipeline.records import EntryWarning

# The fields of an entry that may hold a container: `payload` a flat object, `warnings` a list
# of strings, the others mostly empty. Its other fields are expected plain.
NESTED_FIELDS = frozenset(
    {"payload", "warnings", "changes", "conflicts", "by_policy", "bundle", "parts"}
)
_FLAT_FIELDS = ("payload", "warnings")

COLUMN, INDENT = 4, 2  # where an entry stands in the report: the document's "entries" list
_FIELD_COLUMN = COLUMN + INDENT
_VALUE_COLUMN = _FIELD_COLUMN + INDENT  # the items of a nested container
# The exact types the C encoder writes as `indented_text` does; a warning is a str that knows
# its kind, written by its text as any str.
_PLAIN = frozenset({str, int, float, bool, type(None), EntryWarning})
_SPLIT = "\x00"  # the C encoder escapes every control character in a string: NUL parts values
_plain_texts = flat_encoder(_SPLIT)
_MAX_LAYOUTS = 1024


@dataclass(frozen=True)
class _Layout:
    """An entry with these keys, these payload keys and this many warnings."""

    template: str  # its text, with a %s for each of the values below, in the entry's order
    plain: Callable[[Sequence[object]], tuple[object, ...]]  # its plain fields' values
    others: Callable[[Sequence[object]], tuple[object, ...]]  # the nested but for the two
    # The texts of the plain values, the payload's, the warnings and the others: in order.
    order: Callable[[Sequence[str]], tuple[str, ...]]


# An entry's keys, its payload's (None: no payload) and how many warnings it has.
_Shape = tuple[tuple[str, ...], tuple[str, ...] | None, int]
_layouts: dict[_Shape, _Layout | None] = {}


def entry_text(value: object, column: int, indent: int) -> str:
    """`indented_text(value, column, indent)`, quicker for a report's entry where it stands."""
    if type(value) is not dict or column != COLUMN or indent != INDENT:
        return indented_text(value, column, indent)
    fields = cast(dict[str, Any], value)
    payload, warnings = fields.get("payload"), fields.get("warnings")
    if (payload is not None and type(payload) is not dict) or type(warnings) is not list:
        return indented_text(value, column, indent)
    shape = (tuple(fields), None if payload is None else tuple(payload), len(warnings))
    try:
        layout = _layouts[shape]
    except KeyError:
        layout = _remember(shape)
    if layout is not None:
        values = list(fields.values())
        # The plain values, the payload's and the warnings: one call of the C encoder.
        plain = (*layout.plain(values), *(payload.values() if payload else ()), *warnings)
        if _PLAIN.issuperset(map(type, plain)):
            others = layout.others(values)
            if any(others):
                texts = _plain_texts(plain)[1:-1].split(_SPLIT)
                texts.extend(indented_text(other, _FIELD_COLUMN, INDENT) for other in others)
            else:  # None or empty: the C encoder writes them as indenting does
                texts = _plain_texts(plain + others)[1:-1].split(_SPLIT)
            return layout.template % layout.order(texts)
    return indented_text(value, column, indent)


def _remember(shape: _Shape) -> _Layout | None:
    if len(_layouts) >= _MAX_LAYOUTS:
        _layouts.clear()
    layout = _layouts[shape] = _layout(*shape)
    return layout


def _layout(
    keys: tuple[str, ...], payload_keys: tuple[str, ...] | None, warnings: int
) -> _Layout | None:
    """None where the entry is not laid out here: no payload or warnings, or keys not all str.
    (Entries are looked up by equal keys: a tuple equal to one of str holds str, since no
    number, bool or None equals a str.)"""
    all_keys = keys + (payload_keys or ())
    if "payload" not in keys or not all(type(key) is str for key in all_keys):
        return None
    plain = [index for index, key in enumerate(keys) if key not in NESTED_FIELDS]
    others = [
        index for index, key in enumerate(keys) if key in NESTED_FIELDS and key not in _FLAT_FIELDS
    ]
    # Where each field's texts are among those `entry_text` makes: the plain values', the
    # payload's, the warnings', the others'.
    place = {index: number for number, index in enumerate(plain)}
    payload_start = len(plain)
    warnings_start = payload_start + len(payload_keys or ())
    others_start = warnings_start + warnings
    place.update((index, others_start + number) for number, index in enumerate(others))
    texts: list[str] = []
    slots: list[int] = []
    for index, key in enumerate(keys):
        if key == "payload":
            texts.append(_payload_template(payload_keys))
            slots.extend(range(payload_start, warnings_start))
        elif key == "warnings":
            texts.append(_warnings_template(warnings))
            slots.extend(range(warnings_start, others_start))
        else:
            texts.append("%s")
            slots.append(place[index])
    return _Layout(
        _object_template(keys, texts, COLUMN), _getter(plain), _getter(others), _getter(slots)
    )


def _payload_template(keys: tuple[str, ...] | None) -> str:
    if keys is None:
        return "null"
    return _object_template(keys, ["%s"] * len(keys), _FIELD_COLUMN) if keys else "{}"


def _warnings_template(count: int) -> str:
    if not count:
        return "[]"
    inner = " " * _VALUE_COLUMN
    return "[\n" + ",\n".join([inner + "%s"] * count) + "\n" + " " * _FIELD_COLUMN + "]"


def _object_template(keys: tuple[str, ...], texts: list[str], column: int) -> str:
    """An object's text at `column`, its keys' values the `texts` (%s where one is filled in)."""
    inner = " " * (column + INDENT)
    named = [encode_basestring(key).replace("%", "%%") for key in keys]
    items = ",\n".join(f"{inner}{key}: {text}" for key, text in zip(named, texts, strict=True))
    return "{\n" + items + "\n" + " " * column + "}"


def _getter(indexes: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The items at `indexes`, as a tuple however many there are (`itemgetter` gives one bare)."""
    if len(indexes) == 1:
        (only,) = indexes
        return lambda values: (values[only],)
    return itemgetter(*indexes) if indexes else lambda values: ()
