"""The map's API, the review desk and logins served from a PostGIS store (pooled read-only
connections for pages, a writer for sessions and decisions): their own tests, run again on PostGIS.

The tests are those of ``test_api.py`` and ``test_review.py`` (imported, so that pytest runs them
here with this module's ``map_store``: the same store, written into a PostGIS schema).
"""

from __future__ import annotations

import pytest

from tests.conftest import POSTGIS
from tests.web.conftest import build_map_store
from tests.web.test_api import (  # noqa: F401 - collected again here, on PostGIS
    test_bbox_filter_keeps_only_features_in_the_box,
    test_features_are_a_feature_collection_in_lon_lat,
    test_layers_lists_every_map_layer_with_counts,
    test_points_and_nulls,
)
from tests.web.test_review import (  # noqa: F401 - collected again here, on PostGIS
    all_new,
    analyst,
    second_analyst,
    test_decision_csrf_conflict_and_trail,
    test_paging_is_stable,
    test_queue_order_filters_and_csp,
)

pytestmark = pytest.mark.parametrize("backend", [POSTGIS])  # the GeoPackage runs are the modules' own


@pytest.fixture
def map_store(store_url: str) -> str:
    """The web tests' store, in a fresh PostGIS schema."""
    return str(build_map_store(store_url))  # type: ignore[arg-type]
