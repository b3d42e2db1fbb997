"""The fast indented JSON writes exactly what the standard library writes, byte for byte."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from malsync.cli.main import main
from malsync.json_text import indented_json, write_indented_json
from tests.conftest import SAMPLES

DOCUMENTS: list[object] = [
    {},
    [],
    "text",
    0,
    -1.5,
    None,
    True,
    {"a": {}, "b": [], "c": [[]], "d": [{}]},
    {"plain": 1, "nested": {"x": [1, 2, {"y": None}]}, "after": "z", "list": [3, [4, [5]]]},
    {"text": 'quote " backslash \\ newline \n tab \t nul \x00 é 日本 \u2028', "emoji": "🙂"},
    {"floats": [1.0, 1e300, 1e-7, float("nan"), float("inf"), float("-inf")], "big": 10**40},
    {1: "an int key", 2.5: [1], None: {"n": 1}, False: [], "s": {"k": [0]}},
    ((1, 2), {"tuple": (3, (4,))}),
    [{"deep": {"deeper": {"deepest": [{"x": [1, {"y": [2, {"z": 3}]}]}]}}}],
    {"warnings": ["plain", "a, b", "[not] {a container}"], "payload": {"status": "ongoing"}},
]


@pytest.mark.parametrize("indent", [1, 2, 4])
@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_same_text_as_the_standard_library(document: object, indent: int) -> None:
    assert indented_json(document, indent) == json.dumps(
        document, ensure_ascii=False, indent=indent
    )


def test_a_written_report_is_what_json_dump_wrote(tmp_path: Path) -> None:
    report = tmp_path / "plan.json"
    exports = [str(path) for path in sorted(SAMPLES.iterdir()) if ".xml" in path.name]
    assert main(["sync", "--dry-run", *exports, "--report", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    document = json.loads(text)
    assert len(document["entries"]) == 14
    assert text == json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def test_written_piece_by_piece_it_is_the_same_text() -> None:
    handle = io.StringIO()
    write_indented_json(DOCUMENTS[8], handle, indent=1)
    assert handle.getvalue() == json.dumps(DOCUMENTS[8], ensure_ascii=False, indent=1)


@pytest.mark.parametrize("entries", [[], [{"a": [1, {"b": 2}]}, {"c": {}}, 3]])
def test_an_iterator_is_written_as_the_list_it_makes(entries: list[object]) -> None:
    handle = io.StringIO()
    write_indented_json({"summary": {"n": 1}, "entries": iter(entries)}, handle)
    expected = json.dumps({"summary": {"n": 1}, "entries": entries}, ensure_ascii=False, indent=2)
    assert handle.getvalue() == expected
