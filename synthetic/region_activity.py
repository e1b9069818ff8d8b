"""Region-wide synthetic clearings and seizures along every corridor, with designed hotspot trends.

The demo's imagery covers one 20 km AOI; the hotspot analysis needs many segments and periods.
This module makes clearing records and seizure rows (all marked synthetic) along every corridor
segment, quarter by quarter: a low random background everywhere, and clusters of three
consecutive segments built to be *intensifying*, *persistent*, *diminishing* and *new*
(:data:`PATTERNS`), with no background within :data:`QUIET_KM` of them. Events are placed within
4 km of their segment, across it, so that each is nearest its own segment and the flag analysis
sees it as near a corridor.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.metric import utm_groups
from synthetic.seizure_table import COLUMNS, TIMBER, WILDLIFE

# Events per segment per quarter for each designed pattern, over n quarters (index q of n).
# Gi* is relative to each period's mean and spread, so the rising and the falling clusters mirror
# each other: their sum, and so the period's mean, stays the same, and a persistent cluster's z
# does not drift because others grow.
PATTERNS = {
    "intensifying": lambda q, n: 5 + round(10 * q / max(n - 1, 1)),
    "persistent": lambda q, n: 10,
    "diminishing": lambda q, n: 15 - round(10 * q / max(n - 1, 1)),
    "new": lambda q, n: 12 if q == n - 1 else 0,
}
CLUSTER = 3
BACKGROUND_RATE = 0.15  # events per segment per quarter elsewhere


def quarters(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """(start, end) of every quarter from the one holding ``first`` to the one holding ``last``."""
    out = []
    start = pd.Timestamp(first).to_period("Q").start_time
    while start.date() <= last:
        end = (start + pd.offsets.QuarterEnd(0)).date()
        out.append((start.date(), end))
        start = pd.Timestamp(end) + pd.Timedelta(days=1)
    return out


REGION_CRS = "+proj=aeqd +lat_0=18 +lon_0=102 +datum=WGS84 +units=m"
QUIET_KM = 40.0  # no background events this close to a designed cluster, so its neighbourhood is its own


def design_clusters(
    segments: gpd.GeoDataFrame, rng: np.random.Generator, per_pattern: int = 2, spacing_km: float = 150.0, exclude: shapely.Geometry | None = None
) -> dict[str, str]:
    """Segment id -> pattern: ``per_pattern`` clusters of :data:`CLUSTER` consecutive segments per pattern,
    each at least ``spacing_km`` from every other and away from ``exclude`` (EPSG:4326)."""
    seg = segments.sort_values(["sub_corridor", "km_from"]).reset_index(drop=True)
    mids = seg.geometry.to_crs(REGION_CRS).interpolate(0.5, normalized=True)
    blocked = np.zeros(len(seg), dtype=bool) if exclude is None else seg.geometry.to_crs("EPSG:4326").intersects(exclude).to_numpy()
    chosen: dict[str, str] = {}
    taken: list[shapely.Point] = []
    order = rng.permutation(len(seg))
    for pattern in PATTERNS:
        n = 0
        for start in order:
            if n == per_pattern:
                break
            run = seg.iloc[start:start + CLUSTER]
            if len(run) < CLUSTER or run["sub_corridor"].nunique() != 1 or blocked[start:start + CLUSTER].any():
                continue
            centre = mids.iloc[start + 1]
            if any(centre.distance(t) < spacing_km * 1000.0 for t in taken):
                continue
            taken.append(centre)
            chosen.update(dict.fromkeys(run["segment_id"], pattern))
            n += 1
    return chosen


def synthetic_region(
    segments: gpd.GeoDataFrame,
    *,
    seed: int,
    first: dt.date,
    last: dt.date,
    exclude: shapely.Geometry | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, str]]:
    """Clearing records, seizure rows and the designed pattern of each cluster segment.

    Parameters
    ----------
    segments
        Corridor segments (``segment_id``, ``sub_corridor``, ``km_from``, line; any CRS).
    seed
        Everything is drawn from it.
    first, last
        The quarters covered.
    exclude
        An area (EPSG:4326) where no event is placed (e.g. around the demo AOI, whose seizures
        are matched against its own truth).

    Returns
    -------
    clearings
        EPSG:4326 polygons with the clearings layer's fields (ids ``SYNCL-<seed>-<n>``).
    seizures
        Rows in the CSV schema of :mod:`jobs.ingest_seizures`.
    design
        Segment id -> pattern name for the cluster segments.
    """
    rng = np.random.default_rng([seed, 7])
    design = design_clusters(segments, rng, exclude=exclude)
    mids = segments.geometry.to_crs(REGION_CRS).interpolate(0.5, normalized=True)
    designed = mids[segments["segment_id"].isin(design).to_numpy()]
    quiet = set(segments["segment_id"][mids.distance(shapely.union_all(designed.to_numpy())).to_numpy() < QUIET_KM * 1000.0]) if len(designed) else set()
    periods = quarters(first, last)
    n_q = len(periods)
    clearings: list[dict[str, object]] = []
    seizures: list[dict[str, object]] = []
    lines = segments.sort_values("segment_id").reset_index(drop=True)
    for crs, pos in utm_groups(lines.geometry):
        to_utm = Transformer.from_crs(lines.crs, crs, always_xy=True)
        to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        for r in lines.iloc[pos].itertuples():
            line = shapely.transform(r.geometry, lambda xy, t=to_utm: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
            pattern = design.get(r.segment_id)
            for q, (start, end) in enumerate(periods):
                background = 0 if r.segment_id in quiet else int(rng.poisson(BACKGROUND_RATE))
                n = PATTERNS[pattern](q, n_q) if pattern else background
                if n == 0:
                    continue
                # across the segment, away from its ends, so each event is nearest its own segment
                (x0, y0), (x1, y1) = shapely.get_coordinates(line)[[0, -1]]
                length = float(np.hypot(x1 - x0, y1 - y0)) or 1.0
                nx, ny = -(y1 - y0) / length, (x1 - x0) / length
                along = shapely.line_interpolate_point(line, rng.uniform(0.15, 0.85, n), normalized=True)
                offset = rng.uniform(300.0, 4_000.0, n) * rng.choice([-1.0, 1.0], n)
                x = shapely.get_x(along) + offset * nx
                y = shapely.get_y(along) + offset * ny
                lon, lat = to_lonlat.transform(x, y)
                days = rng.integers(0, (end - start).days + 1, n)
                is_clearing = rng.random(n) < 0.65
                sides = np.sqrt(rng.uniform(1.0, 15.0, n) * 10_000.0)
                groups = np.where(rng.random(n) < 0.6, "timber", "wildlife")
                kinds = rng.integers(0, 3, n)
                for k in range(n):
                    if exclude is not None and exclude.contains(shapely.Point(lon[k], lat[k])):
                        continue
                    day = start + dt.timedelta(days=int(days[k]))
                    if is_clearing[k]:
                        h = sides[k] / 2
                        ring = np.array([[x[k] - h, y[k] - h], [x[k] + h, y[k] - h], [x[k] + h, y[k] + h], [x[k] - h, y[k] + h]])
                        rx, ry = to_lonlat.transform(ring[:, 0], ring[:, 1])
                        clearings.append({
                            "clearing_id": f"SYNCL-{seed}-{len(clearings) + 1:05d}", "aoi": "gms-synthetic",
                            "area_ha": round(float(sides[k]) ** 2 / 10_000.0, 3), "first_detected": pd.Timestamp(day),
                            "last_observed": pd.Timestamp(min(end + dt.timedelta(days=60), last)), "confidence": "high",
                            "review_status": "new", "synthetic": True, "geometry": shapely.Polygon(np.column_stack([rx, ry])),
                        })
                        continue
                    group = str(groups[k])
                    commodity, species, appendix, unit = (TIMBER if group == "timber" else WILDLIFE)[int(kinds[k])]
                    i = len(seizures) + 1
                    seizures.append({
                        "seizure_id": f"SYNSZ-{seed}-{i:05d}", "date": day.isoformat(), "commodity_group": group,
                        "commodity": commodity, "species": species, "cites_appendix": appendix,
                        "quantity": round(float(sides[k]) / 10.0, 1), "unit": unit, "transport_mode": "road",
                        "origin_country": "", "destination_country": "", "agency": "Synthetic enforcement unit",
                        "case_reference": f"SYN-REGION-{seed}-{i:05d}",
                        "notes": "SYNTHETIC region-wide record generated by ecowatch for the hotspot demo; not a real seizure.",
                        "location_precision": "exact", "lon": round(float(lon[k]), 6), "lat": round(float(lat[k]), 6),
                        "synthetic": "true", "expected_truth_id": "",
                    })
    frame = gpd.GeoDataFrame(clearings, geometry="geometry", crs="EPSG:4326") if clearings else gpd.GeoDataFrame({"clearing_id": []}, geometry=[], crs="EPSG:4326")
    return frame, pd.DataFrame(seizures, columns=COLUMNS), design
