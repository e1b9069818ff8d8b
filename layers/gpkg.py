"""The GeoPackage store: one SQLite file (WAL), one table per catalogue layer, an R-tree per geometry.

The file is a standard GeoPackage 1.3 that QGIS, GDAL (``ogrinfo``) and geopandas open. ecowatch
writes it through ``sqlite3`` so that a whole run is one transaction and upserts are single
statements; the R-tree triggers use ``ST_*`` functions registered on each connection, and batches
of :data:`BULK_ROWS` rows or more keep the R-tree in bulk instead (:mod:`layers.gpkg_rtree`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from layers import gpkg_blob, gpkg_rtree
from layers.catalog import CATALOG, Layer, get_layer
from layers.errors import LayerError, SchemaError, StoreError
from layers.geometry import promote_to_multi
from layers.store import STORE_CRS, BBox, WriteCounts
from layers.values import SQL_TYPES, from_sql, to_sql, to_sql_column

logger = logging.getLogger(__name__)

SRS_ID = 4326
BULK_ROWS = 500
"""A write of at least this many rows (written or deleted) keeps the spatial index in bulk."""
_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10300
_WKT_4326 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class GeoPackageStore:
    """A :class:`layers.store.Store` in a GeoPackage file."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        if not self.path.exists() and not create:
            raise StoreError(f"{self.path}: no such store; run `ecowatch demo` or an ingest first")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"{self.path}: cannot open the store: {err}") from err
        self._lock = threading.RLock()
        self._depth = 0
        gpkg_rtree.register_functions(self._conn)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._ensure_schema()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path}: not a GeoPackage store ecowatch can use: {err}") from err

    # -- schema -------------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        with self.transaction():
            c = self._conn
            app_id = c.execute("PRAGMA application_id").fetchone()[0]
            has_tables = c.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
            if has_tables and app_id != _APPLICATION_ID:
                raise SchemaError(f"{self.path}: an SQLite file that is not a GeoPackage")
            c.execute(f"PRAGMA application_id={_APPLICATION_ID}")
            c.execute(f"PRAGMA user_version={_USER_VERSION}")
            for sql in _CORE_SQL:
                c.execute(sql)
            c.execute(
                "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS',-1,'NONE',-1,'undefined',NULL),"
                "('Undefined geographic SRS',0,'NONE',0,'undefined',NULL),"
                "('WGS 84 geodetic',4326,'EPSG',4326,?,'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')",
                (_WKT_4326,),
            )
            for layer in CATALOG.values():
                self._ensure_layer(layer)

    def _ensure_layer(self, layer: Layer) -> None:
        c = self._conn
        t = _quote(layer.name)
        existing = {row[1] for row in c.execute(f"PRAGMA table_info({t})")}
        if not existing:
            cols = ["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"]
            if layer.geometry_type:
                cols.append(f"geom {layer.geometry_type}")
            cols += [f"{_quote(f.name)} {SQL_TYPES[f.type]}" for f in layer.fields]
            cols.append(f"UNIQUE ({', '.join(_quote(k) for k in layer.key)})")
            c.execute(f"CREATE TABLE {t} ({', '.join(cols)})")
            data_type = "features" if layer.geometry_type else "attributes"
            c.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES (?,?,?,?,?)",
                (layer.name, data_type, layer.title, layer.description, SRS_ID if layer.geometry_type else None),
            )
            if layer.geometry_type:
                gtype = "MULTIPOLYGON" if layer.geometry_type == "MULTIPOLYGON" else layer.geometry_type
                c.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (layer.name, gtype, SRS_ID))
                gpkg_rtree.create(c, layer.name)
            return
        for f in layer.fields:
            if f.name not in existing:
                logger.info("store %s: adding field %s.%s", self.path.name, layer.name, f.name)
                c.execute(f"ALTER TABLE {t} ADD COLUMN {_quote(f.name)} {SQL_TYPES[f.type]}")

    # -- transactions ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside land together; an exception rolls every one of them back."""
        with self._lock:
            outer = self._depth == 0
            savepoint = f"ecowatch_{self._depth}"
            # an inner transaction is a savepoint: its failure undoes its own writes only
            self._conn.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self._conn.execute("ROLLBACK" if outer else f"ROLLBACK TO {savepoint}")
                if not outer:
                    self._conn.execute(f"RELEASE {savepoint}")
                raise
            self._depth -= 1
            self._conn.execute("COMMIT" if outer else f"RELEASE {savepoint}")

    # -- reading --------------------------------------------------------------------------------
    def _where_sql(self, layer: Layer, where: Mapping[str, Any] | None, bbox: BBox | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in (where or {}).items():
            fld = self._field(layer, name)
            if isinstance(value, list | tuple | set | np.ndarray | pd.Series):
                values = [to_sql(fld.type, v) for v in value]
                if not values:
                    clauses.append("0")
                    continue
                clauses.append(f"{_quote(name)} IN ({','.join('?' * len(values))})")
                params += values
            elif value is None:
                clauses.append(f"{_quote(name)} IS NULL")
            else:
                clauses.append(f"{_quote(name)} = ?")
                params.append(to_sql(fld.type, value))
        if bbox is not None:
            if not layer.geometry_type:
                raise LayerError(f"layer {layer.name!r} has no geometry to filter by bbox")
            w, s, e, n = (float(v) for v in bbox)
            clauses.append(
                f"fid IN (SELECT id FROM {_quote(gpkg_rtree.index_name(layer.name))} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
            )
            params += [e, w, n, s]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _field(layer: Layer, name: str) -> Any:
        try:
            return layer.field(name)
        except KeyError as err:
            raise LayerError(f"layer {layer.name!r} has no field {name!r}; fields: {', '.join(layer.field_names)}") from err

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        lyr = self._layer(layer)
        names = list(columns) if columns is not None else list(lyr.field_names)
        fields = [self._field(lyr, n) for n in names]
        select = ["fid"] + (["geom"] if lyr.geometry_type else []) + [_quote(n) for n in names]
        clause, params = self._where_sql(lyr, where, bbox)
        sql = f"SELECT {', '.join(select)} FROM {_quote(lyr.name)}{clause} ORDER BY fid"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in select]
        data: dict[str, Any] = {}
        offset = 2 if lyr.geometry_type else 1
        for f, values in zip(fields, cols[offset:], strict=True):
            data[f.name] = from_sql(f.type, list(values))
        index = pd.Index(list(cols[0]), name="fid", dtype="int64")
        frame = pd.DataFrame(data, index=index, columns=names)
        if not lyr.geometry_type:
            return frame
        geoms = gpkg_blob.decode(list(cols[1]))
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=index, crs=STORE_CRS), crs=STORE_CRS)

    def count(self, layer: str, *, bbox: BBox | None = None, where: Mapping[str, Any] | None = None) -> int:
        lyr = self._layer(layer)
        clause, params = self._where_sql(lyr, where, bbox)
        with self._lock:
            return int(self._conn.execute(f"SELECT count(*) FROM {_quote(lyr.name)}{clause}", params).fetchone()[0])

    # -- writing --------------------------------------------------------------------------------
    def _rows(self, lyr: Layer, frame: pd.DataFrame) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """Column names and the SQLite values of ``frame``'s rows, made as they are consumed (once)."""
        names = [n for n in frame.columns if n in lyr.field_names]
        missing = [k for k in lyr.key if k not in names]
        if missing:
            raise LayerError(f"writing {lyr.name!r}: key field(s) {missing} missing from the records")
        columns: list[list[Any]] = []
        # a plain DataFrame updates attributes only and leaves geometries as they are
        with_geometry = bool(lyr.geometry_type) and isinstance(frame, gpd.GeoDataFrame)
        if with_geometry:
            geo = frame.geometry
            if geo.crs is None:
                raise LayerError(f"writing {lyr.name!r}: geometries have no CRS")
            if not geo.crs.equals(STORE_CRS):
                geo = geo.to_crs(STORE_CRS)
            columns.append(gpkg_blob.encode(_promote(np.asarray(geo.values, dtype=object), lyr), SRS_ID))
        for n in names:
            columns.append(to_sql_column(lyr.field(n).type, frame[n]))
        # rows made one at a time die young: a list of them all would keep the garbage collector busy
        return (["geom"] if with_geometry else []) + names, zip(*columns, strict=True)

    def upsert(self, layer: str, frame: pd.DataFrame) -> WriteCounts:
        lyr = self._layer(layer)
        if len(frame) == 0:
            return WriteCounts()
        cols, rows = self._rows(lyr, frame)
        quoted = [_quote(c) for c in cols]
        updatable = [q for c, q in zip(cols, quoted, strict=True) if c not in lyr.key]
        sql = f"INSERT INTO {_quote(lyr.name)} ({', '.join(quoted)}) VALUES ({', '.join('?' * len(cols))})"
        conflict = ", ".join(_quote(k) for k in lyr.key)
        if updatable:
            sets = ", ".join(f"{q} = excluded.{q}" for q in updatable)
            differs = " OR ".join(f"{_quote(lyr.name)}.{q} IS NOT excluded.{q}" for q in updatable)
            sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {sets} WHERE {differs}"
        else:
            sql += f" ON CONFLICT ({conflict}) DO NOTHING"
        with self.transaction():
            before = self.count(layer)
            with self._writing(lyr, len(frame)):
                # the number of rows inserted or updated (triggers excluded)
                changed = self._conn.executemany(sql, rows).rowcount
            inserted = self.count(layer) - before
        updated = changed - inserted
        return WriteCounts(inserted, updated, len(frame) - inserted - updated)

    @contextmanager
    def _writing(self, lyr: Layer, n_rows: int) -> Iterator[None]:
        """Writes of ``n_rows`` rows to ``lyr``, inside a transaction: SQLite's errors as StoreError.

        From :data:`BULK_ROWS` rows on, the R-tree triggers are set aside and the index is kept
        in bulk after the writes (:func:`layers.gpkg_rtree.bulk_upkeep`).
        """
        upkeep: AbstractContextManager[None] = nullcontext()
        if lyr.geometry_type and n_rows >= BULK_ROWS:
            upkeep = gpkg_rtree.bulk_upkeep(self._conn, lyr.name)
        try:
            with upkeep:
                yield
        except (sqlite3.Error, ValueError) as err:
            raise StoreError(f"{self.path}: writing layer {lyr.name!r} failed: {err}") from err

    def replace(self, layer: str, frame: pd.DataFrame, *, where: Mapping[str, Any] | None = None) -> WriteCounts:
        lyr = self._layer(layer)
        with self.transaction():
            clause, params = self._where_sql(lyr, where, None)
            cols, rows = self._rows(lyr, frame) if len(frame) else ([], iter([]))
            # what is deleted counts too: replacing a whole layer rewrites its index
            n_rows = len(frame) if len(frame) >= BULK_ROWS else len(frame) + self.count(layer, where=where)
            with self._writing(lyr, n_rows):
                self._conn.execute(f"DELETE FROM {_quote(lyr.name)}{clause}", params)
                if len(frame):
                    sql = f"INSERT INTO {_quote(lyr.name)} ({', '.join(_quote(c) for c in cols)}) VALUES ({', '.join('?' * len(cols))})"
                    self._conn.executemany(sql, rows)
        return WriteCounts(inserted=len(frame))

    def delete(self, layer: str, *, where: Mapping[str, Any]) -> int:
        lyr = self._layer(layer)
        clause, params = self._where_sql(lyr, where, None)
        with self.transaction():
            return self._conn.execute(f"DELETE FROM {_quote(lyr.name)}{clause}", params).rowcount

    # -- layer metadata ---------------------------------------------------------------------------
    def layer_info(self, layer: str) -> dict[str, Any]:
        self._layer(layer)
        with self._lock:
            row = self._conn.execute("SELECT info FROM ecowatch_layer_info WHERE layer = ?", (layer,)).fetchone()
        return dict(orjson.loads(row[0])) if row else {}

    def set_layer_info(self, layer: str, **info: Any) -> None:
        lyr = self._layer(layer)
        merged = {**self.layer_info(layer), **info}
        with self.transaction():
            self._conn.execute(
                "INSERT INTO ecowatch_layer_info (layer, info) VALUES (?, ?) ON CONFLICT(layer) DO UPDATE SET info = excluded.info",
                (layer, orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode()),
            )
            description = lyr.description
            if merged.get("synthetic"):
                description = ("SYNTHETIC data, generated for demonstration. " + description).strip()
            self._conn.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?", (description, layer))

    def _layer(self, name: str) -> Layer:
        try:
            return get_layer(name)
        except KeyError as err:
            raise LayerError(str(err.args[0])) from err

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> GeoPackageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CORE_SQL = (
    "CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, "
    "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)",
    "CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
    "identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, "
    "CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
    "CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, "
    "CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), "
    "CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), "
    "CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))",
    "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, "
    "definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))",
    "CREATE TABLE IF NOT EXISTS ecowatch_layer_info (layer TEXT PRIMARY KEY, info TEXT NOT NULL)",
)


def _promote(geoms: np.ndarray, lyr: Layer) -> np.ndarray:
    """Single parts to Multi for the Multi layers; anything of another family is an error."""
    family = {"MULTIPOLYGON": ("Polygon", "MultiPolygon"), "MULTILINESTRING": ("LineString", "MultiLineString"), "POINT": ("Point",)}
    allowed = family[str(lyr.geometry_type)]
    types = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"])
    present = types >= 0
    bad = present & ~np.isin(names[np.clip(types, 0, 7)], allowed)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LayerError(f"writing {lyr.name!r}: record {i} is a {names[types[i]]}, the layer holds {lyr.geometry_type}")
    return promote_to_multi(geoms) if str(lyr.geometry_type).startswith("MULTI") else geoms
