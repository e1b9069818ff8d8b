"""Per-feature geometry checks for boundary files: reject what cannot be used, repair what can."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

FAMILIES = {
    "MULTIPOLYGON": ("Polygon", "MultiPolygon"),
    "MULTILINESTRING": ("LineString", "MultiLineString"),
    "POINT": ("Point",),
}


@dataclass(frozen=True)
class Checked:
    """Outcome for one feature: the geometry to keep (or ``None``) and why."""

    geometry: BaseGeometry | None
    repaired: bool = False
    reason: str = ""


def _keep_family(geom: BaseGeometry, family: tuple[str, ...]) -> BaseGeometry:
    """The parts of ``geom`` of the wanted family (``make_valid`` may return a collection)."""
    if geom.geom_type in family:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in family]
    if not parts:
        return shapely.GeometryCollection()
    if family[0] == "Polygon":
        return shapely.union_all(parts)
    if family[0] == "LineString":
        return shapely.MultiLineString([ls for p in parts for ls in shapely.get_parts(p)])
    return parts[0]


def check_geometry(geom: BaseGeometry | None, geometry_type: str) -> Checked:
    """Check one feature's geometry against a layer's geometry type.

    Empty, null and wrong-type geometries are rejected; invalid polygons are repaired with
    ``shapely.make_valid`` (reported as repaired); Z is dropped (layers are 2-D).
    """
    if geom is None:
        return Checked(None, reason="no geometry")
    if geom.is_empty:
        return Checked(None, reason="empty geometry")
    family = FAMILIES[geometry_type]
    if geom.geom_type not in family:
        return Checked(None, reason=f"a {geom.geom_type}, but this layer holds {' or '.join(family)}")
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        return Checked(None, reason="coordinates that are not finite numbers")
    repaired, note = False, ""
    if not geom.is_valid:
        why = shapely.is_valid_reason(geom)
        fixed = _keep_family(shapely.make_valid(geom), family)
        if fixed.is_empty or (family[0] == "Polygon" and fixed.area == 0):
            return Checked(None, reason=f"invalid geometry that cannot be repaired ({why})")
        geom, repaired, note = fixed, True, f"invalid geometry repaired ({why})"
    if family[0] == "Polygon" and geom.area == 0:
        return Checked(None, reason="degenerate polygon with no area")
    if family[0] == "LineString" and geom.length == 0:
        return Checked(None, reason="degenerate line with no length")
    return Checked(geom, repaired=repaired, reason=note)
