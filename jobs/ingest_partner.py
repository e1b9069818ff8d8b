"""``ecowatch ingest seizures|boundaries --from-ogcapi URL --collection ID``: a partner's ecowatch (or any
OGC API – Features server) read into this store.

The collection is read page by page through its ``next`` links (:mod:`ingest.readers.ogcapi`:
the imagery allow-list and redirect rules, a page-size cap, a page-count cap); the token comes
from the environment variable the command names, never from the command line. Every feature
then goes through the same checks as a file's (:func:`ingest.seizures.records.validate` for
seizures; the boundary checks for boundaries): a bad one is rejected with the URL, the feature's
number and the reason, the good ones land in one transaction.

Where each record came from is kept: ``source`` is the collection's items URL; a seizure also
keeps ``origin_url``, ``origin_collection`` and ``origin_feature_id``, and its key is the
feature's id prefixed with that URL, so a second run updates the same rows (and changes nothing
when the partner's data did not change). A partner's ecowatch shares seizures *generalised*
(``location_precision`` "grid 0.1 degrees", the point at the cell's centre): they are stored
with ``location_precision = grid`` and ``cell_deg``, shown at their cell, and **not matched to
clearings at all** (nor tied to corridors or crossings, nor counted in hotspots): a distance from
a cell centre would claim a precision the partner never gave (:mod:`jobs.analyse`).
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import orjson
import shapely

from config import Settings
from ingest.errors import RecordError, SourceError
from ingest.limits import Limits
from ingest.mapping import FieldMapping
from ingest.readers.ogcapi import PartnerCollection, PartnerReader
from ingest.readers.tables import Table
from ingest.seizures.records import SCHEMA, STORED, validate
from ingest.seizures.species import species_list
from jobs.ingest_seizures import _gazetteer
from jobs.progress import Progress, Stages
from jobs.runs import Run, recorded_run
from layers.opaque_ids import load_id_key
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

GRID = re.compile(r"grid ([0-9]+(?:\.[0-9]+)?) degrees")
STAGES = ("read", "validated", "stored")
# what a partner's seizure may carry: the schema's columns but the sensitive ones (a partner's
# planner could share them; this store keeps them as given) and the location columns we make
_COLUMNS = tuple(c for c in SCHEMA if c not in ("lon", "lat", "utm_zone", "easting", "northing", "country", "location_precision"))


def reader_for(settings: Settings, url: str, token: str | None) -> PartnerReader:
    """The partner reader with this store's limits."""
    limits = Limits.from_settings(settings)
    return PartnerReader(url, token=token, schemes=tuple(settings.partner_schemes), max_bytes=limits.max_file_bytes,
                         max_pages=settings.partner_max_pages, timeout=settings.http_timeout_s)


def seizure_table(got: PartnerCollection) -> tuple[Table, dict[str, list[Any]]]:
    """The features as a seizure table (lon/lat from their points) and, per row, what validation does
    not judge: precision, cell size, the partner's feature id."""
    columns: dict[str, list[Any]] = {c: [] for c in (*_COLUMNS, "lon", "lat")}
    extra: dict[str, list[Any]] = {"location_precision": [], "cell_deg": [], "origin_feature_id": []}
    for raw in got.features:
        f: dict[str, Any] = raw if isinstance(raw, dict) else {}
        props: dict[str, Any] = f["properties"] if isinstance(f.get("properties"), dict) else {}
        geom: dict[str, Any] = f["geometry"] if isinstance(f.get("geometry"), dict) else {}
        point: list[Any] = geom["coordinates"] if geom.get("type") == "Point" and isinstance(geom.get("coordinates"), list) else []
        ok = len(point) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        fid = f.get("id")
        for c in _COLUMNS:
            value = props.get(c)
            columns[c].append(None if value is None else value if isinstance(value, str | int | float) and not isinstance(value, bool) else str(value))
        columns["synthetic"][-1] = "true" if props.get("synthetic") is True else "false"
        columns["seizure_id"][-1] = f"{got.items_url}#{fid}" if isinstance(fid, str | int) and not isinstance(fid, bool) and str(fid) else None
        columns["lon"].append(point[0] if ok else None)
        columns["lat"].append(point[1] if ok else None)
        precision = str(props.get("location_precision") or "")
        cell = GRID.fullmatch(precision)
        extra["location_precision"].append("grid" if cell else precision or None)
        extra["cell_deg"].append(float(cell.group(1)) if cell else None)
        extra["origin_feature_id"].append(None if fid is None else str(fid))
    n = len(got.features)
    table = Table(name=got.items_url, header=list(columns), columns=columns, rows=list(range(1, n + 1)), unit="feature")
    return table, extra


def ingest_partner_seizures(
    store: Store, settings: Settings, url: str, collection: str, *, token: str | None = None, progress: Progress | None = None,
) -> Run:
    """Read the partner's seizure collection into the store (see the module docstring); one transaction."""
    stages = Stages(progress, "ingest seizures", STAGES)
    with recorded_run(store, f"ingest seizures --from-ogcapi {url} --collection {collection}", data_dir=settings.data_dir) as run:
        got = reader_for(settings, url, token).read_collection(collection)
        run.read = len(got.features)
        stages.done("read")
        table, extra = seizure_table(got)
        for i, fid in enumerate(extra["origin_feature_id"]):
            if fid is None:
                run.reject(RecordError(got.items_url, i + 1, "id", None, "a shared feature needs an id (idempotent re-runs key on it)", unit="feature"),
                           got.features[i] if isinstance(got.features[i], dict) else None)
        limits = Limits.from_settings(settings)
        parsed = validate(
            table, FieldMapping(), species=species_list(settings.species_file), gazetteer=lambda: _gazetteer(store, settings),
            max_chars=limits.max_field_chars, region_bbox=settings.region_bbox, id_key=load_id_key(settings),
        )
        bad_ids = {i for i, fid in enumerate(extra["origin_feature_id"]) if fid is None}
        for i in sorted(set(parsed.errors) - bad_ids):
            run.reject(parsed.errors[i], table.record(i))
        for note in parsed.notes:
            logger.warning("%s", note)
        stages.done("validated")
        run.check_rejects(settings.rejects_max_share)
        records = parsed.records.loc[[i for i in parsed.records.index if i not in bad_ids]]
        positions = records.index.to_numpy()
        precision = [extra["location_precision"][i] for i in positions]
        records = records.assign(
            location_precision=[p if p is not None else r for p, r in zip(precision, records["location_precision"], strict=True)],
            cell_deg=[extra["cell_deg"][i] for i in positions],
            origin_feature_id=[extra["origin_feature_id"][i] for i in positions],
            origin_url=got.items_url, origin_collection=collection, source=got.items_url,
        )
        geo = gpd.GeoDataFrame(
            records[[*STORED, "cell_deg", "origin_url", "origin_collection", "origin_feature_id", "source"]],
            geometry=shapely.points(records["lon"].to_numpy(float), records["lat"].to_numpy(float)), crs=STORE_CRS,
        )
        with store.transaction():
            counts = store.upsert("seizures", geo)
            info = store.layer_info("seizures")
            sources = sorted({*info.get("sources", []), f"{got.items_url} ({got.title})"})
            store.set_layer_info("seizures", sources=sources, **({"synthetic": True} if bool(records["synthetic"].any()) else {}))
        stages.done("stored")
        run.written = counts.written
        grid = int((geo["location_precision"] == "grid").sum())
        run.message = (f"seizures from {got.items_url}: {counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged "
                       f"({grid} as grid cells, not matched to clearings); {got.pages} page(s); " + run.summary())
    return run


def ingest_partner_boundaries(
    store: Store, settings: Settings, kind: str, url: str, collection: str, *, token: str | None = None,
    mapping: FieldMapping | None = None, progress: Progress | None = None,
) -> Run:
    """Read the partner's boundary collection as ``kind`` through the boundary checks (one transaction).

    The features are handed to :func:`jobs.ingest_boundaries.ingest_boundaries` as the GeoJSON they
    are (in a folder only this process can read), with ``source`` = the items URL and ``source_id``
    = the partner's feature id, so that a re-run updates the same rows.
    """
    from jobs.ingest_boundaries import KINDS, ingest_boundaries

    if kind not in KINDS:
        raise SourceError(url, f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    got = reader_for(settings, url, token).read_collection(collection)
    features = []
    for f in got.features:
        if not isinstance(f, dict):
            continue
        props = dict(f.get("properties") or {}) if isinstance(f.get("properties"), dict) else {}
        fid = f.get("id")
        props["source_id"] = None if fid is None or isinstance(fid, bool) else str(fid)
        props.pop("source", None)
        features.append({"type": "Feature", "properties": props, "geometry": f.get("geometry")})
    chosen = FieldMapping(rules=dict((mapping or FieldMapping()).rules), source=got.items_url)
    with tempfile.TemporaryDirectory(prefix="ecowatch-partner-") as folder:
        path = Path(folder) / f"{collection}.geojson"
        path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
        run = ingest_boundaries(store, settings, kind, path, mapping=chosen, progress=progress)
    logger.info("boundaries %s from %s: %d feature(s) in %d page(s)", kind, got.items_url, len(features), got.pages)
    return run
