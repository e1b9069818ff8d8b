"""Checks of every text value an ingest reads: length, hidden characters, Unicode form, markup.

- longer than ``ingest_max_field_chars``: rejected;
- control characters and invisible format characters (NUL, other C0/C1 codes, bidirectional
  overrides and isolates, zero-width spaces; :func:`layers.text_safety.normalise_text`):
  removed, and the record counts as repaired, with a warning;
- compatibility forms (full-width ``＝``, ligatures, ...): stored in Unicode NFKC, counted as
  repaired too (a value only in another composition, such as decomposed Vietnamese, is simply
  stored composed);
- HTML markup (``<script>``, ``onerror=``, ``javascript:``): kept as the plain text it is (every
  page and export escapes it), with a warning.

A value that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``) is data and is
stored as given after normalising: every spreadsheet-readable file ecowatch writes makes it
inert (:func:`layers.text_safety.spreadsheet_cell`).

Checks run once per distinct value, and only values that a single scan flags get a closer look.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from layers.text_safety import normalise_text, remove_hidden

logger = logging.getLogger(__name__)

_SUSPECT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb<]|(?i:javascript:)")
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
    if not _SUSPECT.search(value) and unicodedata.is_normalized("NFKC", value):
        return TextCheck(value)
    repaired = []
    if remove_hidden(value) != value:
        repaired.append("control characters removed")
    kept = normalise_text(value)
    if unicodedata.normalize("NFC", remove_hidden(value)) != kept:
        repaired.append("compatibility characters normalised (NFKC)")
    return TextCheck(kept, repaired="; ".join(repaired) or None, markup=bool(_MARKUP.search(kept)))


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
    if not unicodedata.is_normalized("NFKC", joined):
        flagged.update(i for i, v in enumerate(uniq) if not unicodedata.is_normalized("NFKC", v))
    flagged.update(i for i, v in enumerate(uniq) if len(v) > max_chars)
    return {uniq[i]: check_text(uniq[i], max_chars) for i in flagged}


MARKUP_NOTE = "holds HTML markup; stored as plain text, which every page and export escapes"
