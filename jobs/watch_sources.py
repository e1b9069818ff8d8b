"""The polygon of a new watch area: drawn (GeoJSON from the page), uploaded (a boundary file) or picked.

Every way goes through the boundary ingest's checks (:mod:`ingest.geometry`: geometry type,
vertex limit, finite coordinates, repair of invalid polygons, antimeridian, placement in the
region), and an uploaded file through the boundary readers (:func:`ingest.readers.vector.read_features`:
GeoJSON, zipped Shapefile, KML/KMZ, GeoPackage, with their size, depth, archive and encoding
checks). A picked protected area or concession is its polygon (grown by the radius when one is
given); a corridor segment or border crossing is the area within the radius of it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import shapely

from config import Settings
from ingest.errors import SourceError
from ingest.geometry import check_geometry, placement_problem, split_antimeridian
from ingest.limits import Limits
from ingest.readers.vector import read_features
from layers.errors import WatchError
from layers.evidence import utm_epsg
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

MAX_RADIUS_KM = 100.0
PICK_LAYERS = {  # origin -> (layer, key field, default radius km: None = the feature itself)
    "protected_area": ("protected_areas", "source_id"),
    "concession": ("concessions", "source_id"),
    "corridor_segment": ("corridor_segments", "segment_id"),
    "border_crossing": ("border_crossings", "source_id"),
}


def _checked(geom: shapely.Geometry | None, what: str, settings: Settings) -> shapely.Geometry:
    """``geom`` (lon/lat) through the boundary checks, as one (multi)polygon."""
    checked = check_geometry(geom, "MULTIPOLYGON", max_vertices=settings.ingest_max_vertices)
    if checked.geometry is None:
        raise WatchError("geometry", f"{what}: {checked.reason}")
    if checked.repaired:
        logger.warning("%s: %s", what, checked.reason)
    out, _parts = split_antimeridian(checked.geometry)
    problem = placement_problem(out, settings.region_bbox)
    if problem:
        raise WatchError("geometry", f"{what}: {problem}")
    return out


def _radius(radius_km: float | None, required: bool) -> float:
    if radius_km is None:
        if required:
            raise WatchError("radius_km", "give a radius in km around the line or point")
        return 0.0
    if not 0 <= radius_km <= MAX_RADIUS_KM:
        raise WatchError("radius_km", f"the radius must be 0 to {MAX_RADIUS_KM:g} km")
    if required and radius_km == 0:
        raise WatchError("radius_km", "the radius around a line or point must be more than 0 km")
    return radius_km


def _buffered(geom: shapely.Geometry, radius_km: float) -> shapely.Geometry:
    """``geom`` (lon/lat) grown by ``radius_km`` in its centroid's UTM zone, back in lon/lat."""
    if radius_km <= 0:
        return geom
    centre = geom.centroid
    series = gpd.GeoSeries([geom], crs=STORE_CRS).to_crs(utm_epsg(centre.x, centre.y))
    return series.buffer(radius_km * 1000.0, quad_segs=16).to_crs(STORE_CRS).iloc[0]


def drawn_area(geojson: str, settings: Settings) -> shapely.Geometry:
    """The polygon drawn on the page (a GeoJSON geometry, lon/lat)."""
    if not geojson.strip():
        raise WatchError("geometry", "draw a polygon on the map first")
    if len(geojson) > 2_000_000:
        raise WatchError("geometry", "the drawn area is too large a document")
    try:
        geom = shapely.from_geojson(geojson)
    except (shapely.errors.GEOSException, ValueError) as err:
        raise WatchError("geometry", f"the drawn area is not GeoJSON ({str(err)[:120]})") from err
    return _checked(geom, "drawn area", settings)


def uploaded_area(path: Path, settings: Settings, *, name: str) -> shapely.Geometry:
    """The union of the polygons of a boundary file (any CRS it declares); a bad feature fails the upload."""
    try:
        table = read_features(path, limits=Limits.from_settings(settings))
    except SourceError as err:
        raise WatchError("file", f"{name}: {err}") from err
    if table.rejects:
        first = table.rejects[0]
        raise WatchError("file", f"{name} feature {first.feature}: {first.reason}")
    frame = table.frame
    if frame.empty:
        raise WatchError("file", f"{name}: no features")
    if frame.crs is None:
        raise WatchError("file", f"{name}: no CRS; use GeoJSON (lon/lat) or a Shapefile with its .prj")
    parts = []
    for idx, geom in zip(frame.index, frame.geometry.values, strict=True):
        checked = check_geometry(geom, "MULTIPOLYGON", max_vertices=settings.ingest_max_vertices)
        if checked.geometry is None:
            raise WatchError("file", f"{name} feature {idx}: {checked.reason}")
        parts.append(checked.geometry)
    lonlat = gpd.GeoSeries(parts, crs=frame.crs).to_crs(STORE_CRS)
    return _checked(shapely.union_all(lonlat.values), name, settings)


def picked_area(store: Store, settings: Settings, origin: str, ref: str, radius_km: float | None) -> shapely.Geometry:
    """The area of a picked feature: a polygon layer's feature (grown by ``radius_km``), or the
    surroundings (``radius_km``) of a corridor segment or border crossing."""
    if origin not in PICK_LAYERS:
        raise WatchError("origin", f"{origin[:40]!r} cannot be picked; pick one of {', '.join(PICK_LAYERS)}")
    layer, key = PICK_LAYERS[origin]
    rows = store.read(layer, where={key: ref})
    if rows.empty:
        raise WatchError("pick_ref", f"no {origin.replace('_', ' ')} {ref[:60]!r}")
    geom = rows.geometry.iloc[0]
    radius = _radius(radius_km, required=origin in ("corridor_segment", "border_crossing"))
    return _checked(_buffered(geom, radius), f"{origin.replace('_', ' ')} {ref}", settings)
