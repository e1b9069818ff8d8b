"""The GeoPackage form of the store's schema (:mod:`layers.schema`): what a file must hold, checked and built.

:func:`differences` reads a file's schema (nothing but reads, so a read-only connection can run
it) and lists what is not as :mod:`layers.schema` declares it; :func:`migrate` brings a file up to
date and is run by writers only, inside their transaction. The file is a GeoPackage 1.3: its
``application_id`` is ``GPKG``, its ``user_version`` 10300, and its R-tree indexes carry the 1.3
trigger set and the 1.3 extension definition (:mod:`layers.gpkg_rtree`).
"""

from __future__ import annotations

import logging
import sqlite3

from layers import gpkg_rtree
from layers.schema import FID, GEOMETRY, SRS_ID, Table, tables
from layers.values import SQL_TYPES

logger = logging.getLogger(__name__)

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0
_WKT_4326 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
)
_CORE = {
    "gpkg_spatial_ref_sys": "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, "
    "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)",
    "gpkg_contents": "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
    "identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, "
    "CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
    "gpkg_geometry_columns": "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, "
    "CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), "
    "CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), "
    "CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))",
    "gpkg_extensions": "CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, "
    "definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))",
}


def quote(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def is_geopackage(conn: sqlite3.Connection) -> bool:
    """True for a GeoPackage (``application_id`` GPKG) or an empty file, which becomes one."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    has_tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    return app_id == APPLICATION_ID or not has_tables


def differences(conn: sqlite3.Connection) -> list[str]:
    """What the file lacks or holds in an older form, one phrase each; empty when it is up to date."""
    found: list[str] = []
    if conn.execute("PRAGMA user_version").fetchone()[0] != USER_VERSION:
        found.append(f"user_version is not {USER_VERSION}")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    found += [f"no table {t}" for t in _CORE if t not in names]
    for table in tables():
        if table.name not in names:
            found.append(f"no table {table.name}")
            continue
        columns = {r[1] for r in conn.execute(f"PRAGMA table_info({quote(table.name)})")}
        found += [f"no column {table.name}.{c}" for c in table.column_names if c not in columns]
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table.name,))}
        found += [f"no index {name} on {table.name}" for name, _ in extra_indexes(table) if name not in indexes]
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table.name,))}
        found += [f"{table.name} is not kept append-only" for name, _ in append_only_triggers(table) if name not in triggers][:1]
        if table.geometry_type:
            have = gpkg_rtree.triggers(conn, table.name)
            if set(have) != set(gpkg_rtree.trigger_sql(table.name)):
                found.append(f"R-tree triggers of {table.name} are not GeoPackage 1.3's")
    if "gpkg_extensions" in names:
        stale = conn.execute(
            "SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' AND definition != ?",
            (gpkg_rtree.EXTENSION_DEFINITION,),
        ).fetchone()[0]
        if stale:
            found.append("R-tree extension rows name another spec version")
    return found


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Bring the file to the declared schema, inside the caller's write transaction; returns what was changed."""
    changes = differences(conn)
    if not changes:
        return []
    fresh = not conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={USER_VERSION}")
    for sql in _CORE.values():
        conn.execute(sql.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
    conn.execute(
        "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS',-1,'NONE',-1,'undefined',NULL),"
        "('Undefined geographic SRS',0,'NONE',0,'undefined',NULL),"
        "('WGS 84 geodetic',4326,'EPSG',4326,?,'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')",
        (_WKT_4326,),
    )
    for table in tables():
        _migrate_table(conn, table)
    if fresh:
        logger.info("store created: %d tables", len(tables()))
        return ["created"]
    for change in changes:
        logger.info("store migrated: %s", change)
    return changes


def extra_indexes(table: Table) -> list[tuple[str, str]]:
    """Name and ``CREATE INDEX`` statement of each index ``table`` declares (named by its columns,
    so that a changed index is a new one)."""
    t = quote(table.name)
    out = []
    for names in table.indexes:
        cols = ", ".join(quote(n.lstrip("-")) + (" DESC" if n.startswith("-") else "") for n in names)
        name = f"{table.name}_by_" + "_".join(n.replace("-", "desc_") for n in names)
        out.append((name, f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {t} ({cols})"))
    for col in table.sparse_indexes:
        name = f"{table.name}_{col}_set"
        out.append((name, f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {t} ({quote(col)}) WHERE {quote(col)} IS NOT NULL"))
    return out


def append_only_triggers(table: Table) -> list[tuple[str, str]]:
    """Name and statement of the triggers that refuse UPDATE and DELETE on an append-only table."""
    if not table.append_only:
        return []
    return [
        (f"{table.name}_no_{action.lower()}",
         f"CREATE TRIGGER IF NOT EXISTS {quote(f'{table.name}_no_{action.lower()}')} BEFORE {action} ON {quote(table.name)} "
         f"BEGIN SELECT RAISE(ABORT, 'layer {table.name} is append-only'); END")
        for action in ("UPDATE", "DELETE")
    ]


def _migrate_table(conn: sqlite3.Connection, table: Table) -> None:
    _migrate_columns(conn, table)
    for _, sql in (*extra_indexes(table), *append_only_triggers(table)):
        conn.execute(sql)


def _migrate_columns(conn: sqlite3.Connection, table: Table) -> None:
    t = quote(table.name)
    existing = {row[1] for row in conn.execute(f"PRAGMA table_info({t})")}
    if not existing:
        _create_table(conn, table)
        return
    for column in table.columns:
        if column.name not in existing:
            conn.execute(f"ALTER TABLE {t} ADD COLUMN {quote(column.name)} {SQL_TYPES[column.type]}")
    if table.geometry_type and set(gpkg_rtree.triggers(conn, table.name)) != set(gpkg_rtree.trigger_sql(table.name)):
        gpkg_rtree.replace_triggers(conn, table.name)
    conn.execute(
        "UPDATE gpkg_extensions SET definition = ? WHERE table_name = ? AND extension_name = 'gpkg_rtree_index'",
        (gpkg_rtree.EXTENSION_DEFINITION, table.name),
    )


def _create_table(conn: sqlite3.Connection, table: Table) -> None:
    cols = []
    if table.content:
        cols.append(f"{FID} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL")
        if table.geometry_type:
            cols.append(f"{GEOMETRY} {table.geometry_type}")
    for c in table.columns:
        primary = " PRIMARY KEY" if not table.content and table.key == (c.name,) else ""
        cols.append(f"{quote(c.name)} {SQL_TYPES[c.type]}{primary}{' NOT NULL' if c.not_null else ''}")
    if table.content:
        cols.append(f"UNIQUE ({', '.join(quote(k) for k in table.key)})")
    conn.execute(f"CREATE TABLE {quote(table.name)} ({', '.join(cols)})")
    if not table.content:
        return
    data_type = "features" if table.geometry_type else "attributes"
    conn.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES (?,?,?,?,?)",
        (table.name, data_type, table.title, table.description, SRS_ID if table.geometry_type else None),
    )
    if table.geometry_type:
        conn.execute(f"INSERT INTO gpkg_geometry_columns VALUES (?, '{GEOMETRY}', ?, ?, 0, 0)", (table.name, table.geometry_type, SRS_ID))
        gpkg_rtree.create(conn, table.name)
