"""Exports of a layer as a role may see it: RFC 7946 GeoJSON through the one writer.

Every export reads through :func:`layers.redaction.read_redacted` and writes through
:mod:`layers.geojson`, like the API, so an export and the map say the same of a feature. A file
is created with mode 0600 (:func:`layers.files.atomic_path`): an export of law-enforcement layers is
for the one who made it until they choose to share it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from layers.catalog import get_layer
from layers.errors import LayerError
from layers.files import atomic_path
from layers.geojson import write_collection
from layers.redaction import (
    Access,
    Role,
    as_access,
    check_role,
    read_redacted,
    source_layer,
    visible_fields,
)
from layers.store import Store

logger = logging.getLogger(__name__)

FORMATS = ("geojson",)


def parse_where(layer_name: str, pairs: tuple[str, ...] | list[str], role: Role | str) -> dict[str, str]:
    """``FIELD=VALUE`` filters on the fields ``role`` may see (a hidden field cannot be probed by filtering).

    For a role that reads another table in place of the layer (links as counts per clearing),
    the fields are that table's.
    """
    who = check_role(role)
    try:
        layer = source_layer(get_layer(layer_name), who)
    except KeyError as err:
        raise ValueError(str(err.args[0])) from None
    names = [f.name for f in visible_fields(layer, layer.field_names, who)]
    where: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in names:
            raise ValueError(f"--where {pair!r}: expected FIELD=VALUE with FIELD one of {', '.join(names)}")
        where[name] = value
    return where


def export_layer(
    store: Store,
    layer_name: str,
    output: Path | None,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    where: dict[str, str] | None = None,
    role: Access | Role | str,
) -> int:
    """Write a layer (or the part in ``bbox`` / matching ``where``) to ``output`` (stdout when ``None``),
    as ``role`` may see it (:func:`layers.redaction.read_redacted`); returns the number of features.

    ``role`` is an :class:`~layers.redaction.Access` (a role and its id key); a bare role name
    is enough for the roles that see exact locations.

    Raises
    ------
    LayerError
        An unknown layer, a layer the role may not read, or a filter on a field it does not see.
    OSError
        When the output cannot be written (no partial file is left).
    """
    try:
        layer = get_layer(layer_name)
    except KeyError as err:
        raise LayerError(str(err.args[0])) from None
    access = as_access(role)
    src = source_layer(layer, access)
    hidden = set(src.field_names) - {f.name for f in visible_fields(src, src.field_names, access.role)}
    if hidden & set(where or {}):
        raise LayerError(f"role {access.role!r} cannot filter on {sorted(hidden & set(where or {}))}")
    frame = read_redacted(store, layer, access, bbox=bbox if src.geometry_type else None, where=where)
    fields = [f for f in src.fields if f.name in frame.columns]
    if output is None:
        n = write_collection(sys.stdout.buffer, frame, fields)
        sys.stdout.buffer.flush()
    else:
        with atomic_path(output, mode=0o600) as tmp, tmp.open("wb") as fh:
            n = write_collection(fh, frame, fields)
    logger.info("export %s as %s: %d feature(s)", layer.name, access.role, n)
    return n
