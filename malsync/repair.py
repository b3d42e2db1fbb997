"""A byte stream filter that turns damaged MAL exports into well-formed UTF-8 XML while streaming.

MAL writes invalid UTF-8 bytes and stray `&` into its exports, and a strict parser stops at the
first one. Rather than guess which entry is hit, every repair leaves a private-use *marker*
character in the text, so that the importer can tell each entry exactly what was repaired in it
(see `restore_markers`). Markers live in U+F700..U+F7FF: `MARK_BASE + code` where `code` is
0x00..0x1F for a control character XML forbids, 0x26 for an unescaped `&`, and 0x80..0xFF for an
invalid byte.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

MARK_BASE = 0xF700
_AMP_CODE = 0x26
_MARK_RE = re.compile("[\uf700-\uf7ff]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NOT_CONTROL_BYTES = bytes(set(range(256)) - {*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)})
_STRAY_AMP_RE = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)")
_CDATA_OR_AMP_RE = re.compile(r"<!\[CDATA\[|\]\]>|&")
_XML_REFERENCE_RE = re.compile(r"(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);")
_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"'][^>]*\?>")
_ERROR_HANDLER = "malsync-mark"
_CARRY_LIMIT = 1 << 20


def _mark_invalid_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(MARK_BASE + byte) for byte in bad), error.end


codecs.register_error(_ERROR_HANDLER, _mark_invalid_bytes)


def _mark_control(match: re.Match[str]) -> str:
    return chr(MARK_BASE + ord(match.group()))


@dataclass
class Restored:
    """A text value with its markers resolved, and what was repaired in it."""

    text: str
    invalid_bytes: int = 0
    stray_ampersands: int = 0
    control_chars: int = 0

    @property
    def repairs(self) -> list[str]:
        found = []
        if self.invalid_bytes:
            found.append(f"{self.invalid_bytes} invalid UTF-8 byte(s) repaired")
        if self.stray_ampersands:
            found.append(f"{self.stray_ampersands} unescaped '&' kept as text")
        if self.control_chars:
            found.append(f"{self.control_chars} control character(s) removed")
        return found


def restore_markers(text: str) -> Restored:
    """Resolve markers: invalid bytes become Latin-1 characters, `&` comes back, controls go."""
    if not _MARK_RE.search(text):
        return Restored(text)
    counts: Counter[str] = Counter()

    def resolve(match: re.Match[str]) -> str:
        code = ord(match.group()) - MARK_BASE
        if code >= 0x80:
            counts["bytes"] += 1
            return chr(code)
        if code == _AMP_CODE:
            counts["amp"] += 1
            return "&"
        counts["control"] += 1
        return ""

    restored = _MARK_RE.sub(resolve, text)
    return Restored(restored, counts["bytes"], counts["amp"], counts["control"])


_LATIN1_RUN_RE = re.compile("[\x80-\xff]+")


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


@dataclass
class RepairStats:
    """What the filter found in a whole file; per-entry detail comes from the markers."""

    markers_seen: bool = False
    declared_encoding: str | None = None
    dtd_found: bool = False


_DTD_RE = re.compile(r"<!(?:DOCTYPE|ENTITY)\b")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class RepairingReader:
    """File-like object (`read(n)` returning bytes) that lxml's iterparse reads from."""

    def __init__(self, raw: Readable, chunk_size: int = 1 << 16) -> None:
        self._raw = raw
        self._chunk_size = chunk_size
        self._decoder: codecs.IncrementalDecoder | None = None
        self._carry = ""
        self._in_cdata = False
        self._out = b""
        self._pos = 0
        self._eof = False
        self._first = True
        self._seen_root = False
        self._wide = False  # a two-byte encoding, where the byte-level control test means nothing
        self.lines_read = 1
        self.last_line_length = 0
        self.stats = RepairStats()

    def error_at_end(self, line: int, column: int) -> bool:
        """Whether a parse error sits at the very end of the file, the sign of a cut-off file."""
        at_last_line = line >= self.lines_read
        drained = self._eof and self._pos >= len(self._out)
        return drained and at_last_line and column >= self.last_line_length

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (fewer is allowed); b"" only at the end of the file."""
        while self._pos >= len(self._out) and not self._eof:
            self._out, self._pos = self._fill(), 0
        if size < 0:
            size = len(self._out)
        chunk = self._out[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def _make_decoder(self, head: bytes) -> tuple[codecs.IncrementalDecoder, bytes]:
        if head.startswith(codecs.BOM_UTF8):
            return codecs.getincrementaldecoder("utf-8")("strict"), head[3:]
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.stats.declared_encoding = "utf-16"
            self._wide = True
            return codecs.getincrementaldecoder("utf-16")("replace"), head
        match = _DECLARATION_RE.match(head[:200].decode("ascii", "replace"))
        if match:
            try:
                codec = codecs.lookup(match.group(1)).name
            except LookupError:
                codec = "utf-8"
            if codec != "utf-8":
                self.stats.declared_encoding = codec
                return codecs.getincrementaldecoder(codec)("replace"), head
        return codecs.getincrementaldecoder("utf-8")("strict"), head

    def _decode(self, decoder: codecs.IncrementalDecoder, data: bytes, final: bool) -> str:
        """Strict first (fast, and the common case); on invalid bytes, decode again with markers."""
        state = decoder.getstate()
        try:
            return decoder.decode(data, final)
        except UnicodeDecodeError:
            decoder.setstate(state)
            decoder.errors = _ERROR_HANDLER
            self.stats.markers_seen = True
            return decoder.decode(data, final)

    def _fill(self) -> bytes:
        data = self._raw.read(self._chunk_size)
        if self._decoder is None:
            self._decoder, data = self._make_decoder(data)
        # A cheap byte-level test first: control characters are rare, the regex is not cheap.
        has_controls = self._wide or bool(data.translate(None, _NOT_CONTROL_BYTES))
        text = self._decode(self._decoder, data, final=not data)
        if has_controls and _CONTROL_RE.search(text):
            # XML forbids these characters; mark them so the entry can say they were removed.
            text = _CONTROL_RE.sub(_mark_control, text)
            self.stats.markers_seen = True
        if not data:
            self._eof = True
        if self._first and text:
            self._first = False
            if self.stats.declared_encoding:
                # We hand lxml UTF-8, so the declaration must say so.
                text = _DECLARATION_RE.sub('<?xml version="1.0" encoding="UTF-8"?>', text, count=1)
        text = self._carry + text
        if self._eof:
            piece, self._carry = text, ""
        else:
            cut = text.rfind(">") + 1
            if cut == 0 and len(text) < _CARRY_LIMIT:
                self._carry = text
                return b""
            cut = cut or len(text)
            piece, self._carry = text[:cut], text[cut:]
        newlines = piece.count("\n")
        self.lines_read += newlines
        tail = len(piece) - piece.rfind("\n") - 1
        self.last_line_length = tail if newlines else self.last_line_length + tail
        return self._repair(piece).encode("utf-8")

    def _repair(self, piece: str) -> str:
        """Mark stray `&`; the piece ends at a `>`, so no marker or reference is split."""
        if not self._seen_root:
            if _DTD_RE.search(piece):
                self.stats.dtd_found = True
            self._seen_root = "<myanimelist" in piece or len(piece) > 4096
        if not _STRAY_AMP_RE.search(piece):
            self._track_cdata(piece)
            return piece
        parts: list[str] = []
        last = 0
        for match in _CDATA_OR_AMP_RE.finditer(piece):
            found = match.group()
            if found == "<![CDATA[":
                self._in_cdata = True
            elif found == "]]>":
                self._in_cdata = False
            elif not self._in_cdata and not _XML_REFERENCE_RE.match(piece, match.end()):
                parts.append(piece[last : match.start()])
                parts.append(chr(MARK_BASE + _AMP_CODE))
                last = match.end()
                self.stats.markers_seen = True
        parts.append(piece[last:])
        return "".join(parts)

    def _track_cdata(self, piece: str) -> None:
        opened = piece.rfind("<![CDATA[")
        closed = piece.rfind("]]>")
        if opened > closed:
            self._in_cdata = True
        elif closed > opened:
            self._in_cdata = False
