"""Exports of a layer as a role may see it, with the map's filters, in five formats, with provenance.

Every export reads through :func:`layers.redaction.read_redacted` (the one gate, as the map and
the OGC API do) and writes through :mod:`layers.export_formats`, whose values are the one GeoJSON
writer's, so an export, the map and the API say the same of a feature. Filters are the map's
(:mod:`layers.filters`, :meth:`~layers.filters.ClearingFilter.where_for`), equality on fields the
role sees (``--where``), and a box. Each file carries its provenance: layer, role, when it was
made, the filters, the sources (the rows' ``source`` values and the layer's recorded sources and
licences), whether the layer is synthetic, CRS and coordinate precision. A file is created with
mode 0600 (:func:`layers.files.atomic_path`): an export of law-enforcement layers is for the one
who made it until they choose to share it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from layers.catalog import Layer, get_layer
from layers.errors import LayerError
from layers.export_formats import FORMATS, MEDIA_TYPES, WRITERS, write_gpkg
from layers.files import atomic_path
from layers.filters import ClearingFilter
from layers.geojson import COORDINATE_DECIMALS
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

__all__ = ["FORMATS", "MEDIA_TYPES", "export_layer", "parse_where", "provenance"]

GENERATOR = "ecowatch"
_ATTRIBUTION_LICENCES = "each source's own terms (see the sources; README 'Data sources and licences')"


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


def provenance(
    store: Store, layer: Layer, src: Layer, frame: pd.DataFrame, access: Access, *,
    filters: Sequence[str], generated_at: dt.datetime,
) -> dict[str, Any]:
    """What an exported file says of itself (see the module docstring)."""
    info = store.layer_info(src.name)
    sources = sorted({str(v) for v in frame["source"].dropna().tolist()}) if "source" in frame.columns else []
    recorded = [str(s) for s in info.get("sources", [])]
    return {
        "layer": layer.name,
        "title": layer.title,
        "role": access.role,
        "generated_at": generated_at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
        "generator": GENERATOR,
        "filters": list(filters),
        "features": len(frame),
        "crs": "CRS84 (WGS 84 longitude, latitude)",
        "coordinate_precision": f"{COORDINATE_DECIMALS} decimal places (about 1 cm)"
        + ("; seizures generalised to grid-cell centres" if access.generalised and src.generalise_deg else ""),
        "synthetic": bool(info.get("synthetic", False)),
        "sources": sorted(set(sources) | set(recorded)),
        "licences": [str(v) for v in info.get("licences", [])] or [_ATTRIBUTION_LICENCES],
    }


def export_layer(
    store: Store,
    layer_name: str,
    output: Path | None,
    *,
    fmt: str = "geojson",
    bbox: tuple[float, float, float, float] | None = None,
    where: Mapping[str, Any] | None = None,
    filters: ClearingFilter | None = None,
    role: Access | Role | str,
    generated_at: dt.datetime | None = None,
) -> int:
    """Write a layer (or the part in ``bbox`` / matching ``filters`` and ``where``) to ``output``
    (stdout when ``None``, for the text formats), as ``role`` may see it; returns the number of features.

    ``role`` is an :class:`~layers.redaction.Access` (a role and its id key); a bare role name
    is enough for the roles that see exact locations.

    Raises
    ------
    LayerError
        An unknown layer or format, a layer the role may not read, a filter on a field it does
        not see, or a binary format asked for standard output.
    OSError
        When the output cannot be written (no partial file is left).
    """
    if fmt not in FORMATS:
        raise LayerError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    try:
        layer = get_layer(layer_name)
    except KeyError as err:
        raise LayerError(str(err.args[0])) from None
    access = as_access(role)
    src = source_layer(layer, access)
    hidden = set(src.field_names) - {f.name for f in visible_fields(src, src.field_names, access.role)}
    if hidden & set(where or {}):
        raise LayerError(f"role {access.role!r} cannot filter on {sorted(hidden & set(where or {}))}")
    conditions = {**(filters.where_for(layer.name) if filters is not None else {}), **(where or {})}
    frame = read_redacted(store, layer, access, bbox=bbox if src.geometry_type else None, where=conditions or None)
    fields = [f for f in src.fields if f.name in frame.columns]
    described = [f"{k}={v}" for k, v in (filters.params if filters is not None else ())]
    described += [f"{k}={v}" for k, v in (where or {}).items()] + ([f"bbox={','.join(f'{v:g}' for v in bbox)}"] if bbox else [])
    about = provenance(store, layer, src, frame, access, filters=described, generated_at=generated_at or dt.datetime.now(dt.UTC))
    if output is None:
        if fmt in ("gpkg", "xlsx"):
            raise LayerError(f"a {fmt} export needs a file (-o FILE)")
        n = WRITERS[fmt](sys.stdout.buffer, frame, fields, about)
        sys.stdout.buffer.flush()
    else:
        with atomic_path(output, mode=0o600) as tmp:
            if fmt == "gpkg":
                # GDAL wants a .gpkg name and makes the file itself: in a folder only we can open (0700)
                with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=".export-") as folder:
                    inner = Path(folder) / f"{layer.name}.gpkg"
                    n = write_gpkg(inner, frame, fields, about, layer.name)
                    os.chmod(inner, 0o600)
                    os.replace(inner, tmp)
            else:
                with tmp.open("wb") as fh:
                    n = WRITERS[fmt](fh, frame, fields, about)
    logger.info("export %s as %s (%s): %d feature(s)", layer.name, access.role, fmt, n)
    return n
