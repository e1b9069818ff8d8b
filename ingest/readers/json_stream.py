"""A JSON document read a piece at a time: the text decoded in chunks, values parsed one by one.

A GeoJSON file of hundreds of megabytes parsed whole becomes several gigabytes of Python lists and
floats. :class:`JsonStream` instead decodes the file :data:`CHUNK_BYTES` at a time and parses one
value (a feature) at a time with the standard library's C parser (``raw_decode``), keeping only
the text not yet parsed. Text is UTF-8 unless declared (a byte-order mark, or the mapping's
``encoding``); undeclared text that is not UTF-8 is decoded with surrogate escapes and the first
bad byte remembered (:attr:`bad_byte`), so that the reader can name the record that holds it.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any, BinaryIO

from ingest.errors import SourceError, TextEncodingError

CHUNK_BYTES = 16 << 20
"""Bytes of the file decoded at a time."""
MAX_VALUE_CHARS = 256 << 20
"""Longest single value (a feature) kept in memory while looking for its end."""
_WS = re.compile(r"[ \t\n\r]*")


class TooDeepError(Exception):
    """A value nested too deeply for the parser; ``text`` is the text from the value's start."""

    def __init__(self, text: str) -> None:
        super().__init__("nested too deeply to parse")
        self.text = text


class JsonStream:
    """The text of a JSON file, parsed value by value (see the module docstring).

    Raises
    ------
    SourceError
        Text that is not valid in its declared encoding (``TextEncodingError``), or a value that
        is not JSON (:meth:`error` names the line and column).
    """

    def __init__(self, path: Path, name: str, encoding: str | None, decoder: json.JSONDecoder) -> None:
        self.name = name
        self.decoder = decoder
        self.bad_byte: tuple[int, int, int] | None = None
        """(offset, byte, line) of the first byte that is not UTF-8, when no encoding was declared."""
        self._fh: BinaryIO = path.open("rb")
        head = self._fh.read(3)
        self._fh.seek(0)
        self._declared = encoding
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                self._fh.close()
                raise SourceError(name, f"the mapping declares encoding {encoding!r}, which Python does not know") from None
            codec = encoding
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            codec = "utf-16"
        else:
            codec = "utf-8-sig"
        self._codec = codec
        self._decoder = codecs.getincrementaldecoder(codec)("strict")
        self._fed = 0  # bytes fed to the decoder
        self._lines = 0  # newlines in the bytes fed
        self.buf = ""
        self.pos = 0
        self._dropped_lines = 0  # newlines in the text dropped from the buffer
        self._dropped_col = 0  # characters since the last dropped newline
        self.eof = False

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- text -----------------------------------------------------------------------------------
    def _more(self) -> bool:
        """Decode the next chunk onto the buffer (dropping what was parsed); False at the end of the file."""
        if self.eof:
            return False
        chunk = self._fh.read(CHUNK_BYTES)
        final = len(chunk) < CHUNK_BYTES
        pending = self._decoder.getstate()[0]
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError as err:
            text = self._bad_text(chunk, pending, err, final)
        self._fed += len(chunk)
        self._lines += chunk.count(b"\n")
        dropped = self.buf[: self.pos]
        newlines = dropped.count("\n")
        self._dropped_lines += newlines
        self._dropped_col = len(dropped) - dropped.rfind("\n") - 1 if newlines else self._dropped_col + len(dropped)
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        self.eof = final
        return bool(text) or not final

    def _bad_text(self, chunk: bytes, pending: bytes, err: UnicodeDecodeError, final: bool) -> str:
        start = err.start - len(pending)  # the error's place in ``chunk``
        offset = self._fed + start
        line = self._lines + chunk.count(b"\n", 0, max(start, 0)) + 1
        byte = (pending + chunk)[err.start]
        if self._declared or self._codec == "utf-16":
            kind = self._declared or "UTF-16"
            raise TextEncodingError(self.name, f"line {line}: byte {byte:#04x} is not valid {kind} text") from None
        if self.bad_byte is None:
            self.bad_byte = (offset, byte, line)
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        return self._decoder.decode(pending + chunk, final)

    def where(self, pos: int) -> tuple[int, int]:
        """(line, column) of buffer position ``pos``, both from 1."""
        before = self.buf[:pos]
        newlines = before.count("\n")
        line = self._dropped_lines + newlines + 1
        col = pos - before.rfind("\n") if newlines else self._dropped_col + pos + 1
        return line, col

    def error(self, what: str, pos: int | None = None) -> SourceError:
        line, col = self.where(self.pos if pos is None else pos)
        return SourceError(self.name, f"cannot be read as GeoJSON: {what} (line {line}, column {col})")

    # -- tokens ---------------------------------------------------------------------------------
    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, chars: str) -> str:
        """Consume one of ``chars`` (the next non-space character), or fail naming what was found."""
        found = self.peek()
        if not found or found not in chars:
            raise self.error(f"expected {' or '.join(repr(c) for c in chars)}, found {found or 'the end of the file'!r}")
        self.pos += 1
        return found

    def value(self) -> tuple[Any, str]:
        """The next JSON value and its text, parsed whole (more of the file is read while it is incomplete)."""
        self.peek()
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as err:
                if self.eof or len(self.buf) - self.pos > MAX_VALUE_CHARS:
                    raise self.error(err.msg, err.pos) from None
                self._more()
                continue
            except RecursionError as err:
                raise TooDeepError(self.buf[self.pos :]) from err
            if end == len(self.buf) and not self.eof:  # a number may go on in the next chunk
                self._more()
                continue
            text = self.buf[self.pos : end]
            self.pos = end
            return obj, text
