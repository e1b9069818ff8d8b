"""What a vector reader returns: the features it could read, and those it could not, with why."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawReject:
    """A feature the reader could not turn into a record (named by its number in the file)."""

    feature: Any
    field: str
    value: Any
    reason: str
    record: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class FeatureTable:
    """Features of one file layer.

    ``frame`` holds the attributes and geometries (in ``frame.crs``), indexed by the feature
    number a user sees (position in a GeoJSON file, FID elsewhere); ``rejects`` the features the
    reader refused; ``name`` the file as messages name it (``a.zip:b.shp`` for archive members);
    ``crs_declared`` whether the file itself said what its CRS is.
    """

    frame: gpd.GeoDataFrame
    name: str
    crs_declared: bool = True
    rejects: list[RawReject] = dataclasses.field(default_factory=list)

    @property
    def read(self) -> int:
        """Features read, good or bad."""
        return len(self.frame) + len(self.rejects)
