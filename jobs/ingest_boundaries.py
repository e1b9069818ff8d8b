"""``ecowatch ingest boundaries KIND FILE``: boundary files into the store's reference layers.

Formats: see :mod:`ingest.readers.vector`. Per feature, in this order: what the reader refused,
the field mapping (with text checks), the geometry checks in the file's CRS
(:func:`ingest.geometry.check_geometry`), reprojection to EPSG:4326, antimeridian splits, the
placement checks (wrong CRS, swapped lat/lon, outside the region), an empty or repeated key. A
key repeated with the same values is reported as a repeat, with other values as a conflict; the
first feature wins. Everything lands in one transaction, or nothing does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from config import Settings
from geo.metric import area_ha
from ingest.errors import RecordError, SourceError, TooManyRejectsError
from ingest.geometry import check_geometry, placement_problem, split_antimeridian
from ingest.limits import Limits
from ingest.mapping import FieldMapping
from ingest.readers.vector import read_features
from jobs.progress import Progress, logged
from jobs.runs import Run, recorded_run
from layers.catalog import get_layer
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

KINDS = {
    "aoi": "aoi",
    "concessions": "concessions",
    "protected-areas": "protected_areas",
    "corridors": "corridors",
    "border-crossings": "border_crossings",
    "countries": "countries",
}


def read_boundary_file(path: Path, crs: str | None = None, *, limits: Limits | None = None, layer: str | None = None, encoding: str | None = None) -> gpd.GeoDataFrame:
    """The features of a boundary file that its reader could read, in the file's CRS (or ``crs``).

    Raises ``SourceError`` when the file cannot be used (see :func:`ingest.readers.vector.read_features`).
    """
    return read_features(Path(path), limits=limits or Limits(), crs=crs, layer=layer, encoding=encoding).frame


def _coverage(store: Store, countries: tuple[str, ...], source: str) -> shapely.Geometry:
    frame = store.read("countries", where={"name": list(countries)})
    missing = sorted(set(countries) - set(frame["name"]))
    if missing:
        raise SourceError(source, f"coverage names {missing}, not in the countries layer; ingest countries first (or fix the name)")
    return shapely.union_all(frame.geometry.values)


PROGRESS_EVERY = 500  # features between two progress reports


def ingest_boundaries(
    store: Store,
    settings: Settings,
    kind: str,
    path: Path,
    *,
    mapping: FieldMapping | None = None,
    crs: str | None = None,
    strict: bool = False,
    layer_name: str | None = None,
    progress: Progress | None = None,
) -> Run:
    """Load a boundary file into the layer for ``kind``; one transaction, re-runs change nothing.

    ``layer_name`` chooses one layer of a file (or one dataset of an archive) that holds several.
    Returns the finished :class:`Run`. Raises ``SourceError`` when the file cannot be used and
    ``TooManyRejectsError`` when too many features are bad (or any, with ``strict``); the store is then
    unchanged.
    """
    if kind not in KINDS:
        raise SourceError(str(path), f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    layer = get_layer(KINDS[kind])
    assert layer.geometry_type is not None
    mapping = mapping or FieldMapping()
    limits = Limits.from_settings(settings)
    path = Path(path)
    with recorded_run(store, f"ingest boundaries {kind} {path.name}", data_dir=settings.data_dir) as run:
        table = read_features(path, limits=limits, crs=crs, layer=layer_name, encoding=mapping.encoding)
        frame, name = table.frame, table.name
        run.read = table.read
        for raw in table.rejects:
            run.reject(RecordError(name, raw.feature, raw.field, raw.value, raw.reason, unit="feature"), raw.record)
        source = mapping.source or path.name
        mapped = mapping.apply_checked(frame, layer, name, max_chars=limits.max_field_chars, unit="feature")
        originals = frame.drop(columns="geometry").to_dict("index")
        for err in mapped.errors:
            run.reject(err, originals.get(err.row))
        repaired: set[Any] = set()
        for note in {(n.row, n.field, n.reason): n for n in mapped.notes}.values():
            logger.warning("%s", note)
            if note.reason.startswith("repaired:"):
                repaired.add(note.row)
        has_z = [i for i in mapped.frame.index if frame.geometry.loc[i] is not None and shapely.has_z(frame.geometry.loc[i])]
        if has_z:
            logger.warning("%s: %d feature(s) have Z coordinates (feature %s first); dropped, every layer is 2-D", name, len(has_z), has_z[0])
        keep, geoms = [], []
        report = progress or logged(f"ingest boundaries {kind}")
        total = len(mapped.frame.index)
        for n_checked, idx in enumerate(mapped.frame.index, start=1):
            if n_checked % PROGRESS_EVERY == 0 or n_checked == total:
                report(n_checked, total, "features checked")
            checked = check_geometry(frame.geometry.loc[idx], layer.geometry_type, max_vertices=limits.max_vertices)
            if checked.geometry is None:
                run.reject(RecordError(name, idx, "geometry", None, checked.reason, unit="feature"), originals.get(idx))
                continue
            if checked.repaired:
                repaired.add(idx)
                logger.warning("%s feature %s: %s", name, idx, checked.reason)
            keep.append(idx)
            geoms.append(checked.geometry)
        out = gpd.GeoDataFrame(mapped.frame.loc[keep], geometry=geoms, crs=frame.crs).to_crs(STORE_CRS)
        out = _placed(out, run, name, originals, settings.region_bbox, repaired)
        if "source" in layer.field_names:
            out["source"] = source
        if "area_ha" in layer.field_names:
            out["area_ha"] = area_ha(out.geometry).round(2)
        for key in layer.key:
            if key not in out.columns and len(out):
                raise SourceError(str(path), f"no value for key field {key!r}; map it with --map {key}=COLUMN")
            if key not in out.columns:  # nothing left to write: every feature was rejected
                out[key] = pd.Series(dtype=object)
        out = _unique_keys(out, list(layer.key), run, name, originals)
        run.repaired = len(repaired & set(out.index))
        if strict and run.rejected:
            raise TooManyRejectsError(f"{run.rejected} feature(s) rejected and --strict given; nothing was written. See {run.rejects_path}")
        run.check_rejects(settings.rejects_max_share)
        countries = tuple(settings.boundary_coverage.get(source, mapping.coverage_countries))
        with store.transaction():
            counts = store.upsert(layer.name, out)
            if countries:
                cover = _coverage(store, countries, str(path))
                store.upsert("coverage", gpd.GeoDataFrame({"kind": [layer.name], "source": [source]}, geometry=[cover], crs=STORE_CRS))
        run.written = counts.written
        run.message = f"{layer.name}: {counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged; " + run.summary()
    return run


def _placed(out: gpd.GeoDataFrame, run: Run, name: str, originals: dict[Any, Any], region: tuple[float, float, float, float], repaired: set[Any]) -> gpd.GeoDataFrame:
    """Split antimeridian crossings (a repair); reject features whose place betrays a wrong CRS."""
    keep = []
    geoms = []
    for idx, geom in zip(out.index, out.geometry.values, strict=True):
        geom, parts = split_antimeridian(geom)
        if parts:
            repaired.add(idx)
            logger.warning("%s feature %s: crosses the antimeridian; split at 180° into %d parts", name, idx, parts)
        problem = placement_problem(geom, region)
        if problem:
            run.reject(RecordError(name, idx, "geometry", None, problem, unit="feature"), originals.get(idx))
            continue
        keep.append(idx)
        geoms.append(geom)
    return gpd.GeoDataFrame(out.drop(columns="geometry").loc[keep], geometry=geoms, crs=STORE_CRS)


def _unique_keys(out: gpd.GeoDataFrame, key: list[str], run: Run, name: str, originals: dict[Any, Any]) -> gpd.GeoDataFrame:
    """Reject features with an empty key, and every later feature with the key of an earlier one."""
    blank = out[key].isna().any(axis=1) | out[key].astype(str).apply(lambda c: c.str.strip() == "").any(axis=1)
    for idx in out.index[blank]:
        run.reject(RecordError(name, idx, ",".join(key), None, "empty key field", unit="feature"), originals.get(idx))
    out = out[~blank]
    first: dict[tuple[Any, ...], Any] = {}
    drop = []
    fields = [c for c in out.columns if c not in key]
    for idx, values in zip(out.index, out[key].itertuples(index=False), strict=True):
        k = tuple(values)
        if k not in first:
            first[k] = idx
            continue
        drop.append(idx)
        other = first[k]
        differs = [f for f in fields if not _same(out.at[idx, f], out.at[other, f])]
        reason = f"same key as feature {other}" + (f", with other values ({', '.join(differs[:4])})" if differs else " (a repeat)")
        run.reject(RecordError(name, idx, ",".join(key), " / ".join(map(str, k)), reason, unit="feature"), originals.get(idx))
    return out.drop(index=drop)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, shapely.Geometry) and isinstance(b, shapely.Geometry):
        return bool(shapely.equals_exact(a, b, tolerance=1e-9))
    a_blank, b_blank = _is_blank(a), _is_blank(b)
    return a_blank == b_blank and (a_blank or bool(a == b))


def _is_blank(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)
