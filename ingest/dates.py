"""Dates as people type them: ISO, day/month/year and month/day/year, month names, spreadsheet dates.

A value that reads as two different dates (``03/05/2024``: 3 May or 5 March?) is rejected unless
the mapping declares the format (``format = "%d/%m/%Y"``); so is a two-digit year. A value that
can only be one date (``25/03/2024``) is accepted. :func:`parse_dates` runs the ISO fast path on
a whole column and parses the rest once per distinct value.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

MONTHS = {
    m: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
         ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for m in names
}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?$")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]+([A-Za-z]{3,9})\.?,?[\s\-/.]+(\d{2}|\d{4})$")
_MONTH_DAY = re.compile(r"^([A-Za-z]{3,9})\.?[\s\-/.]+(\d{1,2})(?:st|nd|rd|th)?,?[\s\-/.]+(\d{2}|\d{4})$")
FIRST_YEAR = 1900
DECLARE = "declare the format in the mapping (e.g. format = \"%d/%m/%Y\")"


def _make(y: int, m: int, d: int) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError as err:
        raise ValueError(f"not a date: {err}") from None


def _year(text: str) -> int:
    if len(text) == 2:
        raise ValueError(f"two-digit year {text!r} is ambiguous; write the year in full or {DECLARE}")
    return int(text)


def parse_date(raw: Any, fmt: str | None = None, *, latest: dt.date | None = None) -> dt.date:
    """One date from a cell: a ``date``/``datetime``, or text in a common (or the declared) format.

    Raises
    ------
    ValueError
        With the reason: not a date, ambiguous (day/month), a two-digit year, a number where a
        date was expected, before 1900, or after ``latest`` (e.g. today: "in the future").
    """
    if isinstance(raw, dt.datetime | pd.Timestamp):
        day = raw.date()
    elif isinstance(raw, dt.date):
        day = raw
    elif isinstance(raw, int | float | np.number) and not isinstance(raw, bool):
        raise ValueError("a number, not a date (a spreadsheet serial date?); format the cells as dates or text")
    else:
        day = _parse_text(str(raw).strip(), fmt)
    if day.year < FIRST_YEAR:
        raise ValueError(f"before {FIRST_YEAR}")
    if latest is not None and day > latest:
        raise ValueError("in the future" if latest == dt.date.today() else f"after {latest.isoformat()}")
    return day


def _parse_text(text: str, fmt: str | None) -> dt.date:
    if fmt:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            raise ValueError(f"not a date in the format {fmt!r}") from None
    if m := _ISO.match(text) or _YMD.match(text) or _COMPACT.match(text):
        return _make(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _NUMERIC.match(text):
        a, b = int(m.group(1)), int(m.group(2))
        year = _year(m.group(3))
        if a > 12 and b <= 12:
            return _make(year, b, a)
        if b > 12 and a <= 12:
            return _make(year, a, b)
        if a == b:
            return _make(year, a, b)
        if a > 12 and b > 12:
            raise ValueError("not a date: neither day/month nor month/day")
        raise ValueError(f"ambiguous: {a} {_month_name(b)} or {b} {_month_name(a)}; {DECLARE}")
    if m := _DAY_MONTH.match(text):
        return _make(_year(m.group(3)), _month(m.group(2)), int(m.group(1)))
    if m := _MONTH_DAY.match(text):
        return _make(_year(m.group(3)), _month(m.group(1)), int(m.group(2)))
    raise ValueError(f"not a date in a known format (YYYY-MM-DD, DD/MM/YYYY, 2 March 2024, ...); {DECLARE}")


def _month(name: str) -> int:
    try:
        return MONTHS[name.lower()]
    except KeyError:
        raise ValueError(f"{name!r} is not a month") from None


def _month_name(m: int) -> str:
    return dt.date(2000, m, 1).strftime("%B")


def parse_dates(values: Sequence[Any], fmt: str | None = None, *, latest: dt.date | None = None) -> tuple[list[dt.date | None], dict[int, str]]:
    """Parse a column: the dates (``None`` where blank or bad) and, by position, why a value is bad.

    ISO ``YYYY-MM-DD`` text (the common case) is parsed in one vectorised step; everything else
    once per distinct value.
    """
    out: list[dt.date | None] = [None] * len(values)
    errors: dict[int, str] = {}
    series = pd.Series(values, dtype=object)
    is_text = series.map(lambda v: isinstance(v, str)).to_numpy(bool)
    fast = np.zeros(len(values), dtype=bool)
    if fmt is None and is_text.any():
        parsed = pd.to_datetime(series[is_text], format="%Y-%m-%d", errors="coerce")
        ok = parsed.notna().to_numpy()
        idx = np.flatnonzero(is_text)[ok]
        days = parsed[ok]
        good = (days.dt.year >= FIRST_YEAR).to_numpy().copy()
        if latest is not None:
            good &= (days.dt.date <= latest).to_numpy()
        for i, d in zip(idx[good], days.dt.date.to_numpy()[good], strict=True):
            out[i] = d
        fast[idx[good]] = True
    cache: dict[Any, dt.date | str] = {}
    for i in map(int, np.flatnonzero(~fast)):
        raw = values[i]
        if raw is None or (isinstance(raw, float) and np.isnan(raw)) or (isinstance(raw, str) and not raw.strip()) or raw is pd.NaT:
            continue
        key = (type(raw).__name__, raw)
        if key not in cache:
            try:
                cache[key] = parse_date(raw, fmt, latest=latest)
            except ValueError as err:
                cache[key] = str(err)
        got = cache[key]
        if isinstance(got, str):
            errors[int(i)] = got
        else:
            out[i] = got
    return out, errors
