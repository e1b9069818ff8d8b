"""Comparing detected clearings with a synthetic series' truth (shared by the end-to-end tests)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd


@dataclass
class Match:
    truth_id: int
    clearing_id: str | None
    iou: float
    area_ratio: float
    lag_days: float


def match_truth(truth: gpd.GeoDataFrame, detected: gpd.GeoDataFrame, crs: str = "EPSG:32648") -> tuple[list[Match], list[str]]:
    """Best detected clearing per truth clearing (by IoU), and the detected ids matching no truth."""
    t = truth.to_crs(crs)
    d = detected.to_crs(crs).reset_index(drop=True)
    matches = []
    used: set[str] = set()
    for r in t.itertuples():
        inter = d.geometry.intersection(r.geometry).area if len(d) else pd.Series(dtype=float)
        if not len(d) or inter.max() <= 0:
            matches.append(Match(int(r.truth_id), None, 0.0, 0.0, float("nan")))
            continue
        j = int(inter.idxmax())
        iou = float(inter[j] / d.geometry[j].union(r.geometry).area)
        lag = (pd.Timestamp(d["first_detected"][j]) - pd.Timestamp(r.first_visible)).days
        matches.append(Match(int(r.truth_id), str(d["clearing_id"][j]), iou, float(d["area_ha"][j] / r.area_ha), float(lag)))
        if iou >= 0.5:
            used.add(str(d["clearing_id"][j]))
    false = [c for c in d["clearing_id"] if c not in used]
    return matches, false
