"""The store's tables, declared once in terms every backend can build (GeoPackage now, PostGIS later).

A :class:`Table` is a list of typed columns, an optional geometry column (type and SRS), and the
natural key that upserts match on. The catalogue's layers become tables here; the store's own
bookkeeping tables are declared beside them. A backend turns these declarations into its own
DDL (:mod:`layers.gpkg_schema` for the GeoPackage) and compares a file against them to tell a
reader that the file needs a migration.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.catalog import CATALOG, FieldType, GeometryType

SRS_ID = 4326
"""EPSG code of every geometry column (lon/lat, WGS 84)."""

FID = "fid"
"""Integer primary key of every table: never reused (a deleted row's id does not come back)."""

GEOMETRY = "geom"
"""Name of the geometry column of a spatial table."""

MIGRATE_COMMAND = "ecowatch store migrate"
"""The command that brings a store's schema up to date (writers only)."""


@dataclass(frozen=True)
class Column:
    """A column: its name and portable type (:data:`layers.catalog.FieldType`)."""

    name: str
    type: FieldType
    not_null: bool = False


@dataclass(frozen=True)
class Table:
    """A table: ``fid`` primary key, then the geometry (when ``geometry_type``), then ``columns``.

    ``key`` names the columns whose values identify a row (a UNIQUE constraint). A ``content``
    table is a layer (listed among a GeoPackage's contents: ``features`` when spatial, else
    ``attributes``); a table that is not content is the store's own, has no ``fid`` and its
    one-column ``key`` is its primary key.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    geometry_type: GeometryType | None = None
    title: str = ""
    description: str = ""
    content: bool = True
    # extra indexes (field names, "-name" descending), indexes of mostly empty fields (only where
    # set), and whether the store refuses UPDATE and DELETE on the table (an audit trail)
    indexes: tuple[tuple[str, ...], ...] = ()
    sparse_indexes: tuple[str, ...] = ()
    append_only: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


LAYER_INFO = Table(
    "ecowatch_layer_info",
    (Column("layer", "text", not_null=True), Column("info", "json", not_null=True)),
    key=("layer",),
    content=False,
    description="Metadata of each layer (synthetic, sources), as JSON.",
)


def layer_tables() -> tuple[Table, ...]:
    """One table per catalogue layer, in catalogue order."""
    return tuple(
        Table(
            layer.name,
            tuple(Column(f.name, f.type) for f in layer.fields),
            key=layer.key,
            geometry_type=layer.geometry_type,
            title=layer.title,
            description=layer.description,
            indexes=layer.indexes,
            sparse_indexes=layer.sparse_indexes,
            append_only=layer.append_only,
        )
        for layer in CATALOG.values()
    )


def tables() -> tuple[Table, ...]:
    """Every table of a store: the layers, then the store's own."""
    return (*layer_tables(), LAYER_INFO)
