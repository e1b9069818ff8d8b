"""Grid aggregates on PostGIS (SQL in layers/postgis_grid.py) give the GeoPackage's cells, for every role, view and filter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layers import get_layer, open_store
from layers.aggregates import grid_aggregate
from layers.filters import MAP_FILTER_NAMES, parse_filters
from layers.redaction import count_redacted
from layers.store_copy import copy_store
from tests.conftest import POSTGIS
from tests.layers.test_aggregates import FILTERS, NGO, VIEWER, VIEWS, _store

pytestmark = pytest.mark.parametrize("backend", [POSTGIS])  # compared with the GeoPackage inside


def test_cells_equal_the_geopackages(store_url: str, tmp_path: Path) -> None:
    gpkg = _store(tmp_path)
    try:
        with open_store(store_url) as pg:
            assert all(c.ok for c in copy_store(gpkg, pg))
            assert hasattr(pg, "grid_summary")  # computed in the database, not binned in Python
            for who in ("planner", "analyst", NGO, VIEWER):
                for layer_name in ("clearings",) if who is VIEWER else ("clearings", "seizures"):
                    layer = get_layer(layer_name)
                    for view in VIEWS:
                        for raw in FILTERS:
                            where = parse_filters(raw, names=MAP_FILTER_NAMES).where_for(layer_name) or None
                            a = grid_aggregate(gpkg, layer, who, bbox=view, where=where)
                            b = grid_aggregate(pg, layer, who, bbox=view, where=where)
                            label = f"{who} {layer_name} {view} {raw}"
                            for name in ("ix", "iy", "count"):
                                assert np.array_equal(getattr(a, name), getattr(b, name)), label
                            if a.area_ha is not None:
                                assert np.allclose(a.area_ha, b.area_ha), label
                            assert b.total == count_redacted(pg, layer, who, bbox=view, where=where), label
    finally:
        gpkg.close()
