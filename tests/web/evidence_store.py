"""A store for the evidence report tests: the map store, synthetic reference scenes and one imaged clearing
with two linked seizures, their generalised counts, a review decision by a named analyst, and a
corridor segment with hotspot statistics (exact and generalised differ)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ingest.imagery.local import open_scene
from layers import open_store
from layers.reviews import Decision, decide
from tests.ingest.reference_scenes import AOI_NAME, CRS, reference, write_local

from .conftest import build_map_store

IMAGED = "CL-00-imaged"
REVIEWER = "Inspector Sokha"
REVIEW_COMMENT = "Seen from the road by Sokha; bulldozer tracks."
SEGMENT = "SEC-N-07"
LINK_DISTANCE_KM = 3.217
IMAGED_AREA_HA = 3.0


def build_evidence_store(folder: Path) -> Path:
    path = build_map_store(folder / "t.gpkg")
    scenes = [open_scene(p) for p in write_local(reference(), folder / "scenes")]
    with open_store(path) as store:
        store.upsert("scenes", gpd.GeoDataFrame(
            [{"scene_id": s.scene_id, "provider": "local", "aoi": AOI_NAME, "acquired": s.acquired, "cloud_share": 0.0,
              "path": str(s.path), "crs": CRS, "synthetic": True, "geometry": shapely.box(760_000, 1_505_120, 762_560, 1_507_680)}
             for s in scenes], geometry="geometry", crs=CRS))
        store.upsert("clearings", gpd.GeoDataFrame([{
            "clearing_id": IMAGED, "aoi": AOI_NAME, "first_detected": dt.date(2024, 1, 20), "last_observed": dt.date(2024, 2, 20),
            "confidence": "high", "risk": 100, "area_ha": IMAGED_AREA_HA, "review_status": "new", "ndvi_drop": 0.42, "nbr_drop": 0.37,
            "method": "NBR (B04 B08 B12; mask SCL)", "flags": ["protected_area", "outside_concessions"],
            "reasons": ["Inside O Yadav (synthetic test).", "Outside every concession."], "risk_reasons": ["protected_area +60", "high confidence +20"],
            "run_id": "run-1", "synthetic": True, "geometry": shapely.box(761_000, 1_506_000, 761_200, 1_506_150),
        }], geometry="geometry", crs=CRS))
        store.upsert("links", pd.DataFrame([
            {"clearing_id": IMAGED, "seizure_id": "S-1", "distance_km": LINK_DISTANCE_KM, "lag_days": 104, "score": 0.81, "reasons": ["near"]},
            {"clearing_id": IMAGED, "seizure_id": "S-2", "distance_km": 9.5, "lag_days": 120, "score": 0.55, "reasons": ["near"]},
        ]))
        store.upsert("links_generalised", pd.DataFrame([{"clearing_id": IMAGED, "seizures": 2, "seizures_timber": 1, "seizures_wildlife": 1}]))
        decide(store, Decision(IMAGED, "field_check", 0, comment=REVIEW_COMMENT), REVIEWER)
        line = shapely.MultiLineString([[(107.40, 13.745), (107.49, 13.745)]])
        store.upsert("corridor_segments", gpd.GeoDataFrame([{"segment_id": SEGMENT, "corridor": "Southern Economic Corridor",
                                                            "sub_corridor": "northern", "km_from": 60.0, "km_to": 70.0, "geometry": line}],
                                                          geometry="geometry", crs="EPSG:4326"))
        hot = {"segment_id": SEGMENT, "sub_corridor": "northern", "cleared_ha": 12.5, "flagged_clearings": 3, "trend": "new",
               "synthetic": True, "geometry": line}
        store.upsert("hotspot_segments", gpd.GeoDataFrame([
            {**hot, "period": "2024Q1", "seizures_timber": 2, "seizures_wildlife": 1, "incidents": 6, "gi_z": 2.71, "gi_p": 0.0067,
             "hot_class": "hot 99 %", "latest": True}], geometry="geometry", crs="EPSG:4326"))
        store.upsert("hotspot_segments_generalised", gpd.GeoDataFrame([
            {**hot, "period": "2024Q1", "seizures_timber": 0, "seizures_wildlife": 0, "incidents": 3, "gi_z": 1.2, "gi_p": 0.23,
             "hot_class": "not significant", "latest": True}], geometry="geometry", crs="EPSG:4326"))
    return path
