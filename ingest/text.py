"""Checks of every text value an ingest reads: length, spreadsheet formulas, control characters, markup.

- longer than ``ingest_max_field_chars``: rejected;
- starting like a spreadsheet formula (``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM(…)``): rejected, since
  a spreadsheet that opens an export would run it;
- control characters (NUL, other C0/C1 codes, bidirectional overrides): removed, and the record
  counts as repaired, with a warning;
- HTML markup (``<script>``, ``onerror=``, ``javascript:``): kept as the plain text it is (every
  page and export escapes it), with a warning.

Checks run once per distinct value, and only values that a single scan flags get a closer look.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

_SUSPECT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069<]|(?i:javascript:)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FORMULA = re.compile(r"^\s*(=|[+\-@]\s*[A-Za-z_][\w.]*\s*[(!|])")
_FORMULA_START = frozenset("=+-@")
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>|<\s*(script|iframe|svg|img|object|embed|style)\b|\bon[a-z]+\s*=|javascript:", re.IGNORECASE)


@dataclass(frozen=True)
class TextCheck:
    """What the checks made of one value: the value to keep, or why it is rejected, and any note."""

    value: str | None
    reject: str | None = None
    repaired: str | None = None
    markup: bool = False


def check_text(value: str, max_chars: int) -> TextCheck:
    """Check one text value (see the module docstring for the rules)."""
    if len(value) > max_chars:
        return TextCheck(None, reject=f"{len(value):,} characters, more than the limit of {max_chars:,} (setting ingest_max_field_chars)")
    if value.lstrip()[:1] in _FORMULA_START and FORMULA.match(value):
        return TextCheck(None, reject="starts like a spreadsheet formula, which a spreadsheet opening an export would run; give the plain value")
    if not _SUSPECT.search(value):
        return TextCheck(value)
    repaired = None
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
        repaired = "control characters removed"
    return TextCheck(value, repaired=repaired, markup=bool(_MARKUP.search(value)))


def check_many(values: Iterable[str], max_chars: int) -> dict[str, TextCheck]:
    """:func:`check_text` of each distinct value that needs it; values missing from the result are fine.

    One regular-expression scan over all distinct values joined finds the few that need a closer
    look, so a column of 100 000 distinct ids costs milliseconds.
    """
    uniq = list(set(values))
    if not uniq:
        return {}
    joined = "\n".join(uniq)
    starts = np.cumsum([0] + [len(v) + 1 for v in uniq[:-1]])
    flagged = {int(np.searchsorted(starts, m.start(), side="right")) - 1 for m in _SUSPECT.finditer(joined)}
    flagged.update(i for i, v in enumerate(uniq) if len(v) > max_chars or v.lstrip()[:1] in _FORMULA_START)
    return {uniq[i]: check_text(uniq[i], max_chars) for i in flagged}


MARKUP_NOTE = "holds HTML markup; stored as plain text, which every page and export escapes"
