"""The one redaction function: what each role may see of a layer.

The map, the API, tiles and every export call :func:`read_redacted` (or :func:`redact` on rows
they read themselves), so they always agree. What is hidden is declared in the catalogue
(:mod:`layers.catalog`): per field, ``Field.sensitive`` and ``Field.generalised``; per layer,
``Layer.generalise_deg``, ``Layer.generalised_from`` and ``Layer.refused_generalised``.

- planner, analyst, admin (the *exact* roles): everything but the internal tables (accounts,
  sessions, logs), which no role reads here.
- viewer: only the layers declared ``public`` (boundaries, corridors, hotspots) and of them the
  rows matching ``public_where`` (confirmed clearings only), generalised like the ngo's.
- ngo (a role that sees *generalised* seizures): no sensitive field and no value that locates a
  seizure more finely than its grid cell; points of a layer with ``generalise_deg`` snapped to
  the centre of their cell, cells holding fewer than :data:`MIN_CELL_COUNT` records left out;
  identifiers replaced by keyed HMACs (:mod:`layers.opaque_ids`); rows in an order that says
  nothing finer than the cell (the store's row ids follow a space-filling curve through the
  exact points); links and hotspots read from the tables ``analyse`` computes over the seizures
  as this role sees them, so that every count it reads is a count of what it may see.

Filters and boxes asked by a generalised role apply to what it sees (the published cell centre
and the opaque id), never to the stored values, so a filter cannot confirm a guessed case
number or single out a point inside its cell.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from layers.catalog import CATALOG, Field, Layer, get_layer
from layers.conditions import Between, Contains, Not
from layers.errors import AccessError, LayerError
from layers.opaque_ids import opaque_ids
from layers.state_cache import StateCache
from layers.store import STORE_CRS, BBox, Store
from layers.values import to_sql

logger = logging.getLogger(__name__)

Role = Literal["viewer", "planner", "analyst", "ngo", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
EXACT_ROLES: frozenset[str] = frozenset({"planner", "analyst", "admin"})
SEES_SENSITIVE = EXACT_ROLES
MIN_CELL_COUNT = 3
_PUBLISHED = StateCache()  # what a generalised role sees of a whole layer, per store state (read_redacted)


def check_role(role: str) -> Role:
    """``role`` if it is one; ``LayerError`` names the roles otherwise."""
    if role not in ROLES:
        raise LayerError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


@dataclass(frozen=True)
class Access:
    """Who reads: a role and, for a role that sees generalised seizures, the key of its opaque ids."""

    role: Role
    id_key: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        check_role(self.role)

    @property
    def generalised(self) -> bool:
        """True for a role that sees generalised seizures."""
        return self.role not in EXACT_ROLES


def as_access(who: Access | str) -> Access:
    """An :class:`Access`; a bare role name is accepted for the exact roles (they need no key)."""
    if isinstance(who, Access):
        return who
    access = Access(check_role(who))
    if access.generalised:
        raise LayerError(f"role {who!r} sees opaque ids: pass an Access with the id key (layers.opaque_ids.load_id_key)")
    return access


def may_read(layer: Layer, role: Role) -> bool:
    """True when ``role`` may read some of ``layer``: no role reads an internal table (accounts,
    sessions, logs); the viewer reads only ``public`` layers."""
    check_role(role)
    if layer.internal:
        return False
    # a generalised table is as public as the layer it stands in for (hotspots: the viewer's too)
    return layer.public or role != "viewer" or any(lyr.public and lyr.generalised_from == layer.name for lyr in CATALOG.values())


def check_access(layer: Layer, role: Role) -> None:
    """Refuse a role that may not read ``layer`` at all: :class:`~layers.errors.AccessError`."""
    if not may_read(layer, role):
        raise AccessError(f"role {role!r} may not read layer {layer.name!r}")


def _restrict(where: Mapping[str, Any] | None, rows: Mapping[str, object]) -> dict[str, Any] | None:
    """``where`` AND the equality filters ``rows`` (a filter on the same field keeps the common values)."""
    out: dict[str, Any] = dict(where or {})
    for name, allowed in rows.items():
        allowed_values = list(allowed) if isinstance(allowed, list | tuple | set | frozenset) else [allowed]
        if name in out:
            asked = out[name]
            asked_values = list(asked) if isinstance(asked, list | tuple | set | frozenset) else [asked]
            out[name] = [v for v in asked_values if v in allowed_values]
        else:
            out[name] = allowed_values if len(allowed_values) != 1 else allowed_values[0]
    return out or None


def row_filter(layer: Layer, role: Role, where: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """``where`` narrowed to the rows ``role`` may see of ``layer`` (the viewer: ``public_where``)."""
    check_access(layer, role)
    if role == "viewer" and layer.public_where:
        return _restrict(where, layer.public_where)
    return dict(where) if where else None


def _public_rows(layer: Layer, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` the viewer may see (``public_where``); a frame without those columns is refused."""
    for name, allowed in layer.public_where.items():
        if name not in frame.columns:
            raise AccessError(f"layer {layer.name!r}: the viewer's rows are chosen by {name!r}, which the frame lacks")
        values = list(allowed) if isinstance(allowed, list | tuple | set | frozenset) else [allowed]
        frame = frame[frame[name].isin(values)]
    return frame


def visible_fields(layer: Layer, names: Sequence[str], role: Access | Role | str) -> tuple[Field, ...]:
    """The fields among ``names`` (declared by ``layer``) that ``role`` may see, in that order."""
    role = check_role(role.role if isinstance(role, Access) else role)
    fields = tuple(layer.field(n) for n in names)
    if role in EXACT_ROLES:
        return fields
    return tuple(f for f in fields if f.generalised_rule != "drop")


def source_layer(layer: Layer, who: Access | Role) -> Layer:
    """The declaration whose rows ``who`` reads when asking for ``layer``.

    Raises
    ------
    LayerError
        When the role may not read the layer at all (the message says why).
    """
    role = who.role if isinstance(who, Access) else check_role(who)
    if role in EXACT_ROLES:
        return layer
    if layer.refused_generalised:
        raise LayerError(f"role {role!r} cannot read layer {layer.name!r}: {layer.refused_generalised}")
    return get_layer(layer.generalised_from) if layer.generalised_from else layer


def cell_centres(x: np.ndarray, y: np.ndarray, cell_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the ``cell_deg`` grid cells (lon/lat degrees) holding the points ``(x, y)``."""
    cx = np.round((np.floor(np.asarray(x, float) / cell_deg) + 0.5) * cell_deg, 9)
    cy = np.round((np.floor(np.asarray(y, float) / cell_deg) + 0.5) * cell_deg, 9)
    return cx, cy


def _published_cells(frame: gpd.GeoDataFrame, cell_deg: float, min_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept, centre x, centre y) of each row: kept when its cell holds at least ``min_count`` rows."""
    geo = frame.geometry.to_crs(STORE_CRS)
    x, y = geo.x.to_numpy(), geo.y.to_numpy()
    ix, iy = np.floor(x / cell_deg).astype(np.int64), np.floor(y / cell_deg).astype(np.int64)
    _, inverse, counts = np.unique(ix * 4_000_003 + iy, return_inverse=True, return_counts=True)
    cx, cy = cell_centres(x, y, cell_deg)
    return counts[inverse.ravel()] >= min_count, cx, cy


def generalise_points(frame: gpd.GeoDataFrame, cell_deg: float, min_count: int = MIN_CELL_COUNT) -> gpd.GeoDataFrame:
    """Points snapped to the centres of ``cell_deg`` cells; cells with fewer than ``min_count`` rows dropped.

    This is what a generalised role sees of the points of a layer with ``generalise_deg``, and
    what ``analyse`` counts for such roles (links and hotspots). Rows keep their order and index.
    """
    if frame.empty:
        return frame
    keep, cx, cy = _published_cells(frame, cell_deg, min_count)
    out = frame.loc[keep].copy()
    return out.set_geometry(gpd.GeoSeries(shapely.points(cx[keep], cy[keep]), index=out.index, crs=STORE_CRS))


def _published_order(layer: Layer, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in an order that follows only published values (cell, then key), indexed by the key."""
    keys = [k for k in layer.key if k in frame.columns]
    sort = pd.DataFrame({k: frame[k].astype("string").to_numpy() for k in keys}, index=frame.index)
    if isinstance(frame, gpd.GeoDataFrame) and len(frame):
        sort.insert(0, "_y", frame.geometry.y.to_numpy())
        sort.insert(1, "_x", frame.geometry.x.to_numpy())
    order = sort.sort_values(list(sort.columns), kind="stable").index if len(sort.columns) else frame.index
    out = frame.loc[order]
    if len(keys) == 1:
        out.index = pd.Index(out[keys[0]].astype(object).to_numpy(), name="id")
    else:
        out = out.reset_index(drop=True)
    return out


def redact(layer: Layer, frame: pd.DataFrame, who: Access | Role, *, judged: bool = False) -> pd.DataFrame:
    """``frame`` (rows of ``layer``, as stored) reduced to what ``who`` may see.

    For the exact roles the frame is returned as it is. For a generalised role: dropped fields
    go, opaque fields become keyed HMACs, ``cell`` fields describe the grid cell, points of a
    layer with ``generalise_deg`` are generalised (:func:`generalise_points`), and rows of a layer
    that holds generalised points or opaque ids come in published order, indexed by their
    (opaque) key instead of the store's row id. ``judged`` says the rows were already chosen
    among the published ones of the whole layer (cells are not judged again on them).

    Raises
    ------
    LayerError
        When ``who`` may not read ``layer`` at all, or an opaque id is needed without a key.
    """
    access = who if isinstance(who, Access) else Access(check_role(who))
    check_access(layer, access.role)
    if access.role == "viewer" and layer.public_where:
        frame = _public_rows(layer, frame)
    if not access.generalised:
        return frame
    if layer.refused_generalised:
        raise LayerError(f"role {access.role!r} cannot read layer {layer.name!r}: {layer.refused_generalised}")
    if layer.generalised_from:
        raise LayerError(f"layer {layer.name!r}: role {access.role!r} reads {layer.generalised_from!r} instead (layers.redaction.source_layer)")
    declared = [c for c in frame.columns if c in layer.field_names]
    rules = {c: layer.field(c).generalised_rule for c in declared}
    hidden = [c for c in declared if rules[c] == "drop"]
    out = frame.drop(columns=hidden)
    if hidden:
        logger.debug("layer %s: hiding %s from role %s", layer.name, ", ".join(hidden), access.role)
    points = bool(layer.generalise_deg) and isinstance(out, gpd.GeoDataFrame)
    if points:
        assert layer.generalise_deg is not None
        out = generalise_points(out, layer.generalise_deg, 1 if judged else MIN_CELL_COUNT)
        for c in (c for c in declared if rules[c] == "cell"):
            out[c] = f"grid {layer.generalise_deg:g} degrees"
    opaque = [c for c in declared if rules[c] == "opaque"]
    if opaque:
        out = out.copy() if not points else out  # generalise_points returned a copy
        for c in opaque:
            out[c] = opaque_ids(access.id_key, layer.name, out[c].tolist())
    if points or opaque:
        out = _published_order(layer, out)
    return out


def _published_match(ftype: str, published: Any, cond: Any) -> bool:
    """Whether one published value (as :func:`to_sql` gives it) meets a ``where`` value or condition,
    as the store's SQL would judge the stored one (:mod:`layers.gpkg_where`)."""
    if isinstance(cond, Between):
        if published is None:
            return False
        low = to_sql(ftype, cond.low) if cond.low is not None else None
        high = to_sql(ftype, cond.high) if cond.high is not None else None
        return (low is None or published >= low) and (high is None or published <= high)
    if isinstance(cond, Contains):
        items = orjson.loads(published) if isinstance(published, str) else []
        return isinstance(items, list) and any(v in items for v in cond.values)
    if isinstance(cond, Not):
        values = cond.value if isinstance(cond.value, list | tuple | set) else [cond.value]
        return published is None or published not in {to_sql(ftype, v) for v in values}
    if cond is None:
        return published is None
    wanted = {to_sql(ftype, v) for v in cond} if isinstance(cond, list | tuple | set) else {to_sql(ftype, cond)}
    return published in wanted


def _filter_published(layer: Layer, frame: pd.DataFrame, where: Mapping[str, Any] | None, bbox: BBox | None) -> pd.DataFrame:
    """Rows of a redacted frame whose published values match ``where`` and whose geometry meets ``bbox``."""
    keep = np.ones(len(frame), dtype=bool)
    for name, value in (where or {}).items():
        ftype = layer.field(name).type
        published = [to_sql(ftype, v) for v in frame[name].tolist()]
        keep &= np.fromiter((_published_match(ftype, v, value) for v in published), dtype=bool, count=len(published))
    if bbox is not None and isinstance(frame, gpd.GeoDataFrame) and len(frame):
        w, s, e, n = bbox
        b = frame.geometry.bounds
        keep &= ((b["minx"] <= e) & (b["maxx"] >= w) & (b["miny"] <= n) & (b["maxy"] >= s)).to_numpy()
    return frame.loc[keep]


def _check_where(layer: Layer, where: Mapping[str, Any] | None, access: Access) -> None:
    names = {f.name for f in visible_fields(layer, layer.field_names, access.role)}
    bad = sorted(set(where or {}) - names)
    if bad:
        raise LayerError(f"role {access.role!r} cannot filter layer {layer.name!r} on {bad}; fields: {', '.join(sorted(names))}")


def read_redacted(
    store: Store,
    layer: Layer,
    who: Access | Role,
    *,
    bbox: BBox | None = None,
    where: Mapping[str, Any] | None = None,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
    order_by: Sequence[str] = (),
    offset: int = 0,
    geometry: bool = True,
) -> pd.DataFrame:
    """Read rows of ``layer`` as ``who`` may see them (the rows of :func:`source_layer`).

    For a generalised role, ``where`` may name only fields it sees, and a layer holding
    generalised points or opaque ids is redacted whole before ``where``, ``bbox`` and ``limit``
    apply to the published values: a cell is judged on all its points, and a box or a filter
    cannot single out a point inside it. ``columns`` not visible to the role are left out.
    ``order_by``, ``offset`` and ``geometry=False`` (pages of a sorted list, as the review desk
    reads them) are for the exact roles only.
    """
    access = who if isinstance(who, Access) else Access(check_role(who))
    where = row_filter(layer, access.role, where)
    if access.role == "viewer" and layer.public_where and columns is not None:
        extra = [c for c in layer.public_where if c not in columns]
        if extra:  # redact() checks the viewer's rows again, on the columns that choose them
            out = read_redacted(store, layer, access, bbox=bbox, where=where, columns=[*columns, *extra], limit=limit)
            return out.drop(columns=extra)
    if not access.generalised:
        return store.read(layer.name, bbox=bbox, where=where, columns=columns, limit=limit, order_by=order_by, offset=offset, geometry=geometry)
    if order_by or offset or not geometry:
        raise LayerError(f"role {access.role!r} reads generalised rows: no sorted pages of {layer.name!r}")
    src = source_layer(layer, access)
    _check_where(src, where, access)
    visible = [f.name for f in visible_fields(src, src.field_names, access.role)]
    wanted = [c for c in (columns if columns is not None else visible) if c in visible]
    needs_whole = bool(src.generalise_deg) or any(src.field(c).generalised_rule == "opaque" for c in visible)
    if not needs_whole:
        frame = store.read(src.name, bbox=bbox, where=where, columns=wanted, limit=limit)
        return redact(src, frame, access)
    # the layer as this role sees it, judged whole (cells on all their points), kept per store
    # state, role and id key; then the box and the filters on the published values
    whole = _PUBLISHED.get(store, (src.name, access.role, hashlib.sha256(access.id_key).digest()),
                           lambda: redact(src, store.read(src.name), access))
    out = _filter_published(src, whole.copy(deep=False), where, bbox)  # a frame of this call's own (the kept one is shared)
    out = out[[c for c in out.columns if c in wanted or (isinstance(out, gpd.GeoDataFrame) and c == out.geometry.name)]]
    return out.iloc[:limit] if limit is not None else out


@dataclass(frozen=True)
class StoredRows:
    """Rows a role sees as they are stored: ``table`` filtered by ``where`` (already narrowed
    to the role's rows), so a count or a sum over them in the store is what the role may see."""

    table: str
    where: dict[str, Any] | None


def stored_rows(layer: Layer, who: Access | Role, where: Mapping[str, Any] | None = None) -> StoredRows | None:
    """The stored rows ``who`` sees of ``layer`` matching ``where``, when the store may count
    them itself; ``None`` when they are only known after redaction (generalised points, opaque
    ids): then only :func:`read_redacted` says what the role sees.

    Raises
    ------
    LayerError, AccessError
        When the role may not read the layer, or filters on a field it does not see.
    """
    access = who if isinstance(who, Access) else Access(check_role(who))
    narrowed = row_filter(layer, access.role, where)
    if not access.generalised:
        return StoredRows(layer.name, narrowed)
    src = source_layer(layer, access)
    _check_where(src, narrowed, access)
    if src.generalise_deg or any(f.generalised_rule == "opaque" for f in src.fields):
        return None
    return StoredRows(src.name, narrowed)


def count_redacted(store: Store, layer: Layer, who: Access | Role, *, bbox: BBox | None = None, where: Mapping[str, Any] | None = None) -> int:
    """How many rows of ``layer`` (matching ``where`` and meeting ``bbox``) ``who`` sees."""
    access = who if isinstance(who, Access) else Access(check_role(who))
    rows = stored_rows(layer, access, where)
    if rows is not None:
        return store.count(rows.table, bbox=bbox, where=rows.where)
    src = source_layer(layer, access)
    return len(read_redacted(store, layer, access, bbox=bbox, where=where, columns=list(src.key)))
