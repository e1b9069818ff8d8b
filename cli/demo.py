"""``ecowatch demo``: the bundled region through the same commands a user runs.

Each step calls the job that the named command calls, with the settings given (not the command
line through ``sys.argv``):

1. ``ingest boundaries`` for each of the region's files (countries, corridors, crossings,
   concessions, protected areas, the demo AOI);
2. a synthetic Sentinel-2 L2A series over the demo AOI, with clearings planted inside a
   concession, outside every concession, inside the protected area and where no concession data
   exist (kept under ``<store folder>/demo/``), then ``ingest imagery --provider local``;
3. ``detect``; synthetic seizures linked to some planted clearings, then ``ingest seizures``;
   region-wide synthetic clearings (written straight to the store: the demo's only step that
   is not a user command) and seizures along every corridor, with clusters built to be
   intensifying, persistent, diminishing and new hotspots, then ``ingest seizures``;
4. ``analyse`` and ``export clearings --format geojson``;
5. one demo account per role (``demo-viewer`` ... ``demo-admin``), passwords printed once;
6. unless ``--no-serve``: serve the map.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import click
import geopandas as gpd
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from config import Settings
from ingest.mapping import FieldMapping
from ingest.region import Region, load_region
from jobs.progress import Progress
from jobs.runs import Run
from layers.store import Store, open_store

logger = logging.getLogger(__name__)

# the quarters of the region-wide synthetic clearings and seizures (hotspot trends)
REGION_FIRST = dt.date(2022, 1, 1)
REGION_LAST = dt.date(2024, 12, 31)

# what a correct analysis says of a clearing planted in each zone
ZONE_FLAGS: Mapping[str, tuple[str, ...]] = {
    "protected_area": ("outside_concessions", "protected_area"),
    "inside_concession": ("inside_concession",),
    "outside_concessions": ("outside_concessions",),
    "no_concession_data": ("no_concession_data",),
}


def planting_zones(store: Store, region: Region) -> dict[str, BaseGeometry]:
    """The demo AOI cut into zones whose flags are known, in the demo CRS (metres).

    Each zone keeps 60 m away from every boundary so that a planted clearing's flags cannot
    depend on how a boundary falls between pixels.
    """
    crs = region.demo.crs
    aoi = shapely.box(*region.demo.bounds)

    def union(layer: str, **where: object) -> BaseGeometry:
        frame = store.read(layer, bbox=tuple(gpd.GeoSeries([aoi], crs=crs).to_crs("EPSG:4326").total_bounds), where=where or None)
        if frame.empty:
            return shapely.Polygon()
        return shapely.intersection(shapely.union_all(frame.to_crs(crs).geometry.values), aoi)

    pa, conc, cover = union("protected_areas"), union("concessions"), union("coverage", kind="concessions")
    gap = 60.0

    def zone(geom: BaseGeometry, *minus: BaseGeometry) -> BaseGeometry:
        for m in minus:
            geom = shapely.difference(geom, shapely.buffer(m, gap))
        return shapely.buffer(geom, -gap)

    outside_cover = shapely.difference(aoi, cover)
    return {
        "protected_area": zone(shapely.intersection(pa, cover), conc, outside_cover),
        "inside_concession": zone(shapely.intersection(conc, cover), pa, outside_cover),
        "outside_concessions": zone(cover, conc, pa, outside_cover),
        "no_concession_data": zone(outside_cover, pa, conc, cover),
    }


def generate_imagery(store_url: str, region: Region, seed: int, folder: Path) -> gpd.GeoDataFrame:
    """Write the synthetic series for the demo AOI into ``folder`` (reused when already there for this seed)."""
    from synthetic.scenes import Grid, generate_series, write_series

    manifest = folder / "manifest.json"
    truth_file = folder / "truth.geojson"
    if manifest.exists() and truth_file.exists():
        meta = orjson.loads(manifest.read_bytes())
        if meta.get("seed") == seed and all((folder / f).exists() for f in meta.get("files", [])):
            logger.info("demo: reusing the synthetic series in %s (seed %d)", folder, seed)
            return gpd.read_file(truth_file)
    with open_store(store_url) as store:
        zones = planting_zones(store, region)
    d = region.demo
    grid = Grid.from_bounds(d.bounds, d.resolution, d.crs)
    series = generate_series(grid, zones, seed=seed, baseline=d.baseline, monitor=d.monitor, revisit_days=d.revisit_days)
    folder.mkdir(parents=True, exist_ok=True)
    files = write_series(series, folder)
    manifest.write_bytes(orjson.dumps({"seed": seed, "files": [f.name for f in files]}))
    return gpd.read_file(truth_file)


def seed_region(settings: Settings, store_url: str, region: Region, seed: int, work: Path) -> Path:
    """Region-wide synthetic clearings (written to the store: a demo-only step, no imagery behind them)
    and seizures (returned as a CSV for ``ingest seizures``) along every corridor, for the hotspots."""
    from geo.corridors import segment_corridors
    from synthetic.region_activity import synthetic_region
    from synthetic.seizure_table import write_seizures_csv

    d = region.demo
    with open_store(store_url) as store:
        segments = segment_corridors(store.read("corridors", columns=["name", "sub_corridor"]), settings.segment_km)
        aoi = gpd.GeoSeries([shapely.box(*d.bounds)], crs=d.crs)
        keep_out = aoi.buffer(settings.match_radius_km * 1000.0 * 1.2).to_crs("EPSG:4326").iloc[0]
        clearings, seizures, design = synthetic_region(segments, seed=seed, first=REGION_FIRST, last=REGION_LAST, exclude=keep_out)
        with store.transaction():
            store.upsert("clearings", clearings)
            store.set_layer_info("clearings", synthetic=True)
    (work / "region_design.json").write_bytes(orjson.dumps(design, option=orjson.OPT_SORT_KEYS))
    logger.info("demo: %d region-wide synthetic clearings, %d seizures, %d designed segments", len(clearings), len(seizures), len(design))
    return write_seizures_csv(seizures, work / "seizures_region_synthetic.csv")


DEMO_ACCOUNT_PREFIX = "demo-"


def demo_accounts(settings: Settings, store_url: str) -> str:
    """(Re)create one account per role, ``demo-<role>``, and return the text that tells how to log in.

    The password is ``settings.demo_password`` when set, else a new random one per account
    each time the demo runs: the returned text is the only place it is shown.
    """
    import secrets

    from layers.accounts import HashParams, add_account
    from layers.redaction import ROLES
    from web.server import map_url

    params = HashParams(settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_parallelism)
    given = settings.demo_password.get_secret_value()
    lines = []
    with open_store(store_url) as store:
        for role in ROLES:
            name = DEMO_ACCOUNT_PREFIX + role
            password = given or secrets.token_urlsafe(12)
            add_account(store, name, role, password, params=params, min_length=settings.password_min_length, replace=True)
            lines.append(f"  {name:<14} {role:<8} {'(ECOWATCH_DEMO_PASSWORD)' if given else password}")
    url = map_url(settings.host, settings.port) + "login"
    return "\n".join([
        f"demo: one account per role; log in to the map at {url} as:",
        *lines,
        "demo: these passwords are shown only now; `ecowatch users list` shows the accounts,",
        "      `ecowatch users disable NAME` retires one.",
    ])


Bars = Callable[[str, str], AbstractContextManager[Progress | None]]


def _no_bars(label: str, unit: str) -> AbstractContextManager[Progress | None]:
    return nullcontext(None)


def _step(run: Run) -> None:
    click.echo(f"{run.command}: {run.message}")


def run_demo(settings: Settings, store_url: str, *, seed: int | None = None, serve: bool = True, bars: Bars = _no_bars) -> Path:
    """Build the demo store at ``store_url`` by calling the jobs a user's commands call, with
    ``settings``; serve the map unless ``serve`` is false.

    ``bars(label, unit)`` gives each long step its progress reporter (a bar in the CLI).
    Returns the path of the exported clearings GeoJSON.
    """
    from jobs.analyse import analyse
    from jobs.detect import Period, detect
    from jobs.ingest_boundaries import ingest_boundaries
    from jobs.ingest_imagery import ingest_imagery
    from jobs.ingest_seizures import ingest_seizures
    from layers.export import export_layer
    from layers.opaque_ids import KEY_FILE, load_id_key
    from layers.redaction import Access
    from synthetic.seizure_table import synthetic_seizures, write_seizures_csv

    # the key of the opaque ids partners see (and of content ids), kept in the data folder (0600)
    # unless the id_secret setting gives one; every later export and the map use the same
    id_key = load_id_key(settings)
    if not settings.id_secret.get_secret_value():
        click.echo(f"demo: opaque ids keyed by {Path(settings.data_dir) / KEY_FILE} (keep it: a new key gives every record a new id)")
    region = load_region(settings.region)
    d = region.demo
    seed = d.seed if seed is None else seed
    work = Path(settings.data_dir).resolve() / "demo" / f"seed-{seed}"
    with open_store(store_url) as store:
        for b in region.boundaries:
            _step(ingest_boundaries(store, settings, b.kind, b.file, mapping=FieldMapping.from_file(b.mapping)))
    truth = generate_imagery(store_url, region, seed, work / "imagery")
    with open_store(store_url) as store:
        with bars(f"local {d.aoi}", "scene") as progress:
            run = ingest_imagery(
                store, settings, provider="local", path=work / "imagery", aoi=d.aoi, date_from=d.baseline[0], date_to=d.monitor[1],
                progress=progress,
            )
        _step(run)
        with bars(f"detect {d.aoi}", "window") as progress:
            run = detect(store, settings, aoi=d.aoi, baseline=Period(*d.baseline), monitor=Period(*d.monitor), progress=progress)
        _step(run)
        crossings = store.read("border_crossings")
    seizures = synthetic_seizures(
        truth, crossings, seed=seed, metric_crs=d.crs, max_lag_days=settings.match_max_lag_days, radius_km=settings.match_radius_km
    )
    csv_path = write_seizures_csv(seizures, work / "seizures_synthetic.csv")
    with open_store(store_url) as store:
        _step(ingest_seizures(store, settings, csv_path))
    region_csv = seed_region(settings, store_url, region, seed, work)
    out = work / "clearings.geojson"
    with open_store(store_url) as store:
        _step(ingest_seizures(store, settings, region_csv))
        with bars("analyse", "stage") as progress:
            run = analyse(store, settings, progress=progress)
        _step(run)
        n = export_layer(store, "clearings", out, role=Access("ngo", id_key))
    click.echo(f"export clearings: {n} feature(s) written to {out}")
    click.echo(f"demo: store {store_url} built; clearings exported to {out}")
    click.echo(demo_accounts(settings, store_url))
    if serve:
        from web import serve as serve_map

        serve_map(settings, settings.host, settings.port, store_url=store_url)
    return out
