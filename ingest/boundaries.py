"""``ecowatch ingest boundaries KIND FILE``: boundary files into the store's reference layers."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from config import Settings
from ingest.errors import RecordError, SourceError, TooManyRejectsError
from ingest.geometry import check_geometry
from ingest.mapping import FieldMapping
from ingest.runs import Run, recorded_run
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
FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
EQUAL_AREA_CRS = "EPSG:6933"  # WGS 84 / NSIDC EASE-Grid 2.0 Global, equal-area


def read_boundary_file(path: Path, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoJSON or GeoPackage boundary file in its own CRS (or ``crs`` when it has none).

    Raises
    ------
    SourceError
        When the file is missing, of an unsupported format, unreadable, has several layers,
        or has no CRS and none was given.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(str(path), "no such file")
    driver = FORMATS.get(path.suffix.lower())
    if driver is None:
        raise SourceError(str(path), f"unsupported format {path.suffix!r}; this version reads {', '.join(sorted(FORMATS))}")
    try:
        layers = pyogrio.list_layers(path)
        if len(layers) > 1:
            names = ", ".join(str(n) for n in layers[:, 0])
            raise SourceError(str(path), f"holds {len(layers)} layers ({names}); give a file with one layer")
        with warnings.catch_warnings():
            # GDAL notes on legacy members are not errors of the data
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(path, driver=driver)
    except pyogrio.errors.DataSourceError as err:
        raise SourceError(str(path), f"cannot be read as {driver}: {err}") from err
    if crs:
        try:
            given = CRS.from_user_input(crs)
        except CRSError as err:
            raise SourceError(str(path), f"--crs {crs!r} is not a CRS: {err}") from err
        if frame.crs is not None and not frame.crs.equals(given):
            logger.warning("%s: file CRS %s overridden by --crs %s", path.name, frame.crs.to_string(), crs)
        frame = frame.set_crs(given, allow_override=True)
    if frame.crs is None:
        raise SourceError(str(path), "has no CRS; give it with --crs EPSG:NNNN")
    return frame


def _equal_area_ha(geoms: gpd.GeoSeries) -> pd.Series:
    return geoms.to_crs(EQUAL_AREA_CRS).area / 10_000.0


def _coverage(store: Store, countries: tuple[str, ...], source: str) -> shapely.Geometry:
    frame = store.read("countries", where={"name": list(countries)})
    missing = sorted(set(countries) - set(frame["name"]))
    if missing:
        raise SourceError(source, f"mapping's coverage names {missing}, not in the countries layer; ingest countries first")
    return shapely.union_all(frame.geometry.values)


def ingest_boundaries(
    store: Store,
    settings: Settings,
    kind: str,
    path: Path,
    *,
    mapping: FieldMapping | None = None,
    crs: str | None = None,
    strict: bool = False,
) -> Run:
    """Load a boundary file into the layer for ``kind``; one transaction, re-runs change nothing.

    Returns the finished :class:`Run`. Raises ``SourceError`` when the file cannot be used and
    ``TooManyRejectsError`` when too many features are bad (or any, with ``strict``); the store is then
    unchanged.
    """
    if kind not in KINDS:
        raise SourceError(str(path), f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    layer = get_layer(KINDS[kind])
    assert layer.geometry_type is not None
    mapping = mapping or FieldMapping()
    path = Path(path)
    with recorded_run(store, f"ingest boundaries {kind} {path.name}") as run:
        frame = read_boundary_file(path, crs)
        run.read = len(frame)
        source = mapping.source or path.name
        mapped, errors = mapping.apply(frame, layer, path.name)
        originals = frame.drop(columns="geometry").to_dict("index")
        for err in errors:
            run.reject(err, originals.get(err.row))
        geoms = []
        keep = []
        for idx in mapped.index:
            checked = check_geometry(frame.geometry.loc[idx], layer.geometry_type)
            if checked.geometry is None:
                run.reject(RecordError(path.name, idx, "geometry", None, checked.reason), originals.get(idx))
                continue
            if checked.repaired:
                run.repaired += 1
                logger.warning("%s feature %s: %s", path.name, idx, checked.reason)
            keep.append(idx)
            geoms.append(checked.geometry)
        out = gpd.GeoDataFrame(mapped.loc[keep], geometry=geoms, crs=frame.crs).to_crs(STORE_CRS)
        out = _reject_out_of_range(out, run, path.name, originals)
        if "source" in layer.field_names:
            out["source"] = source
        if "area_ha" in layer.field_names:
            out["area_ha"] = _equal_area_ha(out.geometry).round(2)
        for key in layer.key:
            if key not in out.columns:
                raise SourceError(str(path), f"no value for key field {key!r}; map it with --map {key}=COLUMN")
        blank_key = out[list(layer.key)].isna().any(axis=1)
        for idx in out.index[blank_key]:
            run.reject(RecordError(path.name, idx, ",".join(layer.key), None, "empty key field"), originals.get(idx))
        out = out[~blank_key]
        dup = out.duplicated(subset=list(layer.key), keep="first")
        first_of = {tuple(k): i for i, k in zip(out.index[~dup], out.loc[~dup, list(layer.key)].itertuples(index=False), strict=True)}
        for idx in out.index[dup]:
            dup_key = tuple(out.loc[idx, list(layer.key)])
            run.reject(
                RecordError(path.name, idx, ",".join(layer.key), " / ".join(map(str, dup_key)), f"same key as feature {first_of[dup_key]}"),
                originals.get(idx),
            )
        out = out[~dup]
        if strict and run.rejected:
            raise TooManyRejectsError(f"{run.rejected} feature(s) rejected and --strict given; nothing was written")
        run.check_rejects(settings.rejects_max_share)
        with store.transaction():
            counts = store.upsert(layer.name, out)
            if mapping.coverage_countries:
                cover = _coverage(store, mapping.coverage_countries, str(path))
                store.upsert("coverage", gpd.GeoDataFrame({"kind": [layer.name], "source": [source]}, geometry=[cover], crs=STORE_CRS))
        run.written = counts.written
        run.message = f"{layer.name}: {counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged; " + run.summary()
    return run


def _reject_out_of_range(out: gpd.GeoDataFrame, run: Run, source: str, originals: dict) -> gpd.GeoDataFrame:
    """Features whose lon/lat fall outside -180..180 / -90..90 (a projected file with a wrong CRS)."""
    b = out.geometry.bounds
    bad = (b.minx < -180) | (b.maxx > 180) | (b.miny < -90) | (b.maxy > 90)
    for idx in out.index[bad]:
        run.reject(
            RecordError(source, idx, "geometry", None, "coordinates outside lon -180..180 / lat -90..90 after reprojection; is the CRS right? (--crs)"),
            originals.get(idx),
        )
    return out[~bad]
