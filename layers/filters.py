"""The one parser of clearing filters: period, confidence, flag, risk, review status, AOI (and, on
the map, commodity and country).

The review queue reads them from its URL, the map (and exports) read the same names, so a
link made on one page filters the same clearings on another. :func:`parse_filters` takes any
mapping of query-string names to strings (a Flask ``request.args``, a dict, click options) and
returns a :class:`ClearingFilter`; every problem is a :class:`layers.errors.FilterError` naming the
parameter and what was expected.

==============  ==============================================================================
``from``        first detected on or after this day (``YYYY-MM-DD``)
``to``          first detected on or before this day
``period``      a year (``2024``), quarter (``2024Q1``) or month (``2024-03``) of first detection;
                not together with ``from``/``to``
``confidence``  ``low``, ``high`` (comma-separated or repeated: any of them)
``flag``        flag codes (any of them), e.g. ``protected_area,outside_concessions``
``risk``        risk at least ``N``, or ``N-M`` (0-100)
``status``      review status: ``new``, ``confirmed``, ``dismissed``, ``field_check`` (any), or ``any``
``aoi``         AOI name
``commodity``   (map only, :data:`MAP_FILTER_NAMES`) seizures of these commodity groups: ``timber``,
                ``wildlife``
``country``     (map only) concessions in this country and seizures declared to come from it
==============  ==============================================================================

:meth:`ClearingFilter.where_for` gives the conditions of any layer: clearings take the clearing
filters, seizures the period and the commodity and country, concessions the country; a layer
that has none of the fields a filter is about is not narrowed by it (the map's legend says so).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from layers.conditions import Between, Contains
from layers.errors import FilterError

CONFIDENCES = ("high", "low")
REVIEW_STATUSES = ("new", "confirmed", "dismissed", "field_check")
FLAGS = (
    "protected_area", "inside_concession", "concession_not_valid", "purpose_mismatch", "spills_over_concession",
    "outside_concessions", "no_concession_data", "near_corridor", "near_border", "near_crossing",
)
COMMODITY_GROUPS = ("timber", "wildlife")
FILTER_NAMES = ("from", "to", "period", "confidence", "flag", "risk", "status", "aoi")
MAP_FILTER_NAMES = (*FILTER_NAMES, "commodity", "country")
_MAX_CHARS = 200
_PERIOD = re.compile(r"(?P<y>[0-9]{4})(?:(?:-?Q(?P<q>[1-4]))|(?:-(?P<m>[0-9]{2})))?")
_RISK = re.compile(r"(?P<lo>[0-9]{1,3})(?:-(?P<hi>[0-9]{1,3}))?")
_AOI = re.compile(r"[\w .()/-]{1,100}")
_COUNTRY = re.compile(r"[\w .'()-]{1,80}")


@dataclass(frozen=True)
class ClearingFilter:
    """Which clearings to show. Empty tuples and ``None`` mean "no condition"."""

    first: dt.date | None = None
    last: dt.date | None = None
    confidence: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    risk_min: int | None = None
    risk_max: int | None = None
    status: tuple[str, ...] = ()
    aoi: str | None = None
    commodity: tuple[str, ...] = ()
    country: str | None = None
    # the parameters as given (canonical form), to put back into links
    params: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def where(self) -> dict[str, Any]:
        """The store conditions of this filter (``store.read(where=...)``); several flags match any of them."""
        out: dict[str, Any] = {}
        if self.first is not None or self.last is not None:
            out["first_detected"] = Between(self.first, self.last)
        if self.confidence:
            out["confidence"] = list(self.confidence)
        if self.flags:
            out["flags"] = Contains(*self.flags)
        if self.risk_min is not None or self.risk_max is not None:
            out["risk"] = Between(self.risk_min, self.risk_max)
        if self.status:
            out["review_status"] = list(self.status)
        if self.aoi is not None:
            out["aoi"] = self.aoi
        return out

    def where_for(self, layer: str) -> dict[str, Any]:
        """The store conditions of this filter on ``layer``: clearings (:meth:`where`), seizures
        (period on ``date``, ``commodity_group``, ``origin_country``), concessions (``country``);
        other layers none."""
        out: dict[str, Any] = {}
        if layer == "clearings":
            return self.where()
        if layer == "seizures":
            if self.first is not None or self.last is not None:
                out["date"] = Between(self.first, self.last)
            if self.commodity:
                out["commodity_group"] = list(self.commodity)
            if self.country is not None:
                out["origin_country"] = self.country
        elif layer == "concessions" and self.country is not None:
            out["country"] = self.country
        return out

    def query(self, **changes: str | None) -> list[tuple[str, str]]:
        """The query-string pairs of this filter, with ``changes`` set (``None`` removes a name)."""
        pairs = [(k, v) for k, v in self.params if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return pairs


def _values(args: Mapping[str, Any], name: str) -> list[str]:
    if name not in args:
        return []
    getlist = getattr(args, "getlist", None)
    raw: Iterable[Any] = getlist(name) if getlist is not None else [args[name]]
    out: list[str] = []
    for item in raw:
        items = item if isinstance(item, list | tuple) else [item]
        for text in items:
            text = str(text)
            if len(text) > _MAX_CHARS:
                raise FilterError(name, f"is too long (over {_MAX_CHARS} characters)")
            out += [p.strip() for p in text.split(",") if p.strip()]
    return out


def _choices(args: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = _values(args, name)
    for v in values:
        if v not in allowed:
            raise FilterError(name, f"{v[:40]!r} is not one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(values))


def _one(args: Mapping[str, Any], name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise FilterError(name, f"give one value, got {len(values)}")
    return values[0] if values else None


def _day(args: Mapping[str, Any], name: str) -> dt.date | None:
    text = _one(args, name)
    if text is None:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FilterError(name, f"{text[:40]!r} is not a date YYYY-MM-DD") from None


def period_bounds(text: str, name: str = "period") -> tuple[dt.date, dt.date]:
    """First and last day of a year (``2024``), quarter (``2024Q1``, ``2024-Q1``) or month (``2024-03``)."""
    m = _PERIOD.fullmatch(text)
    if not m:
        raise FilterError(name, f"{text[:40]!r} is not a year (2024), quarter (2024Q1) or month (2024-03)")
    year = int(m["y"])
    if m["q"]:
        first_month, months = 3 * (int(m["q"]) - 1) + 1, 3
    elif m["m"]:
        first_month, months = int(m["m"]), 1
        if not 1 <= first_month <= 12:
            raise FilterError(name, f"month {m['m']} is not 01-12")
    else:
        first_month, months = 1, 12
    first = dt.date(year, first_month, 1)
    end_month = first_month + months
    after = dt.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return first, after - dt.timedelta(days=1)


def _risk(args: Mapping[str, Any]) -> tuple[int | None, int | None]:
    text = _one(args, "risk")
    if text is None:
        return None, None
    m = _RISK.fullmatch(text)
    if not m:
        raise FilterError("risk", f"{text[:40]!r} is not a risk N (at least N) or a range N-M, 0-100")
    lo, hi = int(m["lo"]), (int(m["hi"]) if m["hi"] else None)
    if lo > 100 or (hi is not None and hi > 100):
        raise FilterError("risk", "risk goes from 0 to 100")
    if hi is not None and hi < lo:
        raise FilterError("risk", f"range {lo}-{hi} ends before it starts")
    return lo, hi


def parse_filters(
    args: Mapping[str, Any], *, extra: Iterable[str] = (), default_status: tuple[str, ...] = (), names: tuple[str, ...] = FILTER_NAMES,
) -> ClearingFilter:
    """Read a :class:`ClearingFilter` from query-string ``args``.

    Parameters
    ----------
    args
        Names to values (a string, a list of strings, or a multi-dict such as ``request.args``).
    extra
        Other names the caller reads itself (e.g. ``page``); any name that is neither a filter
        nor one of these is an error, so that a misspelt filter is not silently ignored.
    default_status
        Review statuses when ``status`` is not given (``status=any`` asks for every status).
    names
        The filters this caller offers: :data:`FILTER_NAMES` (clearings only), or
        :data:`MAP_FILTER_NAMES` (the map: commodity and country too).

    Raises
    ------
    FilterError
        Naming the parameter and what was expected.
    """
    allowed = set(names) | set(extra)
    for name in args:
        if name not in allowed:
            raise FilterError(str(name)[:40], f"unknown filter; filters: {', '.join(names)}")
    first, last = _day(args, "from"), _day(args, "to")
    period = _one(args, "period")
    if period is not None:
        if first is not None or last is not None:
            raise FilterError("period", "give either period or from/to, not both")
        first, last = period_bounds(period)
    if first is not None and last is not None and last < first:
        raise FilterError("to", f"{last} is before from ({first})")
    status_values = _values(args, "status")
    if status_values == ["any"]:
        status: tuple[str, ...] = ()
    elif status_values:
        status = _choices(args, "status", REVIEW_STATUSES)
    else:
        status = default_status
    risk_min, risk_max = _risk(args)
    aoi = _one(args, "aoi")
    if aoi is not None and not _AOI.fullmatch(aoi):
        raise FilterError("aoi", f"{aoi[:40]!r} is not an AOI name (letters, digits, space . ( ) / - _)")
    country = _one(args, "country") if "country" in names else None
    if country is not None and not _COUNTRY.fullmatch(country):
        raise FilterError("country", f"{country[:40]!r} is not a country name (letters, digits, space . ' ( ) -)")
    commodity = _choices(args, "commodity", COMMODITY_GROUPS) if "commodity" in names else ()
    params: list[tuple[str, str]] = []
    for name in names:
        values = _values(args, name) if name in args else []
        if values:
            params.append((name, ",".join(values)))
    return ClearingFilter(
        first=first, last=last, confidence=_choices(args, "confidence", CONFIDENCES), flags=_choices(args, "flag", FLAGS),
        risk_min=risk_min, risk_max=risk_max, status=status, aoi=aoi, commodity=commodity, country=country, params=tuple(params),
    )

