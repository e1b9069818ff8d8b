"""The one redaction function: what each role may see of a layer.

The map, the API, tiles and every export call :func:`redact`, so they always agree. What is
hidden is declared in the catalogue: ``Field.sensitive`` (law-enforcement detail: case
reference, agency, notes) and ``Layer.generalise_deg`` (exact locations, e.g. of seizures).

- planner, analyst, admin: everything.
- ngo: no sensitive field; a layer with ``generalise_deg`` has its points snapped to the centre
  of a grid cell of that size (degrees), and cells holding fewer than ``min_cell_count`` records
  are left out, so that no single event can be located.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.catalog import Field, Layer
from layers.errors import LayerError
from layers.store import BBox, Store

logger = logging.getLogger(__name__)

Role = Literal["planner", "analyst", "ngo", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
SEES_SENSITIVE: frozenset[str] = frozenset({"planner", "analyst", "admin"})
MIN_CELL_COUNT = 3


def check_role(role: str) -> Role:
    """``role`` if it is one; ``LayerError`` names the roles otherwise."""
    if role not in ROLES:
        raise LayerError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def visible_fields(layer: Layer, names: Sequence[str], role: Role) -> tuple[Field, ...]:
    """The fields among ``names`` (declared by ``layer``) that ``role`` may see, in that order."""
    check_role(role)
    fields = tuple(layer.field(n) for n in names)
    return tuple(f for f in fields if not f.sensitive or role in SEES_SENSITIVE)


def _generalise(frame: gpd.GeoDataFrame, cell_deg: float, min_count: int) -> gpd.GeoDataFrame:
    """Points snapped to the centres of ``cell_deg`` cells; cells with fewer than ``min_count`` rows dropped."""
    if frame.empty:
        return frame
    geo = frame.geometry.to_crs("EPSG:4326")
    x, y = geo.x.to_numpy(), geo.y.to_numpy()
    cx = (np.floor(x / cell_deg) + 0.5) * cell_deg
    cy = (np.floor(y / cell_deg) + 0.5) * cell_deg
    cell = pd.Series(list(zip(np.round(cx, 9), np.round(cy, 9), strict=True)), index=frame.index)
    keep = cell.map(cell.value_counts()).to_numpy() >= min_count
    out = frame.loc[keep].copy()
    out = out.set_geometry(gpd.GeoSeries(shapely.points(cx[keep], cy[keep]), index=out.index, crs="EPSG:4326"))
    if "location_precision" in out.columns:
        out["location_precision"] = f"grid {cell_deg:g} degrees"
    return out


def read_redacted(store: Store, layer: Layer, role: Role, *, bbox: BBox | None = None, where: Mapping[str, Any] | None = None, **kw: Any) -> pd.DataFrame:
    """Read rows of ``layer`` as ``role`` may see them.

    For a role that sees generalised locations, the bbox is applied *after* generalising, so
    that shrinking a box around a grid cell cannot single out the exact points inside it.
    """
    if role not in SEES_SENSITIVE and layer.generalise_deg and bbox is not None:
        out = redact(layer, store.read(layer.name, where=where, **kw), role)
        if out.empty:
            return out
        w, s, e, n = bbox
        xy = out.geometry
        return out[(xy.x >= w) & (xy.x <= e) & (xy.y >= s) & (xy.y <= n)]
    return redact(layer, store.read(layer.name, bbox=bbox, where=where, **kw), role)


def redact(layer: Layer, frame: pd.DataFrame, role: Role) -> pd.DataFrame:
    """``frame`` (rows of ``layer``) reduced to what ``role`` may see.

    Columns the role may not see are dropped; for the ngo role, exact locations are generalised
    as the layer declares. Index and geometry column are kept.
    """
    declared = [c for c in frame.columns if c in layer.field_names]
    allowed = {f.name for f in visible_fields(layer, declared, role)}
    hidden = [c for c in declared if c not in allowed]
    out = frame.drop(columns=hidden) if hidden else frame
    if hidden:
        logger.debug("layer %s: hiding %s from role %s", layer.name, ", ".join(hidden), role)
    if role not in SEES_SENSITIVE and layer.generalise_deg and isinstance(out, gpd.GeoDataFrame):
        out = _generalise(out, layer.generalise_deg, MIN_CELL_COUNT)
    return out
