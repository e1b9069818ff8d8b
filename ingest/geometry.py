"""Per-feature geometry checks for boundary files: reject what cannot be used, repair what can.

In the file's own CRS (:func:`check_geometry`): null, empty, wrong-type, non-finite, too many
vertices and degenerate geometries are rejected; invalid polygons are repaired with
``shapely.make_valid``; Z is dropped (every layer is 2-D, so files that mix 2-D and 3-D features
land alike); single parts are promoted to Multi for the Multi layers.

In lon/lat, after reprojection: :func:`split_antimeridian` cuts a feature that crosses 180°
into parts on either side, and :func:`placement_problem` catches a wrong CRS: coordinates out of
range (projected metres in a lon/lat file), swapped lat/lon, or a feature wholly outside the
region (``region_bbox``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.geometry import promote_to_multi

logger = logging.getLogger(__name__)

FAMILIES = {
    "MULTIPOLYGON": ("Polygon", "MultiPolygon"),
    "MULTILINESTRING": ("LineString", "MultiLineString"),
    "POINT": ("Point",),
}
CRS_HINT = "is the CRS right? (--crs)"


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


def promote(geom: BaseGeometry) -> BaseGeometry:
    """Polygon -> MultiPolygon, LineString -> MultiLineString; anything else unchanged."""
    return promote_to_multi(np.array([geom], dtype=object))[0]


def check_geometry(geom: BaseGeometry | None, geometry_type: str, *, max_vertices: int | None = None) -> Checked:
    """Check one feature's geometry against a layer's geometry type (in the file's CRS).

    Empty, null, wrong-type, non-finite and degenerate geometries, and those with more than
    ``max_vertices`` vertices, are rejected; invalid polygons are repaired with
    ``shapely.make_valid`` (reported as repaired); Z is dropped (layers are 2-D); polygons and
    lines come back as Multi.
    """
    if geom is None:
        return Checked(None, reason="no geometry")
    if geom.is_empty:
        return Checked(None, reason="empty geometry")
    family = FAMILIES[geometry_type]
    if geom.geom_type not in family:
        return Checked(None, reason=f"a {geom.geom_type}, but this layer holds {' or '.join(family)}")
    n = int(shapely.get_num_coordinates(geom))
    if max_vertices is not None and n > max_vertices:
        return Checked(None, reason=f"{n:,} vertices, more than the limit of {max_vertices:,} (setting ingest_max_vertices); simplify it")
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
    return Checked(promote(geom), repaired=repaired, reason=note)


def _crosses_antimeridian(geom: BaseGeometry) -> bool:
    for part in shapely.get_parts(geom):
        rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
        for ring in rings:
            x = shapely.get_coordinates(ring)[:, 0]
            if len(x) > 1 and np.abs(np.diff(x)).max() > 180:
                return True
    return False


def split_antimeridian(geom: BaseGeometry) -> tuple[BaseGeometry, int]:
    """A lon/lat polygon or line that crosses 180° cut into parts on either side; (geometry, parts).

    A feature that does not cross it comes back unchanged with 0 parts. The crossing is found
    by a jump of more than 180° in longitude between consecutive vertices.
    """
    minx, miny, maxx, maxy = geom.bounds
    if geom.geom_type == "Point" or minx < -180 or maxx > 180 or not _crosses_antimeridian(geom):
        return geom, 0
    shifted = shapely.transform(geom, lambda xy: np.column_stack([np.where(xy[:, 0] < 0, xy[:, 0] + 360.0, xy[:, 0]), xy[:, 1]]))
    if not shifted.is_valid:
        shifted = shapely.make_valid(shifted)
    west = shapely.intersection(shifted, shapely.box(-180, -90, 180, 90))
    east = shapely.transform(shapely.intersection(shifted, shapely.box(180, -90, 540, 90)), lambda xy: xy - np.array([360.0, 0.0]))
    family = ("Polygon", "MultiPolygon") if "Polygon" in geom.geom_type else ("LineString", "MultiLineString")
    parts = [p for g in (west, east) for p in shapely.get_parts(_keep_family(g, family)) if not p.is_empty]
    if not parts:
        return geom, 0
    out = shapely.MultiPolygon(parts) if family[0] == "Polygon" else shapely.MultiLineString(parts)
    return out, len(parts)


def placement_problem(geom: BaseGeometry, region_bbox: tuple[float, float, float, float]) -> str | None:
    """Why a lon/lat geometry cannot be where it says (a wrong CRS or swapped axes), or ``None``."""
    minx, miny, maxx, maxy = geom.bounds
    w, s, e, n = region_bbox
    swapped_inside = not (maxy < w or miny > e or maxx < s or minx > n)
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        if swapped_inside:
            return f"lat/lon look swapped: latitudes beyond ±90, but with x and y exchanged it would lie in the region ({CRS_HINT} is the axis order lon, lat?)"
        if max(abs(minx), abs(maxx), abs(miny), abs(maxy)) > 1000:
            return (
                f"coordinates outside lon -180..180 / lat -90..90 after reprojection (x {minx:,.0f}, y {miny:,.0f}: "
                f"projected metres read as degrees?); {CRS_HINT}"
            )
        return f"coordinates outside lon -180..180 / lat -90..90 after reprojection; {CRS_HINT}"
    if maxx < w or minx > e or maxy < s or miny > n:
        if swapped_inside:
            return f"lat/lon look swapped: lies outside the region, but with x and y exchanged it would be inside it ({CRS_HINT} is the axis order lon, lat?)"
        return f"lies wholly outside the region ({w:g}..{e:g} E, {s:g}..{n:g} N, setting region_bbox); {CRS_HINT}"
    return None
