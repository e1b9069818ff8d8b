"""Text that is safe to store and to open in a spreadsheet: one normalisation, one cell rule.

:func:`normalise_text` is what ingest stores and what every spreadsheet-readable file writes:
control characters (C0 and C1, DEL; tab, line feed and carriage return kept) and invisible
format characters (bidirectional embeddings, overrides and isolates, marks, zero-width space,
word joiner, byte-order mark; the zero-width joiners that some scripts need are kept) removed,
then Unicode NFKC (so a full-width ``＝`` is the ``=`` a spreadsheet would see).

:func:`spreadsheet_cell` is the one rule for a cell of a CSV (or XLSX) file a person may open in
a spreadsheet: after normalising, a value whose first character is tab or carriage return, or
whose first non-blank character is ``=``, ``+``, ``-`` or ``@``, and that is not a plain number
(``-12.5``, ``+85512345678``, ``1e-3``), is written with a leading ``'``, so that no spreadsheet
runs it as a formula (``=HYPERLINK(…)``, ``-2+3+cmd|' /C calc'!A0``, DDE). The stored value is
unchanged: a note that starts with ``=`` is data.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# C0 controls but tab, LF and CR; DEL and C1; Unicode format characters that are invisible and
# can reorder or hide what a reader sees (ALM, LRM/RLM, LRE..RLO, LRI..PDI, ZWSP, WJ.., BOM, ...)
_REMOVE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_TRIGGERS = frozenset("=+-@")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def remove_hidden(text: str) -> str:
    """``text`` without control and invisible format characters (see the module docstring)."""
    return _REMOVE.sub("", text)


def normalise_text(text: str) -> str:
    """``text`` without control and invisible format characters, in Unicode NFKC."""
    return remove_hidden(unicodedata.normalize("NFKC", remove_hidden(text)))


def needs_quote(text: str) -> bool:
    """True when a spreadsheet could read normalised ``text`` as a formula (see the module docstring)."""
    if not text:
        return False
    first = text[0]
    if first in "\t\r":
        return True
    stripped = text.lstrip()
    return stripped[:1] in _TRIGGERS and not _PLAIN_NUMBER.fullmatch(stripped.rstrip())


def spreadsheet_cell(value: Any) -> str:
    """``value`` as a spreadsheet-safe cell: normalised text, with a leading ``'`` when it could run as a formula.

    ``None`` is the empty cell; numbers are written as Python writes them (never quoted).
    """
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = normalise_text(str(value))
    return "'" + text if needs_quote(text) else text
