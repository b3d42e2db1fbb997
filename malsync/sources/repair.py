"""A byte stream filter that turns damaged MAL exports into well-formed UTF-8 XML while streaming.

MAL writes invalid UTF-8 bytes and stray `&` into its exports, and a strict parser stops at the
first one. Rather than guess which entry is hit, every repair leaves a private-use *marker*
character in the text, so that the importer can tell each entry exactly what was repaired in it
(see `restore_markers`). Markers live in U+F700..U+F7FF: `MARK_BASE + code` where `code` is
0x00..0x1F for a control character XML forbids, 0x26 for an unescaped `&`, and 0x80..0xFF for an
invalid byte.

It also opens an export (plain or gzip, by content) and refuses what plainly is not one, and
turns repaired text into plain text (`plain_text`), the same way as the live source does.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from malsync.errors import ExportError
from malsync.pipeline.records import EntryWarning, WarningKind
from malsync.sources.text import is_plain, normalised_text

MARK_BASE = 0xF700
_AMP_CODE = 0x26
_MARK_RE = re.compile("[\uf700-\uf7ff]")
_NOT_CONTROL_BYTES = bytes(set(range(256)) - {*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)})
_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"'][^>]*\?>")
_ERROR_HANDLER = "malsync-mark"
_CARRY_LIMIT = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 2048
# How a UTF-16 (or UTF-32) file starts, with or without its byte order mark: `<` is 3C 00 or 00 3C.
WIDE_STARTS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"<\x00", b"\x00<")
_DOCTYPE_LINES_KEPT = 16


def _mark_invalid_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(MARK_BASE + byte) for byte in bad), error.end


codecs.register_error(_ERROR_HANDLER, _mark_invalid_bytes)


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


def plain_text(
    value: str | None, label: str, repaired: bool, warnings: list[str], markup: bool = False
) -> str:
    """An export's text with repairs resolved, then made plain as for every source
    (`malsync.sources.text`); a warning says what was repaired or removed."""
    if not value:
        return ""
    if not repaired and is_plain(value):
        return value.strip()
    restored = restore_markers(value) if repaired else None
    plain = normalised_text(
        value if restored is None else restored.text,
        markup=markup,
        mojibake=restored is not None and restored.invalid_bytes > 0,
    )
    if restored is None and not plain.controls_removed:  # most text: nothing to warn about
        return plain.text
    restored = restored or Restored(value)
    restored.control_chars += plain.controls_removed
    warnings.extend(
        EntryWarning(f"{label}: {repair}", WarningKind.TEXT_REPAIRED) for repair in restored.repairs
    )
    return plain.text


@dataclass
class RepairStats:
    """What the filter found in a whole file; per-entry detail comes from the markers."""

    markers_seen: bool = False


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class RepairingReader:
    """File-like object (`read(n)` returning bytes) that lxml's iterparse reads from.

    It works on bytes and cuts the stream after a `>`, which no multi-byte UTF-8 sequence, entity
    reference or CDATA marker contains, so a piece never splits one. Clean pieces pass through
    untouched; only a damaged piece is decoded and re-encoded.
    """

    def __init__(self, raw: Readable, chunk_size: int = 1 << 16) -> None:
        self._raw = raw
        self._chunk_size = chunk_size
        self._mode: str | None = None  # "utf-8", "other" (ASCII-compatible), or "as-is"
        self._carry = b""
        self._in_cdata = False
        self._out = b""
        self._pos = 0
        self._eof = False
        self.lines_read = 1
        # Lines holding `<!DOCTYPE` (first few), so that a syntax error there can name the DTD.
        self.doctype_lines: set[int] = set()
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

    def _detect(self, head: bytes) -> None:
        """UTF-8 unless declared otherwise; a UTF-16 file goes to lxml as it is, unrepaired."""
        if head.startswith(WIDE_STARTS):
            self._mode = "as-is"
            return
        match = _DECLARATION_RE.match(head[:200].decode("ascii", "replace"))
        codec = "utf-8"
        if match:
            try:
                codec = codecs.lookup(match.group(1)).name
            except LookupError:
                codec = "utf-8"
        self._mode = "utf-8" if codec == "utf-8" else "other"

    def _fill(self) -> bytes:
        data = self._raw.read(self._chunk_size)
        if self._mode is None:
            self._detect(data)
        if not data:
            self._eof = True
        buffer = self._carry + data
        if self._eof or self._mode == "as-is":
            piece, self._carry = buffer, b""
        else:
            cut = buffer.rfind(b">") + 1
            if cut == 0 and len(buffer) < _CARRY_LIMIT:
                self._carry = buffer
                return b""
            cut = cut or len(buffer)
            piece, self._carry = buffer[:cut], buffer[cut:]
        newlines = piece.count(b"\n")
        if b"<!DOCTYPE" in piece:
            self._note_doctypes(piece)
        self.lines_read += newlines
        tail = len(piece) - piece.rfind(b"\n") - 1
        self.last_line_length = tail if newlines else self.last_line_length + tail
        return piece if self._mode == "as-is" else self._repair(piece)

    def _note_doctypes(self, piece: bytes) -> None:
        start = piece.find(b"<!DOCTYPE")
        while start >= 0 and len(self.doctype_lines) < _DOCTYPE_LINES_KEPT:
            self.doctype_lines.add(self.lines_read + piece.count(b"\n", 0, start))
            start = piece.find(b"<!DOCTYPE", start + 1)

    def _repair(self, piece: bytes) -> bytes:
        if self._mode == "utf-8":
            piece = self._repair_utf8(piece)
        if not _STRAY_AMP_BYTES_RE.search(piece):
            self._track_cdata(piece)
            return piece
        # A stray `&` becomes a reference to its marker; it is only repaired outside CDATA,
        # where references are read.
        parts: list[bytes] = []
        last = 0
        for match in _CDATA_OR_AMP_BYTES_RE.finditer(piece):
            found = match.group()
            if found == b"<![CDATA[":
                self._in_cdata = True
            elif found == b"]]>":
                self._in_cdata = False
            elif not self._in_cdata and not _XML_REFERENCE_BYTES_RE.match(piece, match.end()):
                parts.append(piece[last : match.start()])
                parts.append(_AMP_MARKER_REFERENCE)
                last = match.end()
                self.stats.markers_seen = True
        parts.append(piece[last:])
        return b"".join(parts)

    def _repair_utf8(self, piece: bytes) -> bytes:
        """Mark control characters and invalid bytes with literal markers (CDATA keeps them)."""
        if piece.translate(None, _NOT_CONTROL_BYTES):
            piece = _CONTROL_BYTES_RE.sub(_control_marker, piece)
            self.stats.markers_seen = True
        try:
            if not piece.isascii():  # ASCII is UTF-8: only other bytes need the decoding check
                piece.decode("utf-8")
        except UnicodeDecodeError:
            piece = piece.decode("utf-8", _ERROR_HANDLER).encode("utf-8")
            self.stats.markers_seen = True
        return piece

    def _track_cdata(self, piece: bytes) -> None:
        opened = piece.rfind(b"<![CDATA[")
        closed = piece.rfind(b"]]>")
        if opened > closed:
            self._in_cdata = True
        elif closed > opened:
            self._in_cdata = False


@contextmanager
def open_export(name: str) -> Iterator[gzip.GzipFile | io.BufferedReader]:
    """Open plain or gzip by content, and reject files that are plainly not an XML export."""
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below
    except IsADirectoryError:
        raise ExportError(name, "is a directory, not an export file") from None
    except FileNotFoundError:
        raise ExportError(name, "no such file") from None
    except OSError as error:
        raise ExportError(name, f"cannot be opened ({error.strerror})") from None
    try:
        is_gzip = handle.read(2) == _GZIP_MAGIC
        handle.seek(0)
        stream: gzip.GzipFile | io.BufferedReader = (
            gzip.GzipFile(fileobj=handle, mode="rb") if is_gzip else handle
        )
        try:
            head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
        except (EOFError, OSError, zlib.error) as error:
            raise ExportError(name, stream_reason(error)) from None
        _sniff(name, head)
        yield stream
    finally:
        handle.close()


def _sniff(name: str, head: bytes) -> None:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ExportError(name, "is empty, not a MAL export")
    lowered = stripped[:512].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered:
        raise ExportError(
            name, "is an HTML page, not a MAL export (download the .xml.gz file MAL offers)"
        )
    if stripped[:1] in (b"{", b"["):
        raise ExportError(name, "looks like JSON, not a MAL XML export")
    is_utf16 = head.startswith(WIDE_STARTS)
    if b"\x00" in head and not is_utf16:
        raise ExportError(name, "is binary data, not a MAL XML export")
    if not stripped.startswith(b"<") and not is_utf16:
        raise ExportError(name, "is not XML, so not a MAL export")


def stream_reason(error: BaseException) -> str:
    """Why a file could not be read, in words a person can act on."""
    if isinstance(error, EOFError):
        return "is a truncated gzip file (the download did not finish?)"
    if isinstance(error, gzip.BadGzipFile | zlib.error):
        return "is a damaged gzip file"
    return f"cannot be read ({error})"


def _control_marker(match: re.Match[bytes]) -> bytes:
    return chr(MARK_BASE + match.group()[0]).encode("utf-8")


_AMP_MARKER_REFERENCE = f"&#{MARK_BASE + _AMP_CODE};".encode("ascii")
_CONTROL_BYTES_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_STRAY_AMP_BYTES_RE = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)")
_CDATA_OR_AMP_BYTES_RE = re.compile(rb"<!\[CDATA\[|\]\]>|&")
_XML_REFERENCE_BYTES_RE = re.compile(rb"(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);")
