"""The report's entries, written by their layout, are exactly what the standard library writes:
for any report-shaped document, and for entries of shapes it does not expect (which it leaves
to the generic writer)."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from malsync.json_text import indented_json, indented_text, write_indented_json
from malsync.pipeline.records import EntryWarning
from malsync.report.entry_text import entry_text

FIELDS = (
    "action",
    "media",
    "mal_id",
    "title",
    "outcome",
    "payload",
    "warnings",
    "error",
    "mal_url",
    "source",
    "on_anisearch_before",
    "changes",
    "conflicts",
    "by_policy",
    "anisearch_id",
    "anisearch_url",
    "ids_from",
    "bundle",
    "parts",
)
UNMATCHED = ("anisearch_search", "mapping_section", "mapping_line")


class Label(str):
    """A str subclass, as an enum's value or a warning may be."""


text = st.text() | st.sampled_from(["", "%s", "%%", "100%", "a\x00b", '"\\', "日本\u2028🙂"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | text
)
keys = text | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
anything = st.recursive(
    scalars | text.map(Label),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=12,
)
flat = st.dictionaries(text, scalars, max_size=6)
expected: dict[str, st.SearchStrategy[Any]] = {
    "payload": st.none() | flat.filter(bool),
    "warnings": st.lists(text | text.map(EntryWarning), max_size=3),
    "changes": st.lists(st.fixed_dictionaries({"field": text, "old": scalars, "new": scalars})),
    "conflicts": st.just([]) | st.lists(flat, max_size=2),
    "by_policy": st.none() | flat,
    "bundle": st.none() | st.lists(st.integers(), min_size=1, max_size=3),
    "parts": st.none() | st.lists(st.integers(), max_size=3),
}


@st.composite
def entries(draw: st.DrawFn) -> dict[Any, Any]:
    """An entry as the report makes it, or now and then with a field of another type, keys in
    another order, a key missing or one more."""
    names = list(FIELDS + UNMATCHED if draw(st.booleans()) else FIELDS)
    if draw(st.integers(0, 9)) == 0:
        names = draw(st.permutations(names))
    if draw(st.integers(0, 9)) == 0:
        names.remove(draw(st.sampled_from(names)))
    entry = {name: draw(expected.get(name, scalars)) for name in names}
    if draw(st.integers(0, 3)) == 0:
        entry[draw(st.sampled_from(names))] = draw(anything)
    if draw(st.integers(0, 9)) == 0:
        entry[draw(keys)] = draw(anything)
    return entry


def reference(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries())
def test_an_entry_is_what_the_standard_library_writes(entry: dict[Any, Any]) -> None:
    text = entry_text(entry, 4, 2)
    assert text == indented_text(entry, 4, 2)
    assert reference({"entries": [entry]}) == '{\n  "entries": [\n    ' + text + "\n  ]\n}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries(), max_size=5), st.dictionaries(text, anything, max_size=3))
def test_a_report_is_what_the_standard_library_writes(
    items: list[dict[Any, Any]], summary: dict[str, Any]
) -> None:
    handle = io.StringIO()
    write_indented_json({"summary": summary, "entries": iter(items)}, handle, item_text=entry_text)
    assert handle.getvalue() == reference({"summary": summary, "entries": items})


@settings(max_examples=300, deadline=None)
@given(anything, st.sampled_from([1, 2, 4]))
def test_any_document_is_what_the_standard_library_writes(document: object, indent: int) -> None:
    assert indented_json(document, indent) == json.dumps(
        document, ensure_ascii=False, indent=indent
    )


@given(anything, st.integers(0, 8), st.sampled_from([1, 3]))
def test_an_entry_elsewhere_is_left_to_the_generic_writer(
    value: object, column: int, indent: int
) -> None:
    assert entry_text(value, column, indent) == indented_text(value, column, indent)
