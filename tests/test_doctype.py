"""A DTD is refused wherever it stands and in whatever encoding, before any entry is read."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from malsync.errors import ExitStatus, ExportError
from malsync.sources.export_xml import ExportStream, read_export
from tests.exports import anime, export, write

PROLOG = '<?xml version="1.0" encoding="UTF-8" ?>\n'
BODY = f"<myanimelist>{anime(series_animedb_id='1')}{anime(series_animedb_id='2')}</myanimelist>\n"
LONG_BODY = "<myanimelist>" + anime() * 200 + "</myanimelist>\n"  # over 64 KiB of entries
LAUGHS = """<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
"""
XXE = '<!DOCTYPE myanimelist [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>\n'
BARE = "<!DOCTYPE myanimelist>\n"
LAUGHS_BODY = BODY.replace("Fullmetal Alchemist: Brotherhood", "&lol9;", 1)
XXE_BODY = BODY.replace("Fullmetal Alchemist: Brotherhood", "&passwd;", 1)


def refused_before_any_entry(path: Path) -> ExportError:
    """The error, asserting that the stream hands over no entry before it."""
    entries = iter(ExportStream(path))
    with pytest.raises(ExportError) as caught:
        next(entries)
    assert caught.value.exit_status is ExitStatus.BAD_INPUT
    with pytest.raises(ExportError):
        read_export(path)
    return caught.value


def encode(text: str, codec: str) -> bytes:
    """`text` in `codec`, its declaration saying so; `-bom` adds the byte order mark."""
    name = codec.removesuffix("-bom")
    declared = text.replace('encoding="UTF-8"', f'encoding="{name.upper()[:6]}"')
    data = declared.encode(name)
    if codec.endswith("-bom"):
        data = (codecs.BOM_UTF16_LE if name == "utf-16-le" else codecs.BOM_UTF16_BE) + data
    return data


CODECS = ["utf-8", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "utf-16-be"]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    "document",
    [
        pytest.param(PROLOG + BARE + BODY, id="bare-doctype"),
        pytest.param(PROLOG + LAUGHS + LAUGHS_BODY, id="billion-laughs"),
        pytest.param(PROLOG + XXE + XXE_BODY, id="xxe-passwd"),
        pytest.param(PROLOG + "<!--" + "x" * 5000 + "-->\n" + XXE + XXE_BODY, id="after-4-KiB"),
        pytest.param(PROLOG + "<!-- x -->\n" * 8000 + BARE + BODY, id="after-64-KiB"),
    ],
)
def test_a_dtd_in_the_prolog_is_refused_in_any_encoding(
    tmp_path: Path, document: str, codec: str
) -> None:
    path = write(tmp_path / "dtd.xml", encode(document, codec))
    error = refused_before_any_entry(path)
    assert error.reason == "contains a DTD (<!DOCTYPE>); MAL exports have none"
    assert "root:" not in str(error)


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_dtd_in_a_gzip_export_is_refused(tmp_path: Path, gzipped: bool) -> None:
    path = write(tmp_path / "dtd.xml.gz", PROLOG + XXE + XXE_BODY, gzipped)
    assert "DTD" in refused_before_any_entry(path).reason


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            PROLOG + LONG_BODY.replace("</myanimelist>", BARE + "</myanimelist>"), id="in"
        ),
        pytest.param(PROLOG + LONG_BODY + XXE, id="after-the-root"),
    ],
)
def test_a_doctype_after_the_entries_is_refused_too(tmp_path: Path, document: str) -> None:
    path = write(tmp_path / "late.xml", document)
    with pytest.raises(ExportError) as caught:
        read_export(path)
    assert caught.value.exit_status is ExitStatus.BAD_INPUT
    assert caught.value.reason == "contains a DTD (<!DOCTYPE>); MAL exports have none"


@pytest.mark.parametrize("codec", CODECS)
def test_exports_in_these_encodings_are_read(tmp_path: Path, codec: str) -> None:
    path = write(tmp_path / "ok.xml", encode(export([anime()]), codec))
    assert [entry.mal_id for entry in read_export(path).entries] == [5114]


def test_the_word_doctype_in_a_comment_field_is_text(tmp_path: Path) -> None:
    xml = export([anime(my_comments="<![CDATA[<!DOCTYPE html> is how HTML starts]]>")])
    [entry] = read_export(write(tmp_path / "text.xml", xml)).entries
    assert entry.title == "Fullmetal Alchemist: Brotherhood"
