"""GeoPackage geometry blobs (OGC 12-128r18 §2.1.3): a small header with an envelope, then WKB.

Encoding and decoding are vectorised through shapely's WKB functions; only the fixed-size
header is packed per geometry.
"""

from __future__ import annotations

import struct

import numpy as np
import shapely
from numpy.typing import NDArray

_HEADER = struct.Struct("<2sBBi4d")  # magic, version, flags, srs_id, minx, maxx, miny, maxy
_EMPTY_HEADER = struct.Struct("<2sBBi")
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_LITTLE_ENDIAN = 0x01
_ENVELOPE_XY = 0x02  # envelope indicator 1, shifted left by one
_EMPTY = 0x10


def encode(geoms: NDArray[np.object_], srs_id: int) -> list[bytes | None]:
    """GeoPackage blobs for an array of shapely geometries (``None`` stays ``None``)."""
    geoms = np.asarray(geoms, dtype=object)
    out: list[bytes | None] = [None] * len(geoms)
    present = ~shapely.is_missing(geoms)
    if not present.any():
        return out
    idx = np.flatnonzero(present)
    sub = geoms[idx]
    wkb = shapely.to_wkb(sub, byte_order=1, flavor="iso")
    bounds = shapely.bounds(sub)
    empty = shapely.is_empty(sub)
    for i, blob, (minx, miny, maxx, maxy), is_empty in zip(idx, wkb, bounds, empty, strict=True):
        if is_empty:
            head = _EMPTY_HEADER.pack(b"GP", 0, _LITTLE_ENDIAN | _EMPTY, srs_id)
        else:
            head = _HEADER.pack(b"GP", 0, _LITTLE_ENDIAN | _ENVELOPE_XY, srs_id, minx, maxx, miny, maxy)
        out[i] = head + blob
    return out


def header_length(blob: bytes) -> int:
    """Length of a blob's header in bytes; ``ValueError`` when it is not a GeoPackage blob."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob (no 'GP' magic)")
    indicator = (blob[3] >> 1) & 0x07
    if indicator not in _ENVELOPE_BYTES:
        raise ValueError(f"bad envelope indicator {indicator}")
    return 8 + _ENVELOPE_BYTES[indicator]


def decode(blobs: list[bytes | None]) -> NDArray[np.object_]:
    """Shapely geometries for GeoPackage blobs (``None`` for NULL)."""
    wkb = [None if b is None else bytes(b[header_length(b):]) for b in blobs]
    return np.asarray(shapely.from_wkb(wkb), dtype=object)


def is_empty(blob: bytes | None) -> bool:
    """``ST_IsEmpty`` for the GeoPackage R-tree triggers."""
    if blob is None:
        return True
    return bool(blob[3] & _EMPTY)


def envelope(blob: bytes) -> tuple[float, float, float, float]:
    """(minx, maxx, miny, maxy) of a blob, from its header or else from its geometry."""
    if ((blob[3] >> 1) & 0x07) != 0:
        return struct.unpack_from("<4d", blob, 8)
    minx, miny, maxx, maxy = shapely.bounds(shapely.from_wkb(blob[header_length(blob):]))
    return float(minx), float(maxx), float(miny), float(maxy)
