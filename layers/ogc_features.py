"""OGC API – Features, Part 1 (Core), over the store and the catalogue: framework-neutral.

What a collection is, what may be asked of it, and how a page of items is read — as plain
functions (pygeoapi's split: the web layer, :mod:`web.ogcapi`, only adapts requests and
responses). Every read goes through the one gate, :func:`layers.redaction.read_redacted` and
:func:`~layers.redaction.count_redacted`, with the caller's :class:`~layers.redaction.Access`, so
the API, the map and every export say the same of a feature and ``numberMatched`` is what the
role may see.

- **collections**: one per spatial layer of the catalogue that the role may read (the layers
  a generalised role reads from another table keep their own name; internal tables never);
- **queryables** (Part 1 §7.15.5, Part 3's ``/queryables``): the fields the role sees of the
  table it reads, of a simple type; ``name=value`` asks for equality. The clearings collection
  also takes the map's filter names (``from``, ``to``, ``period``, ``confidence``, ``flag``,
  ``risk``, ``status``, ``aoi``), seizures ``from``/``to``/``period``, ``commodity`` and
  ``country``, concessions ``country`` (:data:`MAP_FILTERS`), through the one filter parser,
  :mod:`layers.filters`;
- **datetime**: an instant or an interval (``a/b``, ``../b``, ``a/..``) on the collection's
  time field (:data:`TIME_FIELDS`);
- **paging**: ``limit`` (capped at :data:`MAX_LIMIT`) and ``offset``; items come in the order
  the gate gives (the store's row order, or for a generalised role the published order).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from layers.bbox import parse_bbox
from layers.catalog import CATALOG, Field, Layer
from layers.conditions import Between
from layers.errors import BBoxError, FilterError, LayerError
from layers.filters import FILTER_NAMES, MAP_FILTER_NAMES, parse_filters
from layers.redaction import (
    Access,
    count_redacted,
    may_read,
    read_redacted,
    source_layer,
    visible_fields,
)
from layers.store import Store

logger = logging.getLogger(__name__)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
RESERVED = ("f", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset")
TIME_FIELDS: dict[str, str] = {
    "clearings": "first_detected", "seizures": "date", "scenes": "acquired", "observation_gaps": "since",
}
"""The field a collection's ``datetime`` parameter and temporal extent refer to."""
MAP_FILTERS: dict[str, tuple[str, ...]] = {
    "clearings": FILTER_NAMES, "seizures": ("from", "to", "period", "commodity", "country"), "concessions": ("country",),
}
"""The map's filter names (:mod:`layers.filters`) each collection takes, besides its queryables."""
QUERYABLE_TYPES = ("text", "integer", "real", "boolean", "date", "datetime")
_MAX_VALUE_CHARS = 200


def collections(access: Access) -> list[Layer]:
    """The layers offered as collections to ``access``'s role, in catalogue order."""
    stand_ins = {lyr.generalised_from for lyr in CATALOG.values() if lyr.generalised_from}
    out: list[Layer] = []
    for layer in CATALOG.values():
        if layer.internal or not layer.geometry_type or layer.name in stand_ins or not may_read(layer, access.role):
            continue
        if access.generalised and layer.refused_generalised:
            continue
        out.append(layer)
    return out


def collection(name: str, access: Access) -> Layer | None:
    """The collection ``name`` when ``access``'s role may read it, else ``None`` (unknown and refused look alike)."""
    return next((lyr for lyr in collections(access) if lyr.name == name), None)


def queryables(layer: Layer, access: Access) -> list[Field]:
    """The fields of ``layer`` that ``access``'s role may filter on (what it sees, of a simple type)."""
    src = source_layer(layer, access)
    return [f for f in visible_fields(src, src.field_names, access) if f.type in QUERYABLE_TYPES]


def time_field(layer: Layer, access: Access) -> Field | None:
    """The field ``datetime`` filters on, when the collection has one the role sees."""
    name = TIME_FIELDS.get(layer.name)
    return next((f for f in queryables(layer, access) if f.name == name), None)


@dataclass(frozen=True)
class ItemsQuery:
    """A parsed ``/items`` request: box, conditions, page, and the parameters to put back into links."""

    bbox: tuple[float, float, float, float] | None = None
    where: dict[str, Any] = field(default_factory=dict)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    params: tuple[tuple[str, str], ...] = ()


def _one(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = list(args.get(name, []))
    if not values:
        return None
    if len(values) > 1:
        raise FilterError(name, f"give it once, got {len(values)} values")
    if len(values[0]) > _MAX_VALUE_CHARS:
        raise FilterError(name, f"is too long (over {_MAX_VALUE_CHARS} characters)")
    return values[0]


def _count(args: Mapping[str, Sequence[str]], name: str, default: int, maximum: int | None) -> int:
    text = _one(args, name)
    if text is None:
        return default
    if not text.isdigit():
        raise FilterError(name, f"{text[:40]!r} is not a whole number >= 0")
    value = int(text)
    if name == "limit" and value < 1:
        raise FilterError(name, "must be at least 1")
    return min(value, maximum) if maximum is not None else value


def parse_value(fld: Field, text: str) -> Any:
    """``text`` as a value of ``fld``'s type (for an equality filter)."""
    try:
        if fld.type == "integer":
            return int(text)
        if fld.type == "real":
            return float(text)
        if fld.type == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return text.lower() == "true"
        if fld.type == "date":
            return dt.date.fromisoformat(text)
        if fld.type == "datetime":
            return _instant(text)
    except ValueError as err:
        raise FilterError(fld.name, f"{text[:40]!r} is not a {fld.type}: {err}") from None
    return text


def _instant(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text.replace("z", "Z"))
    if pd.isna(ts):
        raise ValueError("not a time")
    return ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")


def parse_datetime(text: str, fld: Field) -> Between:
    """RFC 3339 instant or interval (``a/b``, ``../b``, ``a/..``) as a condition on ``fld``."""
    parts = text.split("/")
    if len(parts) > 2 or not all(parts):
        raise FilterError("datetime", f"{text[:60]!r}: give an instant or an interval start/end ('..' for open)")
    try:
        ends = [None if p == ".." else _instant(p) for p in parts]
    except ValueError as err:
        raise FilterError("datetime", f"{text[:60]!r} is not an RFC 3339 date or time: {err}") from None
    if len(ends) == 1:
        if ends[0] is None:
            raise FilterError("datetime", "'..' is only for one end of an interval")
        ends = [ends[0], ends[0] + pd.Timedelta(days=1) - pd.Timedelta(seconds=1) if len(parts[0]) == 10 else ends[0]]
    low, high = ends
    if low is not None and high is not None and low > high:
        raise FilterError("datetime", f"{text[:60]!r}: the interval ends before it starts")
    if fld.type == "date":
        return Between(low.date() if low is not None else None, high.date() if high is not None else None)
    return Between(low, high)


def parse_items_query(layer: Layer, access: Access, args: Mapping[str, Sequence[str]]) -> ItemsQuery:
    """The ``/items`` query parameters ``args`` (name -> values) as an :class:`ItemsQuery`.

    Raises
    ------
    FilterError
        Naming the parameter: unknown (not reserved, not a queryable, not a filter name),
        malformed, or asked for a CRS other than CRS84.
    """
    fields = {f.name: f for f in queryables(layer, access)}
    map_filters = MAP_FILTERS.get(layer.name, ())
    for name in args:
        if name not in RESERVED and name not in fields and name not in map_filters:
            known = ", ".join([*RESERVED, *map_filters, *fields])
            raise FilterError(name, f"is not a parameter of collection {layer.name!r}; parameters: {known}")
    for name in ("bbox-crs", "crs"):
        value = _one(args, name)
        if value is not None and value != CRS84:
            raise FilterError(name, f"only {CRS84} is served")
    bbox_text = _one(args, "bbox")
    try:
        bbox = parse_bbox(bbox_text) if bbox_text is not None else None
    except BBoxError as err:
        raise FilterError("bbox", str(err)) from None
    where: dict[str, Any] = {}
    params: list[tuple[str, str]] = [("bbox", bbox_text)] if bbox_text is not None else []
    when = _one(args, "datetime")
    if when is not None:
        fld = time_field(layer, access)
        if fld is None:
            raise FilterError("datetime", f"collection {layer.name!r} has no time field")
        where[fld.name] = parse_datetime(when, fld)
        params.append(("datetime", when))
    if map_filters and any(n in args for n in map_filters):
        chosen = parse_filters({n: list(args[n]) for n in map_filters if n in args}, names=MAP_FILTER_NAMES)
        where.update(chosen.where_for(layer.name))
        params += list(chosen.params)
    for name, fld in fields.items():
        text = _one(args, name) if name not in map_filters else None
        if text is not None:
            where[name] = parse_value(fld, text)
            params.append((name, text))
    return ItemsQuery(bbox, where, _count(args, "limit", DEFAULT_LIMIT, MAX_LIMIT), _count(args, "offset", 0, None), tuple(params))


def read_items(store: Store, layer: Layer, access: Access, query: ItemsQuery) -> tuple[pd.DataFrame, list[Field], int]:
    """One page of ``layer`` as ``access`` may see it: (rows, their fields in order, numberMatched)."""
    where = query.where or None
    if access.generalised:  # the gate pages generalised rows only from the start (published order)
        frame = read_redacted(store, layer, access, bbox=query.bbox, where=where, limit=query.offset + query.limit)
        frame = frame.iloc[query.offset:]
    else:
        frame = read_redacted(store, layer, access, bbox=query.bbox, where=where, limit=query.limit, offset=query.offset)
    matched = count_redacted(store, layer, access, bbox=query.bbox, where=where)
    src = source_layer(layer, access)
    return frame, [f for f in src.fields if f.name in frame.columns], matched


def read_item(store: Store, layer: Layer, access: Access, feature_id: str) -> tuple[pd.DataFrame, list[Field]] | None:
    """The feature ``feature_id`` (the ``id`` the items carry) as ``access`` may see it, or ``None``."""
    src = source_layer(layer, access)
    if access.generalised:
        frame = read_redacted(store, layer, access)
        frame = frame.loc[[i for i in frame.index if str(i) == feature_id]]
    elif feature_id.isdigit() and len(feature_id) < 19:
        frame = read_redacted(store, layer, access, where={"fid": int(feature_id)})
    else:
        return None
    if frame.empty:
        return None
    return frame.iloc[:1], [f for f in src.fields if f.name in frame.columns]


def check_layer(name: str, access: Access) -> Layer:
    """The collection ``name``, or :class:`~layers.errors.LayerError` (unknown, or not for this role)."""
    layer = collection(name, access)
    if layer is None:
        raise LayerError(f"no collection {name[:60]!r}")
    return layer
