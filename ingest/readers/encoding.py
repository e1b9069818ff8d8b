"""Text decoding: UTF-8 unless an encoding is declared (a byte-order mark, a mapping's ``encoding``).

Undeclared non-UTF-8 text is refused, but only after finding which record and field hold the
first bad byte, so the message can point at it.
"""

from __future__ import annotations

import codecs
import logging
import re

from ingest.errors import SourceError, TextEncodingError

logger = logging.getLogger(__name__)

_ESCAPED = re.compile("[\udc80-\udcff]")
HINT = 'save the file as UTF-8, or declare its encoding with `encoding = "cp1252"` (for example) in the mapping file'


def decode(data: bytes, encoding: str | None, name: str) -> tuple[str, int | None]:
    """The text of ``data`` and, when it is not UTF-8 and nothing declared otherwise, the offset of
    the first bad byte (the text then carries that byte as a surrogate escape, for :func:`locate`).

    Raises
    ------
    SourceError
        An unknown declared encoding, or text that is not valid in the declared one.
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise SourceError(name, f"the mapping declares encoding {encoding!r}, which Python does not know") from None
        try:
            return data.decode(encoding).removeprefix("\ufeff"), None
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            raise TextEncodingError(name, f"line {line}: byte {data[err.start]:#04x} is not valid {encoding} text") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as err:
            raise TextEncodingError(name, f"starts with a UTF-16 byte-order mark but is not UTF-16 text (byte {err.start})") from None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return data.decode("utf-8", "surrogateescape"), err.start


def has_escapes(text: str) -> bool:
    """True when ``text`` holds bytes that were not UTF-8 (see :func:`decode`)."""
    return bool(_ESCAPED.search(text))


def shown(text: str) -> str:
    """``text`` with escaped bytes written as ``\\xe9``, to show in a message."""
    return _ESCAPED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def refuse(name: str, where: str, value: str | None, data: bytes, offset: int) -> TextEncodingError:
    """The error for undeclared non-UTF-8 text, naming ``where`` (record and field) when known."""
    line = data.count(b"\n", 0, offset) + 1
    what = f"{where} = {shown(value)[:60]!r}: " if value is not None else (f"{where}: " if where else "")
    return TextEncodingError(name, f"{what}not UTF-8 text (byte {data[offset]:#04x}, line {line}) and no encoding is declared; {HINT}")
