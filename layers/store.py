"""The store interface: what every backend (a GeoPackage file, or PostGIS) offers the rest of ecowatch.

All geometries are kept in EPSG:4326 (lon/lat); analyses reproject what they need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

STORE_CRS = "EPSG:4326"

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class WriteCounts:
    """What a write did: rows inserted, rows updated, rows left as they were."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged)


class Store(Protocol):
    """A store of the catalogue's layers.

    Writes inside ``with store.transaction():`` land together or not at all; a write outside one
    is its own transaction.
    """

    url: str
    readonly: bool
    migrated: list[str]
    """What opening the store changed in its schema (a writer's migration), one phrase each."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        order_by: Sequence[str] = (),
        offset: int = 0,
        geometry: bool = True,
    ) -> pd.DataFrame:
        """Rows of ``layer`` (a GeoDataFrame in EPSG:4326 for spatial layers; a plain DataFrame
        without their geometries when ``geometry`` is False).

        ``bbox`` is (west, south, east, north) in degrees and uses the spatial index; ``where`` maps
        field names (or ``fid``, the row id) to a value, a list of values (equality / IN) or a
        :mod:`layers.conditions` condition (ranges, list members). ``order_by`` names fields, ``-name`` for descending;
        rows come in that order, then in insertion order; ``offset`` skips as many first.
        """
        ...

    def count(self, layer: str, *, bbox: BBox | None = None, where: Mapping[str, Any] | None = None) -> int: ...

    def upsert(self, layer: str, frame: pd.DataFrame) -> WriteCounts:
        """Insert rows, or update the row with the same key; identical rows are left alone."""
        ...

    def replace(self, layer: str, frame: pd.DataFrame, *, where: Mapping[str, Any] | None = None) -> WriteCounts:
        """Delete the rows matching ``where`` (all rows when ``None``), then insert ``frame``."""
        ...

    def delete(self, layer: str, *, where: Mapping[str, Any]) -> int: ...

    def layer_info(self, layer: str) -> dict[str, Any]:
        """Metadata of a layer (e.g. ``{"synthetic": True, "sources": [...]}``)."""
        ...

    def set_layer_info(self, layer: str, **info: Any) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...


def display_url(url: str | Path) -> str:
    """``url`` without its password (in the authority or as a ``password=`` parameter), for messages and logs."""
    shown = re.sub(r"^(\w+://[^:@/]*):[^@/]*@", r"\1@", str(url))
    return re.sub(r"([?&])password=[^&]*&?", r"\1", shown).rstrip("?&")


def open_store(url: str | Path, *, create: bool = True, readonly: bool = False) -> Store:
    """Open the store at ``url``: a GeoPackage path (``.gpkg``), or a ``postgresql://`` URL (PostGIS).

    A writer (the default) creates the store when ``create`` and brings its schema up to date;
    a ``readonly`` store never writes, never waits for a writer and serves many threads at once,
    and a store whose schema is older than the catalogue is an error naming the migrating command.
    A PostGIS database must exist (with the ``postgis`` extension, or rights to create it); a
    writer creates the tables in the connection's current schema.

    Raises
    ------
    StoreError
        When the URL names a backend ecowatch does not have, or the file cannot be opened.
    """
    from layers.errors import StoreError
    from layers.gpkg import GeoPackageStore

    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from layers.postgis import PostGISStore

        return PostGISStore(text, create=create, readonly=readonly)
    if "://" in text and not text.startswith("file://"):
        scheme = text.split("://", 1)[0]
        raise StoreError(f"{scheme}://…: unknown store URL scheme; give a GeoPackage path ending in .gpkg or a postgresql:// URL")
    path = Path(text.removeprefix("file://"))
    if path.suffix.lower() != ".gpkg":
        raise StoreError(f"{path}: a GeoPackage store path must end in .gpkg")
    return GeoPackageStore(path, create=create, readonly=readonly)
