"""The demo store's layer counts, recorded before the wave-2 move of ingest/ into cli/, jobs/ and
synthetic/ (issue "The house"): a move that changes behaviour changes one of these numbers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# `ecowatch demo --no-serve` with the default seed (2024), counted on main at 749b3c9
DEMO_LAYER_COUNTS = {
    "aoi": 1,
    "border_crossings": 15,
    "clearings": 2210,
    "concessions": 225,
    "corridor_segments": 745,
    "corridors": 10,
    "countries": 6,
    "coverage": 2,
    "hotspot_cells": 15468,
    "hotspot_segments": 8940,
    "ingest_runs": 11,
    "links": 9106,
    "observation_gaps": 0,
    "protected_areas": 33,
    "scenes": 46,
    "seizures": 1180,
}


def test_demo_store_layer_counts(demo_store: Path) -> None:
    con = sqlite3.connect(f"file:{demo_store}?mode=ro", uri=True)
    try:
        counts = {
            name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in DEMO_LAYER_COUNTS
        }
    finally:
        con.close()
    assert counts == DEMO_LAYER_COUNTS
