from __future__ import annotations

import gzip
import io
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from malsync.errors import ExportError
from malsync.pipeline.records import InvalidEntry, ListEntry, ListStatus, MalDate, MediaType
from malsync.sources.export_xml import read_export
from malsync.sources.repair import RepairingReader
from tests.exports import anime, export, manga, old_anime, write


def read_one(tmp_path: Path, xml: str | bytes, gzipped: bool = False) -> ListEntry:
    path = write(tmp_path / "export.xml", xml, gzipped)
    entries = read_export(path).entries
    assert len(entries) == 1
    entry = entries[0]
    assert isinstance(entry, ListEntry), entry
    return entry


def test_current_anime_layout_reads_every_field(tmp_path: Path) -> None:
    xml = export(
        [
            anime(
                series_animedb_id="52034",
                series_title='<![CDATA["Oshi no Ko"]]>',
                my_watched_episodes="11",
                my_start_date="2024-09-01",
                my_finish_date="2024-10-07",
                my_score="8",
                my_status="Watching",
                my_comments="<![CDATA[Great <br />\nshow &amp; more]]>",
                my_times_watched="2",
                my_rewatch_value="High",
                my_priority="HIGH",
                my_tags="<![CDATA[idol, drama]]>",
                my_rewatching="1",
            )
        ]
    )
    entry = read_one(tmp_path, xml)
    assert entry.media is MediaType.ANIME
    assert entry.mal_id == 52034
    assert entry.title == '"Oshi no Ko"'
    assert entry.status is ListStatus.IN_PROGRESS
    assert entry.score == 8
    assert entry.progress == 11
    assert entry.volumes is None
    assert entry.start == MalDate(2024, 9, 1)
    assert entry.finish == MalDate(2024, 10, 7)
    assert entry.repeating is True
    assert entry.times_repeated == 2
    assert entry.repeat_value == 4
    assert entry.priority == 3
    assert entry.comments == "Great\nshow & more"
    assert entry.tags == ("idol", "drama")
    assert entry.warnings == ()


def test_old_twenty_field_layout(tmp_path: Path) -> None:
    entry = read_one(tmp_path, export([old_anime(my_rewatching="", my_status="Plan to Watch")]))
    assert entry.mal_id == 48
    assert entry.title == ".hack//Sign"
    assert entry.status is ListStatus.PLAN_TO_WATCH
    assert entry.score == 6
    assert entry.repeating is False
    assert entry.priority is None
    assert entry.warnings == ()


def test_current_manga_layout(tmp_path: Path) -> None:
    xml = export(
        [
            manga(
                my_score="10",
                my_times_read="1",
                my_reread_value="Very High",
                my_rereading="YES",
                my_priority="Medium",
                my_status="Reading",
            )
        ],
        export_type=2,
    )
    export_file = read_export(write(tmp_path / "m.xml", xml))
    assert export_file.media is MediaType.MANGA
    entry = export_file.entries[0]
    assert isinstance(entry, ListEntry)
    assert entry.media is MediaType.MANGA
    assert (entry.mal_id, entry.title, entry.progress, entry.volumes) == (2, "Berserk", 374, 41)
    assert (entry.repeating, entry.times_repeated, entry.repeat_value) == (True, 1, 5)
    assert entry.priority == 2
    assert entry.status is ListStatus.IN_PROGRESS


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Watching", ListStatus.IN_PROGRESS),
        ("Reading", ListStatus.IN_PROGRESS),
        ("Completed", ListStatus.COMPLETED),
        ("On-Hold", ListStatus.ON_HOLD),
        ("On Hold", ListStatus.ON_HOLD),
        ("Dropped", ListStatus.DROPPED),
        ("Plan to Watch", ListStatus.PLAN_TO_WATCH),
        ("Plan to Read", ListStatus.PLAN_TO_WATCH),
        ("1", ListStatus.IN_PROGRESS),
        ("2", ListStatus.COMPLETED),
        ("3", ListStatus.ON_HOLD),
        ("4", ListStatus.DROPPED),
        ("6", ListStatus.PLAN_TO_WATCH),
    ],
)
def test_statuses_as_text_and_old_numeric_codes(
    tmp_path: Path, raw: str, status: ListStatus
) -> None:
    assert read_one(tmp_path, export([anime(my_status=raw)])).status is status


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("0", False), ("YES", True), ("NO", False), ("", False)]
)
def test_booleans(tmp_path: Path, raw: str, expected: bool) -> None:
    entry = read_one(tmp_path, export([manga(my_rereading=raw)], 2))
    assert entry.repeating is expected
    assert entry.warnings == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("LOW", 1), ("Low", 1), ("MEDIUM", 2), ("Medium", 2), ("HIGH", 3), ("High", 3), ("", None)],
)
def test_priority(tmp_path: Path, raw: str, expected: int | None) -> None:
    assert read_one(tmp_path, export([anime(my_priority=raw)])).priority == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Very Low", 1),
        ("Low", 2),
        ("Medium", 3),
        ("High", 4),
        ("Very High", 5),
        ("1", 1),
        ("5", 5),
        ("", None),
    ],
)
def test_rewatch_value_as_text_or_number(tmp_path: Path, raw: str, expected: int | None) -> None:
    assert read_one(tmp_path, export([anime(my_rewatch_value=raw)])).repeat_value == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0000-00-00", None),
        ("2018-03-27", MalDate(2018, 3, 27)),
        ("2012-07-00", MalDate(2012, 7)),
        ("2011-00-00", MalDate(2011)),
    ],
)
def test_dates_unknown_full_and_partial(tmp_path: Path, raw: str, expected: MalDate | None) -> None:
    entry = read_one(tmp_path, export([anime(my_start_date=raw)]))
    assert entry.start == expected
    assert entry.warnings == ()


@pytest.mark.parametrize("raw", ["2013-02-30", "2013-13-01", "27.03.2018", "0000-05-01"])
def test_impossible_dates_are_dropped_with_a_warning(tmp_path: Path, raw: str) -> None:
    entry = read_one(tmp_path, export([anime(my_finish_date=raw)]))
    assert entry.finish is None
    assert len(entry.warnings) == 1
    assert "my_finish_date" in entry.warnings[0]
    assert raw in entry.warnings[0]


def test_bad_values_warn_and_do_not_drop_the_entry(tmp_path: Path) -> None:
    entry = read_one(
        tmp_path,
        export(
            [
                anime(
                    my_score="11",
                    my_watched_episodes="-3",
                    my_priority="URGENT",
                    my_rewatch_value="Sometimes",
                    my_rewatching="maybe",
                )
            ]
        ),
    )
    assert entry.score is None
    assert entry.progress is None  # -3 is no count: unknown, never 0
    assert entry.priority is None
    assert entry.repeat_value is None
    assert entry.repeating is False
    assert len(entry.warnings) == 5
    joined = "\n".join(entry.warnings)
    for field in ("my_score", "my_watched_episodes", "my_priority", "my_rewatch_value"):
        assert field in joined


def test_missing_elements_take_defaults(tmp_path: Path) -> None:
    xml = export(
        [
            anime(
                drop=(
                    "my_score",
                    "my_comments",
                    "my_tags",
                    "my_priority",
                    "my_start_date",
                    "my_watched_episodes",
                    "my_rewatching",
                    "series_title",
                )
            )
        ]
    )
    entry = read_one(tmp_path, xml)
    assert (entry.score, entry.comments, entry.tags, entry.priority) == (None, "", (), None)
    # A count the export does not hold is unknown, as a field MAL's API withholds: not 0.
    assert (entry.start, entry.progress, entry.repeating, entry.title) == (None, None, False, "")


def test_cdata_html_entities_and_markup_become_plain_text(tmp_path: Path) -> None:
    entry = read_one(
        tmp_path,
        export(
            [
                anime(
                    series_title="<![CDATA[Kaguya-sama wa Kokurasetai &amp; more]]>",
                    my_comments=(
                        "<![CDATA[&quot;Best&quot; &mdash; <b>really</b><br />\n&lt;3 it]]>"
                    ),
                )
            ]
        ),
    )
    assert entry.title == "Kaguya-sama wa Kokurasetai & more"
    assert entry.comments == '"Best" \u2014 really\n<3 it'


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    xml = export([anime()])
    gz_named_xml = write(tmp_path / "export.xml", xml, gzipped=True)
    plain_named_gz = write(tmp_path / "export.xml.gz", xml)
    assert len(read_export(gz_named_xml).entries) == 1
    assert len(read_export(plain_named_gz).entries) == 1


def test_invalid_utf8_is_repaired_with_a_warning(tmp_path: Path) -> None:
    comment = "<![CDATA[&atilde;\x81\x93&atilde;\x82\x93 and caf\xe9]]>".encode("latin-1")
    xml = export([anime(my_comments="@@")]).encode("utf-8").replace(b"@@", comment)
    entry = read_one(tmp_path, xml)
    # The double-encoded run becomes Japanese again; the lone Latin-1 byte stays as Latin-1.
    assert entry.comments == "こん and café"
    assert entry.warnings == ("my_comments: 5 invalid UTF-8 byte(s) repaired",)


def test_unescaped_ampersand_outside_cdata_is_kept_as_text(tmp_path: Path) -> None:
    entry = read_one(
        tmp_path,
        export([anime(series_title="Panty & Stocking", my_tags="comedy & action, r&d")]),
    )
    assert entry.title == "Panty & Stocking"
    assert entry.tags == ("comedy & action", "r&d")
    assert entry.warnings == (
        "series_title: 1 unescaped '&' kept as text",
        "my_tags: 2 unescaped '&' kept as text",
    )


def test_ampersand_inside_cdata_is_not_a_repair(tmp_path: Path) -> None:
    entry = read_one(tmp_path, export([anime(series_title="<![CDATA[Death & Rebirth]]>")]))
    assert entry.title == "Death & Rebirth"
    assert entry.warnings == ()


def test_control_characters_are_removed_with_a_warning(tmp_path: Path) -> None:
    entry = read_one(tmp_path, export([anime(my_comments="<![CDATA[bell\x07 here]]>")]))
    assert entry.comments == "bell here"
    assert entry.warnings == ("my_comments: 1 control character(s) removed",)


def test_real_damaged_export_keeps_every_entry(real_exports: Path) -> None:
    export_file = read_export(real_exports / "nuck_animelist.xml.gz")
    assert len(export_file.entries) == 109
    assert all(isinstance(entry, ListEntry) for entry in export_file.entries)
    blood = next(e for e in export_file.entries if e.mal_id == 150)
    assert isinstance(blood, ListEntry)
    assert blood.comments.startswith("こんにちは、世界")
    assert any("invalid UTF-8" in warning for warning in blood.warnings)


@pytest.mark.parametrize(
    ("name", "count", "media"),
    [
        ("animelist_1734298612_-_16433979.xml", 506, MediaType.ANIME),
        ("mangalist_1734298628_-_16433979.xml", 112, MediaType.MANGA),
    ],
)
def test_real_current_exports(real_exports: Path, name: str, count: int, media: MediaType) -> None:
    export_file = read_export(real_exports / name)
    assert export_file.media is media
    assert len(export_file.entries) == count
    assert all(isinstance(entry, ListEntry) for entry in export_file.entries)


def test_media_detected_from_entries_without_export_type(tmp_path: Path) -> None:
    shikimori_info = "<myinfo><user_export_type>2</user_export_type></myinfo>"
    xml = export([manga(drop=("my_start_date", "my_finish_date"))], myinfo=shikimori_info)
    assert read_export(write(tmp_path / "s.xml", xml)).media is MediaType.MANGA
    bare = export([anime()], myinfo="")
    assert read_export(write(tmp_path / "b.xml", bare)).media is MediaType.ANIME


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"series_animedb_id": ""}, "has no MAL id"),
        ({"series_animedb_id": "abc"}, "MAL id 'abc' is not a positive number"),
        ({"my_status": "Rewatching forever"}, "unknown status 'Rewatching forever'"),
        ({"my_status": ""}, "has no status"),
    ],
)
def test_unusable_entries_are_reported_and_others_go_on(
    tmp_path: Path, values: dict[str, str], reason: str
) -> None:
    xml = export([anime(**values), anime(series_animedb_id="1")])
    entries = read_export(write(tmp_path / "e.xml", xml)).entries
    assert isinstance(entries[0], InvalidEntry)
    assert entries[0].reason == reason
    assert entries[0].title == "Fullmetal Alchemist: Brotherhood"
    assert isinstance(entries[1], ListEntry)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"<!DOCTYPE html><html><body>Export</body></html>", "HTML page"),
        (b'{"anime": []}', "looks like JSON"),
        (b"<?xml version='1.0'?><rss><channel/></rss>", "root <rss>"),
        (b"<?xml version='1.0'?><myanimelist><anime><series_animedb_id>1</ser", "truncated"),
        (b"just some text", "not XML"),
        (b"<myanimelist><anime><a>1</b></anime></myanimelist>", "not well-formed XML (line 1"),
    ],
)
def test_files_that_are_not_mal_exports(tmp_path: Path, content: bytes, reason: str) -> None:
    path = write(tmp_path / "bad.xml", content)
    with pytest.raises(ExportError) as caught:
        read_export(path)
    assert str(path) in str(caught.value)
    assert reason in str(caught.value)


def test_truncated_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(export([anime()] * 50).encode(), mtime=0)
    path = write(tmp_path / "cut.xml.gz", whole[: len(whole) // 2])
    with pytest.raises(ExportError, match="truncated gzip"):
        read_export(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such file"):
        read_export(tmp_path / "nope.xml")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<myanimelist><anime><series_animedb_id>1</series_animedb_id>
<series_title>&lol4;</series_title><my_status>Completed</my_status></anime></myanimelist>
"""


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="DTD"):
        read_export(write(tmp_path / "lol.xml", BILLION_LAUGHS))


def test_external_entities_open_no_file_and_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the importer opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY file SYSTEM "file://{secret}"><!ENTITY web SYSTEM "http://127.0.0.1:9/x">]>
<myanimelist><anime><series_animedb_id>1</series_animedb_id>
<series_title>&file;&web;</series_title><my_status>Completed</my_status></anime></myanimelist>
"""
    with pytest.raises(ExportError) as caught:
        read_export(write(tmp_path / "xxe.xml", xml))
    assert "TOP-SECRET" not in str(caught.value)


@settings(max_examples=60, deadline=None)
@given(
    chunk=st.integers(min_value=1, max_value=300),
    title=st.text(alphabet=st.sampled_from("ab&<>;]x \u00e9\u3053"), max_size=30),
)
def test_repair_does_not_depend_on_chunk_boundaries(chunk: int, title: str) -> None:
    """Where the stream is cut must never change the result (markers, CDATA and `&` at edges)."""
    cdata_title = "<![CDATA[" + title.replace("]]>", "") + "]]>"
    raw = (
        export([anime(series_title=cdata_title, my_tags="a & b"), anime(my_comments="x\x81y")])
        .encode("utf-8")
        .replace(b"x\xc2\x81y", b"x\x81y")
    )

    def read_all(chunk_size: int, read_size: int) -> bytes:
        reader = RepairingReader(io.BytesIO(raw), chunk_size=chunk_size)
        pieces = []
        while piece := reader.read(read_size):
            pieces.append(piece)
        return b"".join(pieces)

    assert read_all(chunk, 7) == read_all(1 << 20, -1)


def test_a_declared_latin1_export_is_read_in_its_encoding(tmp_path: Path) -> None:
    xml = export([anime(series_title="Caf\u00e9 & Bar")]).replace(
        'encoding="UTF-8"', 'encoding="ISO-8859-1"'
    )
    entry = read_one(tmp_path, xml.encode("latin-1"))
    assert entry.title == "Caf\u00e9 & Bar"
    assert entry.warnings == ("series_title: 1 unescaped '&' kept as text",)


def test_a_utf16_export_with_bom_is_read(tmp_path: Path) -> None:
    xml = export([anime(series_title="<![CDATA[\u3053\u3093]]>")]).replace(
        'encoding="UTF-8"', 'encoding="UTF-16"'
    )
    entry = read_one(tmp_path, xml.encode("utf-16"))
    assert entry.title == "\u3053\u3093"
