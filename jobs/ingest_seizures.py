"""``ecowatch ingest seizures FILE``: timber and wildlife seizure records from CSV, XLSX or GeoJSON.

The seizure schema: columns by header name (extra columns are ignored, order is free; a mapping
file or ``--map FIELD=COLUMN`` renames a source's own columns to these).

=======================  ==========================================================================
``date``                 required; YYYY-MM-DD, or DD/MM/YYYY, 2 March 2024 and the like when only
                         one reading is possible (else declare ``format`` in the mapping); a sheet's
                         date cells as they are; not before 1900 nor in the future
``commodity_group``      ``timber`` or ``wildlife``; required unless the species list gives it
``species``              scientific name (any case, ``spp.`` allowed), a listed synonym or common
                         name; written as the listed scientific name (``config/species.toml``)
``cites_appendix``       I, II or III (also 1-3, "App. II"); filled from the species list if empty
``quantity``, ``unit``   a finite number >= 0 (``1,200`` and ``12 kg`` are read; NaN, Infinity and
                         decimal commas are refused); unit kg, t, m3, pieces or logs (common
                         spellings such as tonnes, cbm, pcs are read); a quantity needs a unit
``lon``, ``lat``         WGS 84 decimal degrees or degrees-minutes-seconds (``13°39'36"N``); inside
                         ``region_bbox``; lat/lon that look swapped are rejected with a hint
``utm_zone``, ``easting``, ``northing``   instead of lon/lat: ``48N`` (or ``48P``) and metres
``place``, ``country``   instead of coordinates: a border crossing of the region, else a country
                         (name, alias or ISO code) -> its point, with precision ``place`` or ``country``
``location_precision``   exact, place, district, province or country (default exact with coordinates)
``transport_mode``       road, river, sea, air or rail (truck, ship, flight... are read)
``seizure_id``           natural key (e.g. the case number); else an HMAC of the record's content keyed by the id secret
``commodity``, ``origin_country``, ``transit_country``, ``destination_country``, ``agency``,
``case_reference``, ``notes``: free text (agency, case reference, notes and place are sensitive)
``synthetic``            true for generated records
=======================  ==========================================================================

GeoJSON features are rows: their properties, and lon/lat from a Point geometry.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from config import Settings
from ingest.errors import RecordError, TooManyRejectsError
from ingest.limits import Limits
from ingest.mapping import FieldMapping
from ingest.readers.features import RawReject
from ingest.readers.tables import read_table
from ingest.region import load_region
from ingest.seizures.fields import GROUPS, UNITS
from ingest.seizures.locations import Gazetteer
from ingest.seizures.records import SCHEMA, STORED, validate
from ingest.seizures.species import species_list
from jobs.progress import Progress, Stages
from jobs.runs import Run, recorded_run
from layers.opaque_ids import load_id_key
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

__all__ = ["GROUPS", "SCHEMA", "UNITS", "ingest_seizures"]


def _gazetteer(store: Store, settings: Settings) -> Gazetteer:
    """Countries and border crossings from the store, or else from the region's shipped files."""
    countries = store.read("countries", columns=["name"])
    crossings = store.read("border_crossings", columns=["name"])
    if len(countries) == 0:
        from ingest.readers.vector import read_features

        region = load_region(settings.region)
        files = {b.kind: b.file for b in region.boundaries}
        limits = Limits.from_settings(settings)
        if "countries" in files:
            countries = read_features(files["countries"], limits=limits).frame[["name", "geometry"]]
            logger.info("seizures: places resolved against %s (the countries layer is empty)", files["countries"].name)
        if "border-crossings" in files and len(crossings) == 0:
            crossings = read_features(files["border-crossings"], limits=limits).frame[["name", "geometry"]]
    return Gazetteer(countries, crossings)


STAGES = ("read", "validated", "stored")


def ingest_seizures(
    store: Store,
    settings: Settings,
    path: Path,
    *,
    mapping: FieldMapping | None = None,
    strict: bool = False,
    sheet: str | None = None,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> Run:
    """Validate and store seizure records; bad rows are rejected with the reason, good rows land.

    One transaction: either every good row lands or (when the run fails: an unreadable file, too
    many rejects, ``strict`` and any reject) nothing does. Re-running the same file changes nothing.
    ``progress`` is told of each of :data:`STAGES` as it ends (a bar in the CLI).
    """
    stages = Stages(progress, "ingest seizures", STAGES)
    path = Path(path)
    mapping = mapping or FieldMapping()
    limits = Limits.from_settings(settings)
    with recorded_run(store, f"ingest seizures {path.name}", data_dir=settings.data_dir) as run:
        table = read_table(path, limits=limits, sheet=sheet, encoding=mapping.encoding)
        run.read = table.read
        stages.done("read")
        for raw in table.rejects:
            run.reject(_raw_error(table.name, raw, table.unit), raw.record)
        parsed = validate(
            table, mapping, species=species_list(settings.species_file), gazetteer=lambda: _gazetteer(store, settings),
            max_chars=limits.max_field_chars, region_bbox=settings.region_bbox, id_key=load_id_key(settings), today=today,
        )
        for i in sorted(parsed.errors):
            run.reject(parsed.errors[i], table.record(i))
        for note in parsed.notes:
            logger.warning("%s", note)
        run.repaired = len(parsed.repaired)
        stages.done("validated")
        if strict and run.rejected:
            raise TooManyRejectsError(f"{run.rejected} row(s) rejected and --strict given; nothing was written. See {run.rejects_path}")
        run.check_rejects(settings.rejects_max_share)
        records = parsed.records
        # spatially sorted rows fill the store's R-tree faster than file order
        order = gpd.GeoSeries(shapely.points(records["lon"].to_numpy(float), records["lat"].to_numpy(float))).hilbert_distance().to_numpy() if len(records) else []
        records = records.iloc[np.argsort(order, kind="stable")] if len(records) else records
        geo = gpd.GeoDataFrame(
            records[list(STORED)].assign(source=path.name),
            geometry=shapely.points(records["lon"].to_numpy(float), records["lat"].to_numpy(float)),
            crs=STORE_CRS,
        )
        with store.transaction():
            counts = store.upsert("seizures", geo)
            if bool(records["synthetic"].any()):
                store.set_layer_info("seizures", synthetic=True)
        stages.done("stored")
        run.written = counts.written
        run.message = f"seizures: {counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged; " + run.summary()
    return run


def _raw_error(name: str, raw: RawReject, unit: str) -> RecordError:
    return RecordError(name, raw.feature, raw.field, raw.value, raw.reason, unit=unit)
