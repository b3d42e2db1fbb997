"""MAL's text (comments, tags, titles) as plain text, one way for every source.

MAL stores list comments HTML-escaped (`don&#039;t`, `8-&gt;7`) with `<br />` line breaks, and
an export's CDATA holds them so. Whether the API unescapes them first is not known, so this takes
either: entities are decoded first, then markup is read, so that `8-&gt;7` and `8->7`, or
`&lt;b&gt;` and `<b>`, give the same text. A list read from an export and the same list read live
therefore give the same request bodies, and switching sources sends nothing.

What is not markup stays: `<3`, `a < b`, `<insert name>` are no HTML tags. Only HTML's own element
names count as tags, and their attributes must read `name=value`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.entities import html5

# An entity needs its semicolon: `this&not that` or `AT&T` are text, whichever way MAL gave it.
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# What MAL's escaping writes. When every `&` starts one of them, replacing them in turn gives
# what _ENTITY_RE does: `&amp;` goes last, so that `&amp;lt;` is `&lt;`, as in one pass.
_MAL_REFERENCES = (("&quot;", '"'), ("&#039;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
# An `&` that starts none of them: such a text goes through _ENTITY_RE.
_OTHER_AMPERSAND_RE = re.compile(
    "&(?!" + "|".join(re.escape(reference[1:]) for reference, _ in _MAL_REFERENCES) + ")"
)
# Blanks before a `<br />` go as blanks before any line break do (_TRAILING_BLANKS_RE).
_BR_RE = re.compile(r"<br\s*/?>[ \t]*\n?", re.IGNORECASE)
_HTML_ELEMENTS = (
    "a abbr b big blockquote center cite code del dfn div em font h1 h2 h3 h4 h5 h6 hr i img ins "
    "kbd li mark ol p pre q s samp small span strike strong sub sup table tbody td th thead tr tt "
    "u ul var wbr"
)
_ATTRIBUTE = r"""\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>=`]+)"""
_TAG_RE = re.compile(
    rf"</?(?:{'|'.join(_HTML_ELEMENTS.split())})(?:{_ATTRIBUTE})*\s*/?>", re.IGNORECASE
)
_TRAILING_BLANKS_RE = re.compile(r"[ \t]+\n")
# Control characters (C0, DEL, C1) but tab and line feed: MAL keeps whatever was typed or
# pasted, and an ESC or NUL would reach aniSearch, the report and the terminal.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LATIN1_RUN_RE = re.compile("[\x80-\xff]+")
# Half of a character written in UTF-16 (JSON's "\ud83d" alone: a note cut in an emoji) is no
# text at all: it could not be sent, stored or shown. It becomes U+FFFD, as the export's
# `&#xd83d;` does (html.unescape), so that both sources give the same body.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class PlainText:
    """Normalised text, and how many control characters were taken out (for a warning)."""

    text: str
    controls_removed: int = 0


def normalised_text(text: str, *, markup: bool, mojibake: bool = False) -> PlainText:
    """`text` as plain text: entities decoded, CR LF and CR as LF, no control characters, and
    with `markup` (notes, tags; not titles) `<br />` as a line break and HTML tags removed.

    Blanks before a line break go (MAL's `text <br />` is `text` then a break, either way it is
    given); `mojibake` undoes UTF-8 read as Latin-1, where the export found invalid bytes.
    """
    if is_plain(text):
        return PlainText(text.strip())
    if "&" in text:
        text = _decode_references(text)
    if mojibake:
        text = undo_double_encoding(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if markup and "<" in text:
        text = _BR_RE.sub("\n", text)
        if "<" in text:  # most notes hold no markup but line breaks
            text = _TAG_RE.sub("", text)
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_BLANKS_RE.sub("\n", text)
    removed = 0
    # Line breaks and tabs stay: a text of printable characters but those needs no search.
    if not text.isprintable() and not text.replace("\n", "").replace("\t", "").isprintable():
        text, removed = _CONTROL_RE.subn("", text)
        text = _SURROGATE_RE.sub("\ufffd", text)
    return PlainText(text.strip(), removed)


def is_plain(text: str) -> bool:
    """Whether `text` is plain already, but for blanks around it (most titles and tags are)."""
    return text.isprintable() and "&" not in text and "<" not in text


def _decode_references(text: str) -> str:
    """Entities decoded; a text with only the references MAL writes takes `str.replace`."""
    if _OTHER_AMPERSAND_RE.search(text):
        return _ENTITY_RE.sub(_decoded, text)
    for reference, character in _MAL_REFERENCES:
        if reference in text:
            text = text.replace(reference, character)
    return text


def _decoded(match: re.Match[str]) -> str:
    reference = match.group()
    if reference[1] == "#":  # html.unescape maps &#150; as browsers do, and refuses controls
        return html.unescape(reference)
    # HTML5's names; an unknown one stays as it is (html.unescape would read `&notit;` as ¬it;).
    return html5.get(reference[1:], reference)


def undo_double_encoding(text: str) -> str:
    """Fix runs of Latin-1 characters that are really UTF-8 bytes ("ã\x81\x93" -> "こ").

    MAL's broken comments are exactly this: UTF-8 text encoded once more as Latin-1 HTML entities,
    with the bytes that have no entity left raw (and so invalid). A run is changed only when its
    bytes form valid UTF-8, which text that really is Latin-1 almost never does.
    """

    def fix(match: re.Match[str]) -> str:
        run = match.group()
        try:
            return run.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return run

    return _LATIN1_RUN_RE.sub(fix, text)
