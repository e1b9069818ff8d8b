"""The PostGIS form of the store's schema (:mod:`layers.schema`): what a database schema must hold, checked and built.

The same declarations as the GeoPackage's (:mod:`layers.gpkg_schema`), in PostgreSQL's terms:
``fid`` an identity column (never reused), ``geom`` a ``geometry(<type>, 4326)`` column with a
GiST index, each field in its :data:`layers.postgis_values.PG_TYPES` type, the natural key a
UNIQUE constraint, the declared indexes under the same names, and append-only tables kept so by
triggers. Tables live in the connection's current schema (the first of its ``search_path``), so
one database can hold several stores.

:func:`differences` only reads, so a read-only connection can run it; :func:`migrate` is run by
writers only, inside their transaction (DDL is transactional in PostgreSQL): a migration lands
whole or not at all.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from layers.gpkg_schema import quote
from layers.postgis_values import column_type
from layers.schema import FID, GEOMETRY, SRS_ID, Table, tables

logger = logging.getLogger(__name__)

MAX_NAME = 63
"""PostgreSQL's identifier length (longer names are cut)."""
REFUSE_FUNCTION = "ecowatch_refuse_change"
GEOMETRY_NAMES = {"MULTIPOLYGON": "MultiPolygon", "MULTILINESTRING": "MultiLineString", "POINT": "Point"}


def _name(text: str) -> str:
    return text[:MAX_NAME]


def gist_index(table: Table) -> str:
    return _name(f"{table.name}_geom_gist")


def extra_indexes(table: Table) -> list[tuple[str, str]]:
    """Name and ``CREATE INDEX`` statement of each index ``table`` declares (the GeoPackage's names)."""
    t = quote(table.name)
    out = []
    for names in table.indexes:
        cols = ", ".join(quote(n.lstrip("-")) + (" DESC" if n.startswith("-") else "") for n in names)
        name = _name(f"{table.name}_by_" + "_".join(n.replace("-", "desc_") for n in names))
        out.append((name, f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {t} ({cols})"))
    for col in table.sparse_indexes:
        name = _name(f"{table.name}_{col}_set")
        out.append((name, f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {t} ({quote(col)}) WHERE {quote(col)} IS NOT NULL"))
    if table.geometry_type:
        out.append((gist_index(table), f"CREATE INDEX IF NOT EXISTS {quote(gist_index(table))} ON {t} USING gist ({GEOMETRY})"))
    return out


def append_only_triggers(table: Table) -> list[tuple[str, str]]:
    """Name and statement of the triggers that refuse UPDATE, DELETE and TRUNCATE on an append-only table."""
    if not table.append_only:
        return []
    out = []
    for action, each in (("UPDATE", "ROW"), ("DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
        name = _name(f"{table.name}_no_{action.lower()}")
        out.append((name, f"CREATE TRIGGER {quote(name)} BEFORE {action} ON {quote(table.name)} "
                          f"FOR EACH {each} EXECUTE FUNCTION {REFUSE_FUNCTION}()"))
    return out


def _column_type(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def current_schema(conn: psycopg.Connection[Any]) -> str:
    """The schema the store's tables live in; :class:`ValueError` when the search path names none that exists."""
    schema = conn.execute("SELECT current_schema()").fetchone()
    if schema is None or schema[0] is None:
        raise ValueError("the connection's search_path names no existing schema")
    return str(schema[0])


def has_postgis(conn: psycopg.Connection[Any]) -> bool:
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is not None


def differences(conn: psycopg.Connection[Any]) -> list[str]:
    """What the schema lacks or holds in another form, one phrase each; empty when it is up to date."""
    found: list[str] = []
    if not has_postgis(conn):
        found.append("no extension postgis")
    names = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
    triggers = {
        r[0] for r in conn.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
        )
    }
    for table in tables():
        if table.name not in names:
            found.append(f"no table {table.name}")
            continue
        columns = _column_type(conn, table.name)
        found += [f"no column {table.name}.{c}" for c in table.column_names if c not in columns]
        if table.geometry_type and columns.get(GEOMETRY) != "geometry":
            found.append(f"no geometry column {table.name}.{GEOMETRY}")
        found += [f"no index {name} on {table.name}" for name, _ in extra_indexes(table) if name not in indexes]
        found += [f"{table.name} is not kept append-only" for name, _ in append_only_triggers(table) if name not in triggers][:1]
    return found


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Bring the schema to the declared one, inside the caller's write transaction; returns what was changed."""
    changes = differences(conn)
    if not changes:
        return []
    ours = [t.name for t in tables()]
    fresh = not conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY(%s)", (ours,)
    ).fetchone()[0]  # type: ignore[index]
    if not has_postgis(conn):
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.execute(
        f"CREATE OR REPLACE FUNCTION {REFUSE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'layer % is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation'; END $$"
    )
    for table in tables():
        _migrate_table(conn, table)
    if fresh:
        logger.info("store created: %d tables", len(tables()))
        return ["created"]
    for change in changes:
        logger.info("store migrated: %s", change)
    return changes


def _migrate_table(conn: psycopg.Connection[Any], table: Table) -> None:
    t = quote(table.name)
    existing = _column_type(conn, table.name)
    if not existing:
        _create_table(conn, table)
    else:
        if table.geometry_type and GEOMETRY not in existing:
            conn.execute(f"ALTER TABLE {t} ADD COLUMN {GEOMETRY} {_geometry_type(table)}")
        for column in table.columns:
            if column.name not in existing:
                conn.execute(f"ALTER TABLE {t} ADD COLUMN {quote(column.name)} {column_type(column.type)}")
    for _, sql in extra_indexes(table):
        conn.execute(sql)
    for name, sql in append_only_triggers(table):
        conn.execute(f"DROP TRIGGER IF EXISTS {quote(name)} ON {t}")
        conn.execute(sql)


def _geometry_type(table: Table) -> str:
    return f"geometry({GEOMETRY_NAMES[str(table.geometry_type)]}, {SRS_ID})"


def _create_table(conn: psycopg.Connection[Any], table: Table) -> None:
    cols = []
    if table.content:
        cols.append(f"{FID} bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        if table.geometry_type:
            cols.append(f"{GEOMETRY} {_geometry_type(table)}")
    for c in table.columns:
        primary = " PRIMARY KEY" if not table.content and table.key == (c.name,) else ""
        cols.append(f"{quote(c.name)} {column_type(c.type)}{primary}{' NOT NULL' if c.not_null else ''}")
    if table.content:
        cols.append(f"UNIQUE ({', '.join(quote(k) for k in table.key)})")
    conn.execute(f"CREATE TABLE {quote(table.name)} ({', '.join(cols)})")
    comment = table.description or table.title
    if comment:
        conn.execute(f"COMMENT ON TABLE {quote(table.name)} IS {_literal(comment)}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
